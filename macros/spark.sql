{#-
    Apache Spark versions of the macros whose dbt-spark defaults would change results, and
    the Spark side of reading input files (docs/spark.md). DuckDB never calls these.
-#}

{#- dbt-spark maps `float` to Spark's 4-byte FLOAT (1234567.89 becomes 1234567.875). -#}
{% macro spark__type_float() -%}
    double
{%- endmacro %}

{#- dbt's default renders `varchar`, which Spark accepts only with a length. -#}
{% macro spark__type_string() -%}
    string
{%- endmacro %}

{#-
    `varchar` without a length, as the marts' YAML contracts and dbt.cast write it, is an
    error on Spark; there it is `string`.
-#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ 'string' if (type | string | trim | lower) == 'varchar' else type }})
{%- endmacro %}

{#-
    dbt-spark's safe_cast is a plain cast, which raises instead of yielding null whenever ANSI
    mode is on (Spark 4's default, Databricks, most Spark Connect servers).
-#}
{% macro spark__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#-
    dbt-spark's listagg drops the `order by` (with a warning). Spark 4 has an ordered listagg;
    with a limit, the first `limit_num` values by the (single, ascending) order key are kept.
-#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {%- set order_key = modules.re.sub('(?i)^\\s*order\\s+by\\s+', '', order_by_clause or 'null') -%}
        {%- if modules.re.search('(?i)(,|\\sdesc\\b|\\sasc\\b)', order_key) -%}
            {{ exceptions.raise_compiler_error(
                "listagg with limit_num on Spark takes one ascending order key; got " ~ order_by_clause
            ) }}
        {%- endif -%}
        array_join(slice(transform(
            array_sort(collect_list(named_struct('order_key', {{ order_key }}, 'value', {{ measure }}))),
            entry -> entry.value
        ), 1, {{ limit_num }}), {{ delimiter_text }})
    {%- else -%}
        listagg({{ measure }}, {{ delimiter_text }})
        {%- if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
    {%- endif -%}
{%- endmacro %}

{#-
    dbt-spark's datediff wraps both dates in assert_not_null (a null date fails the query,
    where DuckDB returns null) and approximates months with months_between. Day, month and
    year differences here count calendar boundaries, like DuckDB's date_diff (a bigint, as
    there); null in, null out.
-#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        cast(datediff(cast({{ second_date }} as date), cast({{ first_date }} as date)) as bigint)
    {%- elif datepart == 'month' -%}
        cast((year({{ second_date }}) - year({{ first_date }})) * 12
            + month({{ second_date }}) - month({{ first_date }}) as bigint)
    {%- elif datepart == 'year' -%}
        cast(year({{ second_date }}) - year({{ first_date }}) as bigint)
    {%- else -%}
        {{ dbt_spark.spark__datediff(first_date, second_date, datepart) }}
    {%- endif -%}
{%- endmacro %}

{#-
    round(x, digits) with DuckDB's rule on doubles: the double x * 10^digits rounded half away
    from zero. Spark rounds the shortest decimal form of a double instead, so 1.005 (really
    1.00499999...) would become 1.01 on Spark and 1.0 on DuckDB.
-#}
{% macro round_number(expression, digits) -%}
    {{ return(adapter.dispatch('round_number', 'customer_analytics')(expression, digits)) }}
{%- endmacro %}

{% macro default__round_number(expression, digits) -%}
    round({{ expression }}, {{ digits }})
{%- endmacro %}

{#- Decimals (exact money sums) round exactly, half away from zero, on both engines. -#}
{% macro spark__round_number(expression, digits) -%}
    case
        when typeof({{ expression }}) like 'decimal%' then round({{ expression }}, {{ digits }})
        else round(cast({{ expression }} as double) * 1e{{ digits }}, 0) / 1e{{ digits }}
    end
{%- endmacro %}

{#-
    The same path for Spark to open. Spark resolves a relative table path against the
    database's folder, not the working directory, so a relative one is made absolute (the
    runner passes the working directory; plain dbt has the shell's PWD). URIs stay as given.
-#}
{% macro spark_absolute_path(path) -%}
    {%- if path.startswith('/') or '://' in path or ':/' in path -%}
        {{ return(path) }}
    {%- endif -%}
    {%- set base = env_var('CUSTOMER_ANALYTICS_WORKING_DIR', env_var('PWD', '')) -%}
    {%- if not base -%}
        {{ exceptions.raise_compiler_error(
            "input path " ~ path ~ " is relative and the working directory is unknown:"
            ~ " give input_dir as an absolute path or URI"
        ) }}
    {%- endif -%}
    {{ return(base.rstrip('/') ~ '/' ~ path) }}
{%- endmacro %}

{#- A text as a Spark SQL string literal (backslash and quote escaped). -#}
{% macro spark_string_literal(text) -%}
    '{{ text | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}

{#-
    on-run-start: engine-specific preparation. Nothing on DuckDB (its sources read the files).
-#}
{% macro prepare_engine() -%}
    {{ return(adapter.dispatch('prepare_engine', 'customer_analytics')()) }}
{%- endmacro %}

{% macro default__prepare_engine() -%}
{%- endmacro %}

{#-
    On Spark: stop at once, with one line, when dbt Python models are selected and no runner
    can execute them (open-source Spark through plain `dbt`, dbt-labs/dbt-spark#415).
-#}
{% macro spark__prepare_engine() -%}
    {%- if execute and flags.WHICH in ('build', 'run', 'test', 'seed', 'compile', 'show') -%}
        {%- set python_models = [] -%}
        {%- for unique_id in selected_resources -%}
            {%- set node = graph.nodes.get(unique_id) -%}
            {%- if node and node.resource_type == 'model' and node.language == 'python' -%}
                {%- do python_models.append(node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if python_models
            and env_var('CUSTOMER_ANALYTICS_SPARK_RUNNER', '') != 'session' -%}
            {{ exceptions.raise_compiler_error(
                "dbt Python models (" ~ python_models | join(', ') ~ ") cannot run through"
                ~ " plain dbt on open-source Spark: run `customer-analytics build --target "
                ~ target.name ~ "` instead (docs/spark.md)"
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Spark string literals treat backslash as an escape: both it and the quote are escaped. -#}
{% macro spark__quoted_literal(value) -%}
    {%- if value is none -%}
        {{ return('null') }}
    {%- endif -%}
    {{ return(spark_string_literal(value | string)) }}
{%- endmacro %}

{#- Spark quotes identifiers with backticks (an embedded one doubled). -#}
{% macro spark__quoted_identifier(name) -%}
    {{ return('`' ~ (name | string).replace('`', '``') ~ '`') }}
{%- endmacro %}

{#- A path inside Spark's `format.`path`` syntax (backticks doubled). -#}
{% macro spark_path_identifier(path) -%}
    {{ return('`' ~ path.replace('`', '``') ~ '`') }}
{%- endmacro %}

{#- The files directly in `folder` (not in its subfolders), sorted. -#}
{% macro spark__shop_list_files(folder) -%}
    {%- set pattern = spark_absolute_path(folder.rstrip('/') ~ '/*.*') -%}
    {%- set listing = run_query(
        'select path from binaryFile.' ~ spark_path_identifier(pattern) ~ ' order by path'
    ) -%}
    {{ return(listing.columns[0].values() | list) }}
{%- endmacro %}

{#-
    The first line of a text file (None when empty). Spark decodes bytes that are not UTF-8
    as U+FFFD; the first line holding one stops the build, naming the line.
-#}
{% macro spark__shop_first_line(path, file_name) -%}
    {%- set text = 'text.' ~ spark_path_identifier(path) -%}
    {%- set has_bad = run_query(
        'select count(*) from ' ~ text ~ " where instr(value, '\\ufffd') > 0"
    ).columns[0].values()[0] -%}
    {%- if has_bad -%}
        {%- set bad_line = run_query(
            'select line_number from (select value, row_number() over (order by'
            ~ ' _metadata.file_block_start, monotonically_increasing_id()) as line_number from '
            ~ text ~ ") where instr(value, '\\ufffd') > 0 order by line_number limit 1"
        ).columns[0].values()[0] -%}
        {{ exceptions.raise_compiler_error(
            file_name ~ ": not UTF-8 (first invalid byte sequence on line " ~ bad_line
            ~ "); save the file as UTF-8"
        ) }}
    {%- endif -%}
    {%- set lines = run_query(
        'select value from ' ~ text ~ ' where _metadata.file_block_start = 0 limit 1'
    ).columns[0].values() | list -%}
    {{ return(lines[0] if lines else none) }}
{%- endmacro %}

{#- The column names of a Parquet file. -#}
{% macro spark__shop_parquet_columns(path) -%}
    {{ return(run_query(
        'select * from parquet.' ~ spark_path_identifier(path) ~ ' limit 0'
    ).column_names | list) }}
{%- endmacro %}

{#-
    Spark's reader of one raw file (see `read_shop_file` in macros/shop_source.sql): a table
    over the file in the schema `raw` (nothing copied), then the declared columns as text.
    CSV columns are read by position (the header is skipped, never used for names), in the
    same dialect as DuckDB; a malformed line stops the query. Row numbers come from the file:
    a CSV is read with multiLine, one task per file from start to end, so the order of
    monotonically_increasing_id() is file order; Parquet carries its row index.
-#}
{% macro spark__read_shop_file(layout, columns) -%}
    {%- set stem = modules.re.sub('[^a-z0-9]+', '_', layout.file_name.rsplit('.', 1)[0] | lower) -%}
    {%- set relation = api.Relation.create(schema='raw', identifier='shop_file_' ~ stem) -%}
    {%- do run_query('create schema if not exists raw') -%}
    {%- do run_query('drop table if exists ' ~ relation) -%}
    {%- if layout.format == 'parquet' -%}
        {%- do run_query(
            'create table ' ~ relation ~ ' using parquet options (path '
            ~ spark_string_literal(layout.path) ~ ')'
        ) -%}
        (
            select
                {% for column in columns -%}
                    cast({{ spark__quoted_identifier(layout.file_columns[layout.positions[column]]) }}
                        as {{ dbt.type_string() }}) as {{ column }},
                {% endfor -%}
                {{ spark__quoted_literal(layout.file_name) }} as source_file,
                _metadata.row_index + 1 as source_row_number
            from {{ relation }}
        )
    {%- else -%}
        {%- set ddl -%}
            create table {{ relation }} (
                {%- for file_column in layout.file_columns %}
                column{{ loop.index0 }} string{% if not loop.last %},{% endif %}
                {%- endfor %}
            )
            using csv
            options (
                path {{ spark_string_literal(layout.path) }},
                header 'true',
                sep {{ spark_string_literal(layout.delimiter) }},
                multiLine 'true',
                mode 'FAILFAST',
                quote '"',
                escape '"',
                encoding 'UTF-8'
            )
        {%- endset -%}
        {%- do run_query(ddl) -%}
        (
            select
                {% for column in columns -%}
                    column{{ layout.positions[column] }} as {{ column }},
                {% endfor -%}
                {{ spark__quoted_literal(layout.file_name) }} as source_file,
                row_number() over (order by monotonically_increasing_id()) as source_row_number
            from {{ relation }}
        )
    {%- endif -%}
{%- endmacro %}

{#-
    dbt-spark adds a contract's constraints with ALTER TABLE whenever `file_format` is unset
    (it assumes Delta); the tables here are Parquet, which cannot hold them. Constraints are
    then checked by the models' tests, as on DuckDB; Delta and Iceberg tables still get them.
-#}
{% macro spark__persist_constraints(relation, model) -%}
    {%- if config.get('file_format') in ['delta', 'iceberg'] -%}
        {%- do alter_table_add_constraints(relation, model.constraints) -%}
        {%- do alter_column_set_constraints(relation, model.columns) -%}
    {%- endif -%}
{%- endmacro %}
