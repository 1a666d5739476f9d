with checked as (
    select * from {{ ref('stg_shop__customers_checked') }}
),

trusted as (
    select
        customer_id,
        customer_name,
        region,
        signup_date
    from checked
    where quarantine_reason is null
)

select * from trusted
