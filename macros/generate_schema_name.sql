{#-
    Use a model's custom schema as is (`staging`, `quarantine`, `raw`) instead of
    dbt's default `<target_schema>_<custom>`: the database holds one project, and
    BI users should see short, stable schema names.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
