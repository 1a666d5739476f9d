{{ config(materialized='table') }}

{#-
    Validation needs lookups: a transaction can only be trusted when its customer and
    product are. This is the one staging model with joins, and only for that check.
-#}

with source as (
    select * from {{ shop_source('Transactions') }}
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
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

typed as (
    select
        renamed.*,
        {{ dbt.safe_cast('transaction_at_text', dbt.type_timestamp()) }} as transaction_at,
        {{ dbt.safe_cast('quantity_text', dbt.type_float()) }} as quantity_number,
        {{ dbt.safe_cast('total_value_text', dbt.type_float()) }} as total_value,
        {{ dbt.safe_cast('price_text', dbt.type_float()) }} as price,
        min(renamed.source_row_number)
            over (partition by renamed.transaction_id)
            as first_row_of_transaction_id
    from renamed
),

typed_with_references as (
    select
        typed.*,
        -- a quantity must be a whole number: casting '1.5' straight to an integer would round it
        case
            when typed.quantity_number = floor(typed.quantity_number)
                then cast(typed.quantity_number as {{ dbt.type_int() }})
        end as quantity,
        customers.customer_id is not null as is_known_customer,
        products.product_id is not null as is_known_product,
        customers.signup_date
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
        quantity,
        total_value,
        price,
        coalesce(cast(transaction_at as date) < signup_date, false) as is_before_signup,
        nullif(concat_ws(
            '; ',
            case when transaction_id is null then 'missing TransactionID' end,
            case
                when transaction_id is not null and source_row_number > first_row_of_transaction_id
                    then
                        'duplicate TransactionID (first at row '
                        || {{ dbt.cast('first_row_of_transaction_id', dbt.type_string()) }} || ')'
            end,
            case when customer_id is null then 'missing CustomerID' end,
            case
                when customer_id is not null and not is_known_customer
                    then 'unknown CustomerID'
            end,
            case when product_id is null then 'missing ProductID' end,
            case
                when product_id is not null and not is_known_product
                    then 'unknown ProductID'
            end,
            case when transaction_at_text is null then 'missing TransactionDate' end,
            case
                when transaction_at_text is not null and transaction_at is null
                    then 'unparseable TransactionDate'
            end,
            case when quantity_text is null then 'missing Quantity' end,
            case
                when quantity_text is not null and quantity_number is null
                    then 'unparseable Quantity'
            end,
            case
                when quantity_number is not null and quantity is null
                    then 'Quantity not a whole number'
            end,
            case when quantity <= 0 then 'Quantity not positive' end,
            case when price_text is null then 'missing Price' end,
            case when price_text is not null and price is null then 'unparseable Price' end,
            case when price <= 0 then 'Price not positive' end,
            case when total_value_text is null then 'missing TotalValue' end,
            case
                when total_value_text is not null and total_value is null
                    then 'unparseable TotalValue'
            end,
            case
                when abs(total_value - quantity * price) > {{ var('total_value_tolerance') }}
                    then 'TotalValue not equal to Quantity x Price'
            end
        ), '') as quarantine_reason
    from typed_with_references
)

select * from checked
