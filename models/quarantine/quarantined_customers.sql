with checked as (
    select * from {{ ref('stg_shop__customers_checked') }}
),

quarantined as (
    select
        source_file,
        source_row_number,
        customer_id,
        customer_name,
        region,
        signup_date_text,
        quarantine_reason
    from checked
    where quarantine_reason is not null
)

select * from quarantined
