-- The three strongest and three weakest months, with month-over-month growth.
with monthly_sales as (
    select * from {{ ref('monthly_sales') }}
),

ranked as (
    select
        sales_month,
        revenue,
        revenue_growth,
        active_customers,
        rank() over (order by revenue desc) as best_rank,
        rank() over (order by revenue asc) as worst_rank
    from monthly_sales
)

select
    sales_month,
    revenue,
    active_customers,
    round(100 * revenue_growth, 1) as growth_percent,
    case when best_rank <= 3 then 'best' else 'worst' end as verdict
from ranked
where best_rank <= 3 or worst_rank <= 3
order by revenue desc
