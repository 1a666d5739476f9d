{#-
    The reference date for recency and tenure: the `as_of_date` var when set, otherwise the
    latest transaction date in the data. Never the wall clock, so a rebuild of the same
    input gives the same numbers.
-#}
{% macro as_of_date() -%}
    {%- if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as date)
    {%- else -%}
        (select max(transaction_date) from {{ ref('stg_shop__transactions') }})
    {%- endif -%}
{%- endmacro %}
