-- depends_on: {{ ref('stg_shop__products') }}

{#-
    One row per customer, including customers with no purchases: the numeric input of the
    segmentation and lookalike models. One `spend_share_<category>` column per category.
-#}

{%- set categories = product_categories() %}

with customers as (
    select * from {{ ref('customers') }}
),

transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

spend_pivoted_to_customer as (
    select
        customer_id,
        {% for category in categories -%}
            sum(case when category = '{{ category }}' then total_value else 0 end)
                as {{ category_slug(category) }}_revenue{% if not loop.last %},{% endif %}
        {% endfor %}
    from transactions
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
        coalesce(customers.recency_days, customers.tenure_days) as recency_days{% if categories %},
        {% endif %}
        {% for category in categories -%}
        {{ ratio(
            'coalesce(spend_pivoted_to_customer.' ~ category_slug(category) ~ '_revenue, 0)',
            'customers.total_revenue'
        ) }} as spend_share_{{ category_slug(category) }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customers
    left join spend_pivoted_to_customer
        on customers.customer_id = spend_pivoted_to_customer.customer_id
)

select * from final
