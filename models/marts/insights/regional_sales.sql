with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

customer_category_sales as (
    select * from {{ ref('int_customer_category_sales') }}
),

customers_aggregated_to_region as (
    select
        region,
        count(*) as customers
    from customers
    group by region
),

sales_aggregated_to_region as (
    select
        region,
        {{ sum_as_bigint('transaction_count') }} as transactions,
        {{ sum_as_bigint('quantity') }} as units,
        sum(revenue) as revenue,
        count(distinct customer_id) as purchasing_customers
    from customer_category_sales
    group by region
),

total_revenue as (
    select sum(revenue) as revenue from customer_category_sales
),

final as (
    select
        customers_aggregated_to_region.region,
        customers_aggregated_to_region.customers,
        coalesce(sales_aggregated_to_region.purchasing_customers, 0) as purchasing_customers,
        coalesce(sales_aggregated_to_region.transactions, 0) as transactions,
        coalesce(sales_aggregated_to_region.units, 0) as units,
        {{ money('coalesce(sales_aggregated_to_region.revenue, 0)') }} as revenue,
        {{ money(ratio('sales_aggregated_to_region.revenue', 'sales_aggregated_to_region.transactions')) }}
            as average_transaction_value,
        {{ money(ratio('sales_aggregated_to_region.revenue', 'sales_aggregated_to_region.purchasing_customers')) }}
            as average_revenue_per_customer,
        {{ ratio('sales_aggregated_to_region.revenue', 'total_revenue.revenue') }} as revenue_share,
        cast(rank() over (
            order by coalesce(sales_aggregated_to_region.revenue, 0) desc
        ) as integer) as revenue_rank
    from customers_aggregated_to_region
    left join sales_aggregated_to_region
        on customers_aggregated_to_region.region = sales_aggregated_to_region.region
    cross join total_revenue
)

select * from final
order by revenue_rank, region
