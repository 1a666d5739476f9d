with checked as (
    select * from {{ ref('stg_shop__transactions_checked') }}
),

quarantined as (
    select
        source_file,
        source_row_number,
        transaction_id,
        customer_id,
        product_id,
        transaction_at_text,
        quantity_text,
        price_text,
        total_value_text,
        quarantine_reason
    from checked
    where quarantine_reason is not null
)

select * from quarantined
