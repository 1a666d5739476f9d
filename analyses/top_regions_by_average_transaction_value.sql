-- Which regions spend the most per transaction, and how many of their customers buy at all?
with regional_sales as (
    select * from {{ ref('regional_sales') }}
)

select
    region,
    average_transaction_value,
    average_revenue_per_customer,
    purchasing_customers,
    customers,
    round(100.0 * purchasing_customers / customers, 1) as percent_of_customers_buying
from regional_sales
order by average_transaction_value desc
