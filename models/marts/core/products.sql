with products as (
    select * from {{ ref('stg_shop__products') }}
),

-- already aggregated to product x region (exact sums; a customer has one region, so
-- the regions' distinct customers add up to the product's)
product_region_sales as (
    select * from {{ ref('int_product_region_sales') }}
),

sales_aggregated_to_product as (
    select
        product_id,
        sum(revenue) as revenue,
        {{ sum_as_bigint('quantity') }} as units,
        {{ sum_as_bigint('transaction_count') }} as transactions,
        {{ sum_as_bigint('customers') }} as customers
    from product_region_sales
    group by product_id
),

final as (
    select
        products.product_id,
        products.product_name,
        products.category,
        products.price,
        {{ money('coalesce(sales_aggregated_to_product.revenue, 0)') }} as revenue,
        coalesce(sales_aggregated_to_product.units, 0) as units,
        coalesce(sales_aggregated_to_product.transactions, 0) as transactions,
        coalesce(sales_aggregated_to_product.customers, 0) as customers,
        cast(rank() over (
            order by coalesce(sales_aggregated_to_product.revenue, 0) desc
        ) as integer) as revenue_rank,
        cast(rank() over (
            partition by products.category
            order by coalesce(sales_aggregated_to_product.revenue, 0) desc
        ) as integer) as revenue_rank_in_category
    from products
    left join sales_aggregated_to_product
        on products.product_id = sales_aggregated_to_product.product_id
)

select * from final
