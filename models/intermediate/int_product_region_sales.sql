{#-
    Trusted sales aggregated once to product x region: the 10M-row scan that the products
    mart and product_sales share. A customer has one region, so distinct customers add up
    across a product's regions.
-#}

with transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

sales_aggregated_to_product_and_region as (
    select
        product_id,
        region,
        count(*) as transaction_count,
        cast(sum(total_value) as {{ type_money() }}) as revenue,
        {{ sum_as_bigint('quantity') }} as quantity,
        count(distinct customer_id) as customers
    from transactions
    group by product_id, region
)

select * from sales_aggregated_to_product_and_region
