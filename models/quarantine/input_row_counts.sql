{#-
    One row per raw table declared in the `shop` source: rows delivered, staged and
    quarantined. Delivered rows are counted from the checked table (one row per file row,
    the file is read once), staged and quarantined rows from their own models.
-#}
-- depends_on: {{ ref('stg_shop__customers_checked') }}, {{ ref('stg_shop__customers') }}
-- depends_on: {{ ref('quarantined_customers') }}, {{ ref('stg_shop__products_checked') }}
-- depends_on: {{ ref('stg_shop__products') }}, {{ ref('quarantined_products') }}
-- depends_on: {{ ref('stg_shop__transactions_checked') }}, {{ ref('stg_shop__transactions') }}
-- depends_on: {{ ref('quarantined_transactions') }}

{%- set tables = (shop_tables() | map(attribute='name') | list) if execute else [] %}

with
{% for raw_table in tables %}
    {%- set entity = raw_table | lower %}
    {{ entity }}_counts as (
        select
            {{ quoted_literal(raw_table) }} as raw_table,
            (select count(*) from {{ ref('stg_shop__' ~ entity ~ '_checked') }}) as raw_rows,
            (select count(*) from {{ ref('stg_shop__' ~ entity) }}) as staged_rows,
            (select count(*) from {{ ref('quarantined_' ~ entity) }}) as quarantined_rows
    ),
{% endfor %}

final as (
    {% for raw_table in tables %}
        select * from {{ raw_table | lower }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
