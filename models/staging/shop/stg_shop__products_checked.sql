{{ config(materialized='table') }}

with source as (
    select * from {{ shop_source('Products') }}
),

renamed as (
    select
        source_file,
        source_row_number,
        {{ clean_text('ProductID') }} as product_id,
        {{ clean_text('ProductName') }} as product_name,
        {{ clean_text('Category') }} as category,
        {{ clean_text('Price') }} as price_text
    from source
),

typed as (
    select
        renamed.*,
        {{ dbt.safe_cast('price_text', dbt.type_float()) }} as price,
        min(renamed.source_row_number)
            over (partition by renamed.product_id)
            as first_row_of_product_id
    from renamed
),

checked as (
    select
        source_file,
        source_row_number,
        product_id,
        product_name,
        category,
        price_text,
        price,
        nullif(concat_ws(
            '; ',
            case when product_id is null then 'missing ProductID' end,
            case
                when product_id is not null and source_row_number > first_row_of_product_id
                    then
                        'duplicate ProductID (first at row '
                        || {{ dbt.cast('first_row_of_product_id', dbt.type_string()) }} || ')'
            end,
            case when category is null then 'missing Category' end,
            case when price_text is null then 'missing Price' end,
            case when price_text is not null and price is null then 'unparseable Price' end,
            case when price <= 0 then 'Price not positive' end
        ), '') as quarantine_reason
    from typed
)

select * from checked
