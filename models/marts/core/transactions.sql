{#- The fact table for BI tools and the semantic layer: one row per trusted transaction line. -#}

with transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

final as (
    select
        transaction_id,
        customer_id,
        product_id,
        transaction_at,
        transaction_date,
        sales_month,
        region,
        category,
        quantity,
        price,
        {{ money('total_value') }} as total_value,
        is_before_signup
    from transactions
)

select * from final
