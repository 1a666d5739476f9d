{#-
    Trusted sales aggregated once to customer x category: the 10M-row scan that the customer
    marts and the regional mart share, instead of each grouping all transactions again.
    A product has one category, so distinct products add up across a customer's categories.
-#}

with transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

sales_aggregated_to_customer_and_category as (
    select
        customer_id,
        category,
        min(region) as region,
        count(*) as transaction_count,
        cast(sum(total_value) as {{ type_money() }}) as revenue,
        {{ sum_as_bigint('quantity') }} as quantity,
        count(distinct product_id) as distinct_products,
        min(transaction_date) as first_purchase_date,
        max(transaction_date) as last_purchase_date,
        {{ sum_as_bigint('case when is_before_signup then 1 else 0 end') }}
            as transactions_before_signup
    from transactions
    group by customer_id, category
)

select * from sales_aggregated_to_customer_and_category
