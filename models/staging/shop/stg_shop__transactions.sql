with checked as (
    select * from {{ ref('stg_shop__transactions_checked') }}
),

trusted as (
    select
        transaction_id,
        customer_id,
        product_id,
        transaction_at,
        cast(transaction_at as date) as transaction_date,
        quantity,
        -- a unit price is shown, never summed: double, like every money column of the marts
        cast(price as {{ dbt.type_float() }}) as price,
        -- summed by every mart: an exact decimal, so the sum does not depend on row order
        total_value,
        is_before_signup,
        signup_date,
        region,
        product_name,
        category
    from checked
    where quarantine_reason is null
)

select * from trusted
