{#-
    Sales of one entity (product or category) in every region, with ranks. Every entity
    appears in every region, with zeros where it did not sell, so slow movers are visible.

    entity_key:  grain column (product_id or category)
    attributes:  further columns of stg_shop__products carried along (one value per key)

    By category the sales come from int_customer_category_sales (already one row per
    customer and category, so a customer counts once per row); by product from
    int_product_region_sales (already one row per product and region).
-#}
{% macro sales_by_region(entity_key, attributes=[]) %}
{%- set by_category = entity_key == 'category' %}

with products as (
    select * from {{ ref('stg_shop__products') }}
),

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

{% if by_category -%}
customer_category_sales as (
    select * from {{ ref('int_customer_category_sales') }}
),
{%- else -%}
product_region_sales as (
    select * from {{ ref('int_product_region_sales') }}
),
{%- endif %}

entities as (
    select distinct
        {{ entity_key }}{% for attribute in attributes %},
        {{ attribute }}{% endfor %}
    from products
),

regions as (
    select distinct region from customers
),

entity_region_grid as (
    select
        entities.*,
        regions.region
    from entities
    cross join regions
),

sales_aggregated as (
    select
        {{ entity_key }},
        region,
        {% if by_category -%}
        sum(revenue) as revenue,
        {{ sum_as_bigint('quantity') }} as units,
        {{ sum_as_bigint('transaction_count') }} as transactions,
        count(*) as customers
    from customer_category_sales
        {%- else -%}
        sum(revenue) as revenue,
        {{ sum_as_bigint('quantity') }} as units,
        {{ sum_as_bigint('transaction_count') }} as transactions,
        {{ sum_as_bigint('customers') }} as customers
    from product_region_sales
        {%- endif %}
    group by {{ entity_key }}, region
),

sales_on_grid as (
    select
        entity_region_grid.*,
        coalesce(sales_aggregated.revenue, 0) as revenue,
        coalesce(sales_aggregated.units, 0) as units,
        coalesce(sales_aggregated.transactions, 0) as transactions,
        coalesce(sales_aggregated.customers, 0) as customers
    from entity_region_grid
    left join sales_aggregated
        on entity_region_grid.{{ entity_key }} = sales_aggregated.{{ entity_key }}
        and entity_region_grid.region = sales_aggregated.region
),

with_totals as (
    select
        sales_on_grid.*,
        sum(revenue) over (partition by {{ entity_key }}) as overall_revenue,
        sum(units) over (partition by {{ entity_key }}) as overall_units,
        sum(revenue) over (partition by region) as region_revenue
    from sales_on_grid
),

final as (
    select
        {{ entity_key }},
        {% for attribute in attributes %}{{ attribute }},
        {% endfor -%}
        region,
        {{ money('revenue') }} as revenue,
        units,
        transactions,
        customers,
        {{ ratio('revenue', 'region_revenue') }} as revenue_share_of_region,
        cast(rank() over (partition by region order by revenue desc) as integer)
            as revenue_rank_in_region,
        cast(rank() over (partition by region order by units desc) as integer)
            as units_rank_in_region,
        {{ money('overall_revenue') }} as overall_revenue,
        cast(overall_units as {{ dbt.type_bigint() }}) as overall_units,
        cast(dense_rank() over (order by overall_revenue desc) as integer)
            as overall_revenue_rank
    from with_totals
)

select * from final
order by region, revenue_rank_in_region, {{ entity_key }}

{% endmacro %}
