-- depends_on: {{ ref('stg_shop__products') }}

{#-
    One row per product category: the customer_features column holding the customers'
    spend share in it. Category names become column names only through this mapping
    (`spend_share_columns()` in macros/category_columns.sql); the names reach SQL here as
    quoted literals.
-#}

{%- set share_columns = spend_share_columns() %}

with mapping as (
    {% for column in share_columns -%}
        select
            {{ quoted_literal(column.category) }} as category,
            {{ quoted_literal(column.column_name) }} as column_name
        {% if not loop.last %}union all{% endif %}
    {% else -%}
        select
            cast(null as {{ dbt.type_string() }}) as category,
            cast(null as {{ dbt.type_string() }}) as column_name
        where 1 = 0
    {%- endfor %}
)

select
    cast(category as {{ dbt.type_string() }}) as category,
    cast(column_name as {{ dbt.type_string() }}) as column_name
from mapping
