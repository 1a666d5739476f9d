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
        price,
        total_value,
        is_before_signup
    from checked
    where quarantine_reason is null
)

select * from trusted
