{#-
    The reference date for recency and tenure: the `as_of_date` var when set (checked to be a
    date, and passed as a quoted literal), otherwise the latest trusted transaction date.
    Never the wall clock, so a rebuild of the same input gives the same numbers; transactions
    dated in the future of the build are quarantined, so one cannot move it.
-#}
{% macro as_of_date() -%}
    {%- if raw_var('as_of_date') is not none -%}
        {{ date_var('as_of_date') }}
    {%- else -%}
        (select max(transaction_date) from {{ ref('stg_shop__transactions') }})
    {%- endif -%}
{%- endmacro %}
