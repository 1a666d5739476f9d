{#- One row per raw table: how many rows arrived, how many were staged, how many quarantined. -#}

{%- set tables = [
    ('Customers', 'stg_shop__customers', 'quarantined_customers'),
    ('Products', 'stg_shop__products', 'quarantined_products'),
    ('Transactions', 'stg_shop__transactions', 'quarantined_transactions'),
] -%}

with
{% for raw_table, staged_model, quarantine_model in tables %}
    {{ raw_table | lower }}_counts as (
        select
            '{{ raw_table }}' as raw_table,
            (select count(*) from {{ shop_source(raw_table) }} as raw_rows) as raw_rows,
            (select count(*) from {{ ref(staged_model) }}) as staged_rows,
            (select count(*) from {{ ref(quarantine_model) }}) as quarantined_rows
    ),
{% endfor %}

final as (
    {% for raw_table, _, _ in tables %}
        select * from {{ raw_table | lower }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
