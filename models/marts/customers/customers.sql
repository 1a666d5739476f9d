with customers as (
    select * from {{ ref('stg_shop__customers') }}
),

transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

purchases_aggregated_to_customer as (
    select
        customer_id,
        count(*) as transaction_count,
        sum(total_value) as total_revenue,
        {{ sum_as_bigint('quantity') }} as total_quantity,
        count(distinct product_id) as distinct_products,
        count(distinct category) as distinct_categories,
        count(distinct sales_month) as active_months,
        min(transaction_date) as first_purchase_date,
        max(transaction_date) as last_purchase_date,
        {{ sum_as_bigint('case when is_before_signup then 1 else 0 end') }} as transactions_before_signup
    from transactions
    group by customer_id
),

spend_by_customer_and_category as (
    select
        customer_id,
        category,
        sum(total_value) as category_revenue
    from transactions
    group by customer_id, category
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
                order by category_revenue desc, category asc
            ) as category_rank
        from spend_by_customer_and_category
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
        coalesce(purchases_aggregated_to_customer.active_months, 0) as active_months,
        coalesce(purchases_aggregated_to_customer.transactions_before_signup, 0)
            as transactions_before_signup,
        purchases_aggregated_to_customer.first_purchase_date,
        purchases_aggregated_to_customer.last_purchase_date,
        favourite_categories.favourite_category,
        {{ as_of_date() }} as as_of_date
    from customers
    left join purchases_aggregated_to_customer
        on customers.customer_id = purchases_aggregated_to_customer.customer_id
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
