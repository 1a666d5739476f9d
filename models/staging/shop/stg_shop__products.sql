with checked as (
    select * from {{ ref('stg_shop__products_checked') }}
),

trusted as (
    select
        product_id,
        product_name,
        category,
        price
    from checked
    where quarantine_reason is null
)

select * from trusted
