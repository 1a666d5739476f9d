with checked as (
    select * from {{ ref('stg_shop__products_checked') }}
),

quarantined as (
    select
        source_file,
        source_row_number,
        product_id,
        product_name,
        category,
        price_text,
        quarantine_reason
    from checked
    where quarantine_reason is not null
)

select * from quarantined
