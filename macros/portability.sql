{#-
    Small cross-database helpers. Models call dbt's cross-database macros
    (`dbt.safe_cast`, `dbt.datediff`, `dbt.date_trunc`, `dbt.type_*`) and these
    DuckDB implementations fill the gaps dbt-duckdb leaves, so the SQL stays portable.
-#}

{# dbt's default safe_cast is a plain cast; DuckDB (like Spark) has try_cast, which yields null. #}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{# `float` is 4 bytes in DuckDB; money and ratios need 8. #}
{% macro duckdb__type_float() -%}
    double
{%- endmacro %}

{#- A text column trimmed, with the empty string read as missing. -#}
{% macro clean_text(column_name) -%}
    nullif(trim({{ dbt.cast(column_name, dbt.type_string()) }}), '')
{%- endmacro %}

{#- A sum of integers as bigint: DuckDB widens integer sums to HUGEINT, which BI tools cannot read. -#}
{% macro sum_as_bigint(expression) -%}
    cast(sum({{ expression }}) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Money: rounded to cents and typed as double. -#}
{% macro money(expression) -%}
    cast({{ round_number(expression, 2) }} as {{ dbt.type_float() }})
{%- endmacro %}

{#- x / y as double, 0 when y is 0 or null (a ratio over nothing is nothing). -#}
{% macro ratio(numerator, denominator) -%}
    coalesce(cast({{ numerator }} as {{ dbt.type_float() }}) / nullif({{ denominator }}, 0), 0)
{%- endmacro %}
