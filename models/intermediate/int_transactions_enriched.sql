{#-
    Trusted transactions with customer region and product category: the base of every mart.
    A view: the region, signup date, name and category were looked up once in
    stg_shop__transactions_checked (which joins customers and products to validate each
    line anyway), so this adds only the month and costs no second 10M-row table.
-#}

with transactions as (
    select * from {{ ref('stg_shop__transactions') }}
),

transactions_with_month as (
    select
        transaction_id,
        customer_id,
        product_id,
        transaction_at,
        transaction_date,
        {{ dbt.date_trunc('month', 'transaction_date') }} as sales_month,
        quantity,
        price,
        total_value,
        is_before_signup,
        region,
        signup_date,
        product_name,
        category
    from transactions
)

select * from transactions_with_month
