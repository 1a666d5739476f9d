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

{#-
    Any text (a var, a path, a value from the data) as a SQL string literal: quotes doubled,
    so the text can never end the literal. Jinja braces in the text stay text: dbt renders a
    model once, and this output is never rendered again. An engine whose literals treat
    backslash as an escape (Spark) needs its own `<adapter>__quoted_literal`.
-#}
{% macro quoted_literal(value) -%}
    {{ return(adapter.dispatch('quoted_literal', 'customer_analytics')(value)) }}
{%- endmacro %}

{% macro default__quoted_literal(value) -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- endif -%}
    {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{#- A name from a file (a Parquet column) as a quoted identifier, embedded quotes doubled. -#}
{% macro quoted_identifier(name) -%}
    {{ return(adapter.dispatch('quoted_identifier', 'customer_analytics')(name)) }}
{%- endmacro %}

{% macro default__quoted_identifier(name) -%}
    {{ return('"' ~ (name | string).replace('"', '""') ~ '"') }}
{%- endmacro %}

{#-
    A numeric var as a SQL number, after checking it is one: a var is never pasted as text.
    Stops with one line naming the var otherwise.
-#}
{% macro number_var(name) -%}
    {%- set value = raw_var(name) -%}
    {%- if value is boolean or value is not number
        or (value | string | lower) in ['inf', '-inf', 'nan'] -%}
        {{ exceptions.raise_compiler_error(
            "Setting " ~ name ~ " must be a finite number; got " ~ value | string
        ) }}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}

{#- A date var as a SQL date literal, after checking its form (YYYY-MM-DD). -#}
{% macro date_var(name) -%}
    {%- set value = raw_var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error(
            "Setting " ~ name ~ " must be a date written YYYY-MM-DD; got " ~ value
        ) }}
    {%- endif -%}
    {{ return('cast(' ~ quoted_literal(value) ~ ' as date)') }}
{%- endmacro %}

{#-
    Why a number as delivered (text) cannot be trusted, or null when it can: missing, not a
    finite number (nan, inf), unparseable, not positive, or above `maximum`.
-#}
{% macro number_problem(text_column, label, maximum) -%}
    case
        when {{ text_column }} is null then 'missing {{ label }}'
        when lower({{ text_column }}) in (
            'nan', '+nan', '-nan', 'inf', '+inf', '-inf', 'infinity', '+infinity', '-infinity'
        ) then '{{ label }} not a finite number'
        when {{ dbt.safe_cast(text_column, dbt.type_float()) }} is null then 'unparseable {{ label }}'
        when {{ dbt.safe_cast(text_column, dbt.type_float()) }} <= 0 then '{{ label }} not positive'
        {% if maximum is not none -%}
        when {{ dbt.safe_cast(text_column, dbt.type_float()) }} > {{ maximum | float }}
            then '{{ label }} above the maximum {{ maximum }}'
        {%- endif %}
    end
{%- endmacro %}

{#- Exact money: a decimal with 4 places (sums stay exact; marts round once, with `money`). -#}
{% macro type_money() -%}
    {{ return(adapter.dispatch('type_money', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__type_money() -%}
    decimal(18, 4)
{%- endmacro %}

{#-
    Why a date or timestamp as delivered cannot be trusted, or null: missing, unparseable,
    before `earliest`, or more than a day after the build date (a day of grace for time zones).
-#}
{% macro date_problem(text_column, parsed_column, label, earliest) -%}
    {%- set latest = (run_started_at + modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d') -%}
    case
        when {{ text_column }} is null then 'missing {{ label }}'
        when {{ parsed_column }} is null then 'unparseable {{ label }}'
        {% if earliest is not none -%}
        when cast({{ parsed_column }} as date) < cast({{ quoted_literal(earliest) }} as date)
            then '{{ label }} before {{ earliest }}'
        {%- endif %}
        when cast({{ parsed_column }} as date) > cast({{ quoted_literal(latest) }} as date)
            then '{{ label }} in the future (after the build date)'
    end
{%- endmacro %}

{#-
    Keys delivered more than once in `relation` (one row per such key): the first row, the
    rows holding it (up to 10 listed) and whether every copy is identical in `columns`.
    Only keys with copies are aggregated in full, so a 10M-row table with few duplicates
    costs one count per key.
-#}
{% macro duplicate_keys(relation, key, columns) -%}
    select
        {{ relation }}.{{ key }},
        min({{ relation }}.source_row_number) as first_row_number,
        count(*) as copies,
        {{ dbt.listagg(
            dbt.cast(relation ~ '.source_row_number', dbt.type_string()), "', '",
            'order by ' ~ relation ~ '.source_row_number', 10
        ) }} as row_numbers,
        (
            {% for column in columns -%}
                coalesce(min({{ relation }}.{{ column }}) = max({{ relation }}.{{ column }}), true)
                and count({{ relation }}.{{ column }}) in (0, count(*))
                {%- if not loop.last %} and {% endif %}
            {% endfor -%}
        ) as is_identical
    from {{ relation }}
    where {{ relation }}.{{ key }} in (
        select {{ key }} from {{ relation }}
        where {{ key }} is not null
        group by {{ key }}
        having count(*) > 1
    )
    group by {{ relation }}.{{ key }}
{%- endmacro %}

{#- The quarantine reason of one row from `duplicate_keys` (alias `duplicates`), or null. -#}
{% macro duplicate_problem(row_relation, key, label) -%}
    case
        when duplicates.{{ key }} is null then null
        when duplicates.is_identical and {{ row_relation }}.source_row_number = duplicates.first_row_number
            then null
        when duplicates.is_identical
            then 'duplicate {{ label }} (identical copy of row '
                || {{ dbt.cast('duplicates.first_row_number', dbt.type_string()) }} || ', which is kept)'
        else 'conflicting duplicate {{ label }} (rows ' || duplicates.row_numbers
            || case when duplicates.copies > 10 then ', ...' else '' end
            || ' hold different values; every copy held back)'
    end
{%- endmacro %}

{#-
    A var's value exactly as given, never rendered as Jinja. dbt's `var()` renders a text
    value as a Jinja template, so `--vars '{input_dir: "{{ ... }}"}'` would run the braces;
    this reads the command-line value from `invocation_args_dict` (as parsed from YAML, not
    rendered), else the var's default from dbt_project.yml (which holds no Jinja).
-#}
{% macro raw_var(name, default=none) -%}
    {%- set command_line = invocation_args_dict.get('vars') or {} -%}
    {%- if command_line is mapping and name in command_line -%}
        {{ return(command_line[name]) }}
    {%- endif -%}
    {{ return(var(name, default)) }}
{%- endmacro %}

{#-
    Mean and population standard deviation that do not depend on the order rows arrive in.
    avg() and stddev_pop() of doubles add in the order of the (parallel) scan, so their last
    digits changed between two builds of the same input; here the sums are exact decimals
    (values rounded to 8 places first) and only the final division and square root are
    floating point.
-#}
{% macro exact_avg(expression) -%}
    cast(avg(cast({{ expression }} as decimal(38, 8))) as {{ dbt.type_float() }})
{%- endmacro %}

{% macro exact_stddev_pop(expression) -%}
    sqrt(greatest(
        cast(avg(cast({{ expression }} as decimal(38, 8)) * cast({{ expression }} as decimal(38, 8)))
            as {{ dbt.type_float() }})
        - power(cast(avg(cast({{ expression }} as decimal(38, 8))) as {{ dbt.type_float() }}), 2),
        0
    ))
{%- endmacro %}

{#- `with name as {{ not_materialized() }} (...)`: read a CTE where it is used rather than
    storing it first. DuckDB stores a CTE that is read twice; for a 10M-row file that means
    a 1.7 GB copy spilled to disk, where reading the file twice costs a second. Engines
    without the hint (Spark) get nothing and decide for themselves. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}{%- endmacro %}

{% macro duckdb__not_materialized() -%}not materialized{%- endmacro %}
