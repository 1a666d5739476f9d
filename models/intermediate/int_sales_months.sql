{#-
    One row per calendar month from the first to the last month with a sale, so monthly
    marts show months without sales as zeros. A portable spine: cross-joined digits and
    dbt.dateadd, no recursive CTE or engine-specific series function (up to 10,000 months).
-#}

with transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

bounds as (
    select
        min(sales_month) as first_month,
        max(sales_month) as last_month
    from transactions
),

digits as (
    {% for digit in range(10) -%}
        select {{ digit }} as digit{% if not loop.last %}
            union all {% endif %}
    {%- endfor %}
),

month_offsets as (
    select
        thousands.digit * 1000 + hundreds.digit * 100 + tens.digit * 10 + units.digit
            as month_offset
    from digits as units
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
),

months as (
    select
        cast({{ dbt.dateadd('month', 'month_offsets.month_offset', 'bounds.first_month') }} as date)
            as sales_month
    from month_offsets
    cross join bounds
    where
        month_offsets.month_offset
        <= {{ dbt.datediff('bounds.first_month', 'bounds.last_month', 'month') }}
)

select * from months
