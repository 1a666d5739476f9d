with checked as (
    select * from {{ ref('stg_shop__products_checked') }}
),

spellings as (
    select * from {{ ref('input_value_spellings') }}
    where raw_table = 'Products' and raw_column = 'Category'
),

trusted as (
    select
        checked.product_id,
        checked.product_name,
        spellings.normalised_value as category,
        cast(checked.price as {{ dbt.type_float() }}) as price
    from checked
    inner join spellings
        on checked.category = spellings.delivered_value
    where checked.quarantine_reason is null
)

select * from trusted
