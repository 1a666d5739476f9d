{#- Trusted transactions with customer region and product category: the base of every mart. -#}

with transactions as (
    select * from {{ ref('stg_shop__transactions') }}
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

transactions_joined_to_customers_and_products as (
    select
        transactions.transaction_id,
        transactions.customer_id,
        transactions.product_id,
        transactions.transaction_at,
        transactions.transaction_date,
        {{ dbt.date_trunc('month', 'transactions.transaction_date') }} as sales_month,
        transactions.quantity,
        transactions.price,
        transactions.total_value,
        transactions.is_before_signup,
        customers.region,
        customers.signup_date,
        products.product_name,
        products.category
    from transactions
    inner join customers
        on transactions.customer_id = customers.customer_id
    inner join products
        on transactions.product_id = products.product_id
)

select * from transactions_joined_to_customers_and_products
