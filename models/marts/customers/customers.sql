with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

customer_category_sales as (
    select * from {{ ref('int_customer_category_sales') }}
),

transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

purchases_aggregated_to_customer as (
    select
        customer_id,
        {{ sum_as_bigint('transaction_count') }} as transaction_count,
        sum(revenue) as total_revenue,
        {{ sum_as_bigint('quantity') }} as total_quantity,
        {{ sum_as_bigint('distinct_products') }} as distinct_products,
        count(category) as distinct_categories,
        min(first_purchase_date) as first_purchase_date,
        max(last_purchase_date) as last_purchase_date,
        {{ sum_as_bigint('transactions_before_signup') }} as transactions_before_signup
    from customer_category_sales
    group by customer_id
),

-- The one per-customer figure that does not add up over categories.
active_months_of_customer as (
    select
        customer_id,
        count(*) as active_months
    from (
        select distinct
            customer_id,
            sales_month
        from transactions
    ) as customer_months
    group by customer_id
),

favourite_categories as (
    select
        customer_id,
        category as favourite_category
    from (
        select
            customer_id,
            category,
            row_number() over (
                partition by customer_id
                order by revenue desc, category asc
            ) as category_rank
        from customer_category_sales
    ) as ranked_categories
    where category_rank = 1
),

customers_joined_to_purchases as (
    select
        customers.customer_id,
        customers.customer_name,
        customers.region,
        customers.signup_date,
        coalesce(purchases_aggregated_to_customer.transaction_count, 0) as transaction_count,
        coalesce(purchases_aggregated_to_customer.total_revenue, 0) as total_revenue,
        coalesce(purchases_aggregated_to_customer.total_quantity, 0) as total_quantity,
        coalesce(purchases_aggregated_to_customer.distinct_products, 0) as distinct_products,
        coalesce(purchases_aggregated_to_customer.distinct_categories, 0) as distinct_categories,
        coalesce(active_months_of_customer.active_months, 0) as active_months,
        coalesce(purchases_aggregated_to_customer.transactions_before_signup, 0)
            as transactions_before_signup,
        purchases_aggregated_to_customer.first_purchase_date,
        purchases_aggregated_to_customer.last_purchase_date,
        favourite_categories.favourite_category,
        {{ as_of_date() }} as as_of_date
    from customers
    left join purchases_aggregated_to_customer
        on customers.customer_id = purchases_aggregated_to_customer.customer_id
    left join active_months_of_customer
        on customers.customer_id = active_months_of_customer.customer_id
    left join favourite_categories
        on customers.customer_id = favourite_categories.customer_id
),

final as (
    select
        customer_id,
        customer_name,
        region,
        signup_date,
        transaction_count > 0 as has_purchases,
        transaction_count,
        {{ money('total_revenue') }} as total_revenue,
        total_quantity,
        distinct_products,
        distinct_categories,
        active_months,
        first_purchase_date,
        last_purchase_date,
        {{ dbt.datediff('last_purchase_date', 'as_of_date', 'day') }}
            as recency_days,
        {{ dbt.datediff('signup_date', 'as_of_date', 'day') }} as tenure_days,
        cast(
            {{ dbt.datediff('first_purchase_date', 'last_purchase_date', 'day') }}
            as {{ dbt.type_float() }}
        ) / nullif(transaction_count - 1, 0) as average_days_between_purchases,
        {{ money(ratio('total_revenue', 'transaction_count')) }} as average_basket_value,
        {{ ratio('total_quantity', 'transaction_count') }} as average_basket_size,
        favourite_category,
        case
            when transaction_count = 0 then '0 purchases'
            when transaction_count = 1 then '1 purchase'
            when transaction_count <= 3 then '2-3 purchases'
            when transaction_count <= 6 then '4-6 purchases'
            else '7+ purchases'
        end as purchase_frequency_band,
        transactions_before_signup,
        as_of_date
    from customers_joined_to_purchases
)

select * from final
