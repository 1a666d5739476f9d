{{ config(
    materialized='table',
    post_hook="{{ reject_unusable_input('Transactions', [
        ('TransactionDate', 'transaction_at_text', 'transaction_at', 'YYYY-MM-DD[ HH:MM:SS]'),
        ('Quantity', 'quantity_text', 'quantity_number', 'a whole number'),
        ('TotalValue', 'total_value_text', 'total_value_number', 'a number such as 12.50'),
        ('Price', 'price_text', 'price_number', 'a number such as 12.50'),
    ]) }}",
) }}

{#-
    The Transactions file read once: every row, typed, with every rule it broke.
    Validation needs lookups: a transaction can only be trusted when its customer and
    product are. This is the one staging model with joins, and only for that check.
    Money is parsed as an exact decimal, so sums do not depend on the order of addition.
-#}

with source as {{ not_materialized() }} (
    select * from {{ ref('base_shop__transactions') }}
),

customers_checked as (
    select * from {{ ref('stg_shop__customers_checked') }}
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

products_checked as (
    select * from {{ ref('stg_shop__products_checked') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

-- Delivered ids that were held back: every delivered id is either trusted (in the
-- customers / products views) or in one of these, so one lookup join per table suffices.
held_back_customer_ids as (
    select distinct customer_id from customers_checked
    where quarantine_reason is not null and customer_id is not null
),

held_back_product_ids as (
    select distinct product_id from products_checked
    where quarantine_reason is not null and product_id is not null
),

renamed as (
    select
        source_file,
        source_row_number,
        {{ clean_text('TransactionID') }} as transaction_id,
        {{ clean_text('CustomerID') }} as customer_id,
        {{ clean_text('ProductID') }} as product_id,
        {{ clean_text('TransactionDate') }} as transaction_at_text,
        {{ clean_text('Quantity') }} as quantity_text,
        {{ clean_text('TotalValue') }} as total_value_text,
        {{ clean_text('Price') }} as price_text
    from source
),

duplicates as (
    {{ duplicate_keys('renamed', 'transaction_id', [
        'customer_id', 'product_id', 'transaction_at_text', 'quantity_text',
        'total_value_text', 'price_text',
    ]) }}
),

typed as (
    select
        renamed.*,
        {{ dbt.safe_cast('renamed.transaction_at_text', dbt.type_timestamp()) }} as transaction_at,
        {{ dbt.safe_cast('renamed.quantity_text', dbt.type_float()) }} as quantity_number,
        {{ dbt.safe_cast('renamed.total_value_text', dbt.type_float()) }} as total_value_number,
        {{ dbt.safe_cast('renamed.price_text', dbt.type_float()) }} as price_number,
        {{ number_problem(
            'renamed.quantity_text', 'Quantity',
            shop_column_meta('Transactions', 'Quantity', 'maximum'),
        ) }} as quantity_problem,
        {{ number_problem(
            'renamed.total_value_text', 'TotalValue',
            shop_column_meta('Transactions', 'TotalValue', 'maximum'),
        ) }} as total_value_problem,
        {{ number_problem(
            'renamed.price_text', 'Price', shop_column_meta('Transactions', 'Price', 'maximum')
        ) }} as price_problem,
        {{ duplicate_problem('renamed', 'transaction_id', 'TransactionID') }} as duplicate_reason
    from renamed
    left join duplicates
        on renamed.transaction_id = duplicates.transaction_id
),

typed_with_references as (
    select
        typed.*,
        -- a quantity must be a whole number: casting '1.5' straight to an integer would round it
        case
            when typed.quantity_problem is null and typed.quantity_number = floor(typed.quantity_number)
                then cast(typed.quantity_number as {{ dbt.type_int() }})
        end as quantity,
        case
            when typed.total_value_problem is null
                then {{ dbt.safe_cast('typed.total_value_text', type_money()) }}
        end as total_value,
        case
            when typed.price_problem is null then {{ dbt.safe_cast('typed.price_text', type_money()) }}
        end as price,
        customers.customer_id is not null
        or typed.customer_id in (select held_back_customer_ids.customer_id from held_back_customer_ids)
            as is_delivered_customer,
        customers.customer_id is not null as is_known_customer,
        products.product_id is not null
        or typed.product_id in (select held_back_product_ids.product_id from held_back_product_ids)
            as is_delivered_product,
        products.product_id is not null as is_known_product,
        -- carried for trusted rows, so int_transactions_enriched needs no second join
        customers.signup_date,
        customers.region,
        products.product_name,
        products.category
    from typed
    left join customers
        on typed.customer_id = customers.customer_id
    left join products
        on typed.product_id = products.product_id
),

checked as (
    select
        source_file,
        source_row_number,
        transaction_id,
        customer_id,
        product_id,
        transaction_at_text,
        quantity_text,
        total_value_text,
        price_text,
        transaction_at,
        quantity_number,
        total_value_number,
        price_number,
        quantity,
        total_value,
        price,
        coalesce(cast(transaction_at as date) < signup_date, false) as is_before_signup,
        signup_date,
        region,
        product_name,
        category,
        nullif(concat_ws(
            '; ',
            case when transaction_id is null then 'missing TransactionID' end,
            duplicate_reason,
            case when customer_id is null then 'missing CustomerID' end,
            case
                when customer_id is not null and not is_delivered_customer
                    then 'unknown CustomerID'
                when customer_id is not null and not is_known_customer
                    then 'CustomerID held back in quarantined_customers'
            end,
            case when product_id is null then 'missing ProductID' end,
            case
                when product_id is not null and not is_delivered_product
                    then 'unknown ProductID'
                when product_id is not null and not is_known_product
                    then 'ProductID held back in quarantined_products'
            end,
            {{ date_problem(
                'transaction_at_text', 'transaction_at', 'TransactionDate',
                shop_column_meta('Transactions', 'TransactionDate', 'earliest'),
            ) }},
            quantity_problem,
            case
                when quantity_problem is null and quantity is null
                    then 'Quantity not a whole number'
            end,
            price_problem,
            total_value_problem,
            case
                when abs(total_value - quantity * price) > {{ number_var('total_value_tolerance') }}
                    then 'TotalValue not equal to Quantity x Price'
            end
        ), '') as quarantine_reason
    from typed_with_references
),

-- The delivered texts and their float parses are kept only where a row is held back
-- (quarantined_transactions shows them); a trusted row's typed columns say the same, and
-- not storing seven such columns for every trusted line saves a fifth of this model's work.
-- reject_unusable_input still sees every value it needs: "all values unparseable" can only
-- hold when no row is trusted, and then every row keeps its texts.
stored as (
    select
        source_file,
        source_row_number,
        transaction_id,
        customer_id,
        product_id,
        transaction_at,
        quantity,
        total_value,
        price,
        is_before_signup,
        signup_date,
        region,
        product_name,
        category,
        quarantine_reason,
        case when quarantine_reason is not null then transaction_at_text end as transaction_at_text,
        case when quarantine_reason is not null then quantity_text end as quantity_text,
        case when quarantine_reason is not null then total_value_text end as total_value_text,
        case when quarantine_reason is not null then price_text end as price_text,
        case when quarantine_reason is not null then quantity_number end as quantity_number,
        case when quarantine_reason is not null then total_value_number end as total_value_number,
        case when quarantine_reason is not null then price_number end as price_number
    from checked
)

select * from stored
