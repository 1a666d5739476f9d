{#-
    One row per spelling of a Region or Category value as delivered (trimmed): the value it
    is normalised to. Spellings that differ only in letter case are one value, written as its
    most frequent spelling (ties: the first in binary order), so `south america` and
    `South America` become one region. Staging applies this mapping; quarantine tables keep
    the spelling as delivered.
-#}

with customers as (
    select * from {{ ref('stg_shop__customers_checked') }}
),

products as (
    select * from {{ ref('stg_shop__products_checked') }}
),

spellings_counted as (
    select
        'Customers' as raw_table,
        'Region' as raw_column,
        region as delivered_value,
        count(*) as row_count
    from customers
    where region is not null
    group by region

    union all

    select
        'Products' as raw_table,
        'Category' as raw_column,
        category as delivered_value,
        count(*) as row_count
    from products
    where category is not null
    group by category
),

spellings_ranked as (
    select
        spellings_counted.*,
        lower(spellings_counted.delivered_value) as value_key,
        row_number() over (
            partition by
                spellings_counted.raw_table,
                spellings_counted.raw_column,
                lower(spellings_counted.delivered_value)
            order by spellings_counted.row_count desc, spellings_counted.delivered_value asc
        ) as spelling_rank
    from spellings_counted
),

canonical_spellings as (
    select
        raw_table,
        raw_column,
        value_key,
        delivered_value as normalised_value
    from spellings_ranked
    where spelling_rank = 1
),

final as (
    select
        spellings_ranked.raw_table,
        spellings_ranked.raw_column,
        spellings_ranked.delivered_value,
        canonical_spellings.normalised_value,
        cast(spellings_ranked.row_count as {{ dbt.type_bigint() }}) as row_count
    from spellings_ranked
    inner join canonical_spellings
        on
            spellings_ranked.raw_table = canonical_spellings.raw_table
            and spellings_ranked.raw_column = canonical_spellings.raw_column
            and spellings_ranked.value_key = canonical_spellings.value_key
)

select * from final
