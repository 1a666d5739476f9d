{#-
    Revenue is the same whichever way it is cut: trusted transactions, months, months by
    region, months by category, regions, products and customers must all sum to one total.
    Returns one row per mart whose total differs by more than a cent.
    Summed as exact decimals: the marts hold money as doubles (rounded to the cent), and a sum
    of 50M doubles in parallel depends on the order of addition by more than a cent (it
    failed once at 2M customers / 50M transactions, then passed on the same tables).
-#}

{%- set cuts = [
    ('monthly_sales', 'revenue'),
    ('monthly_sales_by_region', 'revenue'),
    ('monthly_sales_by_category', 'revenue'),
    ('regional_sales', 'revenue'),
    ('product_sales', 'revenue'),
    ('category_sales', 'revenue'),
    ('customers', 'total_revenue'),
    ('transactions', 'total_value'),
    ('products', 'revenue'),
] %}

with reference as (
    select sum(cast(total_value as {{ type_money() }})) as revenue
    from {{ ref('stg_shop__transactions') }}
),

totals as (
    {% for model_name, column_name in cuts -%}
        select
            '{{ model_name }}' as cut,
            sum(cast({{ column_name }} as {{ type_money() }})) as revenue
        from {{ ref(model_name) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    totals.cut,
    totals.revenue,
    reference.revenue as expected_revenue
from totals
cross join reference
where abs(totals.revenue - reference.revenue) > 0.01
