-- depends_on: {{ ref('stg_shop__products') }}

{#-
    One row per customer, including customers with no purchases: the numeric input of the
    segmentation and lookalike models. One spend-share column per category, named safely by
    `spend_share_columns()` (the `spend_share_columns` table maps category -> column); each
    category reaches SQL only as a quoted literal. Shares divide exact (decimal) sums.
-#}

{%- set share_columns = spend_share_columns() %}

with customers as (
    select * from {{ ref('customers') }}
),

-- already aggregated to customer x category (exact decimal sums, so summing them again
-- gives the same totals as summing the transactions)
customer_category_sales as (
    select * from {{ ref('int_customer_category_sales') }}
),

spend_pivoted_to_customer as (
    select
        customer_id,
        {% for column in share_columns -%}
            sum(case when category = {{ quoted_literal(column.category) }} then revenue else 0 end)
                as category_{{ loop.index }}_revenue,
        {% endfor -%}
        sum(revenue) as customer_revenue
    from customer_category_sales
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.region,
        customers.signup_date,
        customers.has_purchases,
        customers.tenure_days,
        customers.transaction_count,
        customers.total_revenue,
        customers.total_quantity,
        customers.average_basket_value as average_transaction_value,
        customers.average_basket_size,
        customers.distinct_products,
        customers.distinct_categories,
        customers.active_months,
        coalesce(customers.recency_days, customers.tenure_days) as recency_days{% if share_columns %},
        {% endif %}
        {% for column in share_columns -%}
        {{ ratio(
            'coalesce(spend_pivoted_to_customer.category_' ~ loop.index ~ '_revenue, 0)',
            'spend_pivoted_to_customer.customer_revenue'
        ) }} as {{ column.column_name }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customers
    left join spend_pivoted_to_customer
        on customers.customer_id = spend_pivoted_to_customer.customer_id
)

select * from final
