{#-
    Revenue is the same whichever way it is cut: trusted transactions, months, months by
    region, months by category, regions, products and customers must all sum to one total.
    Returns one row per mart whose total differs by more than a cent.
-#}

with totals as (
    select 'stg_shop__transactions' as cut, sum(total_value) as revenue
    from {{ ref('stg_shop__transactions') }}
    union all
    select 'monthly_sales', sum(revenue) from {{ ref('monthly_sales') }}
    union all
    select 'monthly_sales_by_region', sum(revenue) from {{ ref('monthly_sales_by_region') }}
    union all
    select 'monthly_sales_by_category', sum(revenue) from {{ ref('monthly_sales_by_category') }}
    union all
    select 'regional_sales', sum(revenue) from {{ ref('regional_sales') }}
    union all
    select 'product_sales', sum(revenue) from {{ ref('product_sales') }}
    union all
    select 'category_sales', sum(revenue) from {{ ref('category_sales') }}
    union all
    select 'customers', sum(total_revenue) from {{ ref('customers') }}
),

reference as (
    select revenue from totals where cut = 'stg_shop__transactions'
)

select totals.cut, totals.revenue, reference.revenue as expected_revenue
from totals
cross join reference
where abs(totals.revenue - reference.revenue) > 0.01
