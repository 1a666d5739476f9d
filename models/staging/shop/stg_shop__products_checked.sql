{{ config(
    materialized='table',
    post_hook="{{ reject_unusable_input('Products', [
        ('Price', 'price_text', 'price_number', 'a number such as 12.50'),
    ]) }}",
) }}

{#-
    The Products file read once: every row, typed, with every rule it broke. Duplicate
    product names with different prices are legitimate (distinct ProductIDs) and stay.
-#}

with source as (
    select * from {{ ref('base_shop__products') }}
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

duplicates as (
    {{ duplicate_keys('renamed', 'product_id', ['product_name', 'category', 'price_text']) }}
),

typed as (
    select
        renamed.*,
        {{ number_problem(
            'renamed.price_text', 'Price', shop_column_meta('Products', 'Price', 'maximum')
        ) }} as price_problem,
        {{ duplicate_problem('renamed', 'product_id', 'ProductID') }} as duplicate_reason
    from renamed
    left join duplicates
        on renamed.product_id = duplicates.product_id
),

checked as (
    select
        source_file,
        source_row_number,
        product_id,
        product_name,
        category,
        price_text,
        {{ dbt.safe_cast('price_text', dbt.type_float()) }} as price_number,
        case
            when price_problem is null then {{ dbt.safe_cast('price_text', type_money()) }}
        end as price,
        nullif(concat_ws(
            '; ',
            case when product_id is null then 'missing ProductID' end,
            duplicate_reason,
            case when category is null then 'missing Category' end,
            price_problem
        ), '') as quarantine_reason
    from typed
)

select * from checked
