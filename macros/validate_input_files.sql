{#-
    on-run-start: before any model runs, find every raw table declared in
    models/staging/shop/_shop__sources.yml and match its header (`shop_file_layout`), and
    check the input settings. Any problem stops the build with one line naming the file and
    the column, or the setting. Extra columns are listed in the log and ignored.
    Rows are checked later, in staging (`stg_shop__*_checked`); a table or column that is
    unusable as a whole (no rows, every date unparseable) stops there, in
    `reject_unusable_input`, before any downstream model runs.
-#}
{% macro validate_input_files() %}
    {%- if execute and flags.WHICH in ('build', 'run', 'test', 'compile') -%}
        {%- if raw_var('as_of_date') is not none -%}
            {%- set parsed = run_query(
                'select ' ~ dbt.safe_cast(quoted_literal(raw_var('as_of_date') | string), dbt.type_timestamp())
            ).columns[0].values()[0] -%}
            {%- if parsed is none or not modules.re.fullmatch(
                '[0-9]{4}-[0-9]{2}-[0-9]{2}', raw_var('as_of_date') | string) -%}
                {{ exceptions.raise_compiler_error(
                    "Setting as_of_date must be a date written YYYY-MM-DD; got "
                    ~ raw_var('as_of_date') | string
                ) }}
            {%- endif -%}
        {%- endif -%}
        {%- do number_var('total_value_tolerance') -%}
        {%- for table in shop_tables() -%}
            {%- set layout = shop_file_layout(table.name) -%}
            {%- if layout.extra_columns -%}
                {%- do log(
                    layout.file_name ~ ": extra columns ignored: " ~ layout.extra_columns | join(', '),
                    info=True
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}

{#-
    post-hook of each `stg_shop__*_checked` table: stop the build with one line when the table
    as a whole is unusable, before any downstream model runs: no data rows, a column whose
    every value is unparseable (dd/mm/yyyy dates, epoch numbers), or no row left to trust.

    checks: list of (column as delivered, text column, parsed column, expected form).
-#}
{% macro reject_unusable_input(table_name, checks) %}
    {%- if execute -%}
        {%- set layout = shop_file_layout(table_name) -%}
        {%- set query -%}
            select
                count(*) as delivered,
                sum(case when quarantine_reason is null then 1 else 0 end) as trusted
                {%- for column, text_column, parsed_column, _ in checks %},
                    count({{ text_column }}) as {{ text_column }}_present,
                    count({{ parsed_column }}) as {{ text_column }}_parsed,
                    min({{ text_column }}) as {{ text_column }}_example
                {%- endfor %}
            from {{ this }}
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- if row['delivered'] == 0 -%}
            {{ exceptions.raise_compiler_error(
                layout.file_name ~ ": no data rows (only a header); nothing to build on"
            ) }}
        {%- endif -%}
        {%- for column, text_column, parsed_column, expected in checks -%}
            {%- if row[text_column ~ '_present'] > 0 and row[text_column ~ '_parsed'] == 0 -%}
                {{ exceptions.raise_compiler_error(
                    layout.file_name ~ ": all " ~ row[text_column ~ '_present'] ~ " " ~ column
                    ~ " values unparseable (expected " ~ expected ~ "; e.g. "
                    ~ row[text_column ~ '_example'] ~ ")"
                ) }}
            {%- endif -%}
        {%- endfor -%}
        {%- if row['trusted'] == 0 -%}
            {%- set reason = run_query(
                'select quarantine_reason, count(*) as row_count from ' ~ this
                ~ ' group by quarantine_reason order by row_count desc, quarantine_reason limit 1'
            ).rows[0] -%}
            {{ exceptions.raise_compiler_error(
                layout.file_name ~ ": all " ~ row['delivered'] ~ " rows quarantined (most often: "
                ~ reason['quarantine_reason'] ~ ", " ~ reason['row_count']
                ~ " rows); see " ~ this
            ) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
