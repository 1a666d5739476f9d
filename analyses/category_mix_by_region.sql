-- Share of each region's revenue by product category: where does each category sell best?
with category_sales as (
    select * from {{ ref('category_sales') }}
)

select
    region,
    category,
    revenue,
    revenue_rank_in_region,
    round(100 * revenue_share_of_region, 1) as percent_of_region_revenue
from category_sales
order by region asc, revenue_rank_in_region asc
