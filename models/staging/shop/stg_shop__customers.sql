with checked as (
    select * from {{ ref('stg_shop__customers_checked') }}
),

spellings as (
    select * from {{ ref('input_value_spellings') }}
    where raw_table = 'Customers' and raw_column = 'Region'
),

trusted as (
    select
        checked.customer_id,
        checked.customer_name,
        spellings.normalised_value as region,
        checked.signup_date
    from checked
    inner join spellings
        on checked.region = spellings.delivered_value
    where checked.quarantine_reason is null
)

select * from trusted
