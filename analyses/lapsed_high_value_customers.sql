-- Customers worth winning back: above-median lifetime revenue, no purchase in 90+ days.
with customers as (
    select * from {{ ref('customers') }}
),

median_revenue as (
    select median(total_revenue) as revenue
    from customers
    where has_purchases
)

select
    customers.customer_id,
    customers.customer_name,
    customers.region,
    customers.total_revenue,
    customers.transaction_count,
    customers.last_purchase_date,
    customers.recency_days,
    customers.favourite_category
from customers
cross join median_revenue
where
    customers.total_revenue > median_revenue.revenue
    and customers.recency_days >= 90
order by customers.total_revenue desc
