-- How often do customers buy? Customers and revenue per purchase-frequency band.
with customers as (
    select * from {{ ref('customers') }}
)

select
    purchase_frequency_band,
    count(*) as customers,
    sum(total_revenue) as revenue,
    round(avg(average_days_between_purchases), 1) as average_days_between_purchases
from customers
group by purchase_frequency_band
order by min(transaction_count)
