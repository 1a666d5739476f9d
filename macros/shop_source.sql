{#-
    The one place where raw data enters the project.

    The raw tables and their columns are declared once, in
    models/staging/shop/_shop__sources.yml; everything here iterates that declaration.
    Every file is found and its header matched at run time (`shop_file_layout`), then read
    by one engine-specific macro (`read_shop_file`, dispatched: DuckDB reads CSV and Parquet
    in place; another engine adds its own `<adapter>__read_shop_file`). Either way every row
    gets its origin: `source_file` and `source_row_number` (1 = the first data row after the
    header, an explicit index counted by the file reader, never the engine's row order).

    No text from a var or a file ever becomes SQL: paths and values reach SQL through
    `quoted_literal`, file column names are never used as identifiers for CSV (columns are
    read by position) and quoted with `quoted_identifier` for Parquet.
-#}

{#- The `shop` source tables, in declaration order (execution time only). -#}
{% macro shop_tables() -%}
    {%- set tables = [] -%}
    {%- for node in graph.sources.values()
        if node.source_name == 'shop' and node.package_name == project_name -%}
        {%- do tables.append(node) -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}

{#- The declared source node of one raw table (execution time only). -#}
{% macro shop_table(table_name) -%}
    {%- for node in shop_tables() if node.name == table_name -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "Raw table " ~ table_name ~ " is not declared in models/staging/shop/_shop__sources.yml"
    ) }}
{%- endmacro %}

{#- The declared column names of one raw table, in declaration order. -#}
{% macro shop_columns(table_name) -%}
    {{ return(shop_table(table_name).columns.values() | map(attribute='name') | list) }}
{%- endmacro %}

{#-
    One `meta` value of a declared column (`maximum`, `earliest`), or none. None also where
    dbt gives no graph (unit tests), so unit tests check the rules without the limits.
-#}
{% macro shop_column_meta(table_name, column_name, key) -%}
    {%- if not execute or 'sources' not in graph -%}{{ return(none) }}{%- endif -%}
    {%- set column = shop_table(table_name).columns[column_name] -%}
    {{ return((column.meta or {}).get(key)) }}
{%- endmacro %}

{#- `Customer ID`, `"customerid"`, `CUSTOMER_ID` -> `customerid`: how header names are matched. -#}
{% macro normalised_column_name(name) -%}
    {{ return(modules.re.sub('[^0-9a-z]+', '', (name or '') | lower)) }}
{%- endmacro %}

{#- The folder read: the `input_dir` var, or the bundled demo files. -#}
{% macro shop_input_dir() -%}
    {%- set input_dir = raw_var('input_dir') -%}
    {%- if input_dir is none -%}
        {#- dbt resolves the project folder (absolute), so any working directory works -#}
        {{ return((invocation_args_dict.get('project_dir') or '.') ~ '/seeds/shop') }}
    {%- endif -%}
    {%- if input_dir is not string or input_dir | trim == '' -%}
        {{ exceptions.raise_compiler_error(
            "Setting input_dir must be a folder path (text); got " ~ input_dir | string
        ) }}
    {%- endif -%}
    {{ return(input_dir.rstrip('/') if input_dir.rstrip('/') else '/') }}
{%- endmacro %}

{#-
    Where one raw table is and how its columns line up, checked. Stops the build with one
    line naming the file (and column) when the file is missing, ambiguous, empty, not UTF-8
    or lacks a declared column. Returns a dict:
      path, file_name, format ('csv' | 'parquet'), delimiter (csv),
      positions: declared column -> 0-based position in the file,
      file_columns: names as in the file, extra_columns: file columns not declared.
-#}
{% macro shop_file_layout(table_name) -%}
    {%- set input_dir = shop_input_dir() -%}
    {%- set input_format = raw_var('input_format') -%}
    {%- set formats = ['csv', 'parquet'] -%}
    {%- if input_format is not none and input_format not in formats -%}
        {{ exceptions.raise_compiler_error(
            "Setting input_format must be csv or parquet (or unset to detect); got "
            ~ input_format | string
        ) }}
    {%- endif -%}
    {%- set wanted = [input_format] if input_format else formats -%}

    {#- Find the file by name, case-insensitively, among the folder's files. -#}
    {%- set listing = shop_list_files(input_dir) -%}
    {%- set matches = [] -%}
    {%- for file in listing -%}
        {%- set file_name = file.replace('\\', '/').split('/') | last -%}
        {%- for extension in wanted
            if file_name | lower == (table_name ~ '.' ~ extension) | lower -%}
            {%- do matches.append({'path': file, 'file_name': file_name, 'format': extension}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if matches | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "Input file " ~ table_name ~ "." ~ (wanted | join(' or ' ~ table_name ~ '.'))
            ~ " not found in " ~ input_dir
            ~ (" (input_format=" ~ input_format ~ ")" if input_format else "")
        ) }}
    {%- endif -%}
    {%- if matches | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            "Input folder " ~ input_dir ~ " holds " ~ (matches | map(attribute='file_name') | join(' and '))
            ~ ": keep one, or choose with --vars '{input_format: csv}' (or parquet)"
        ) }}
    {%- endif -%}
    {%- set layout = matches[0] -%}

    {%- if layout.format == 'parquet' -%}
        {%- set file_columns = shop_parquet_columns(layout.path) -%}
        {%- do layout.update({'delimiter': none}) -%}
    {%- else -%}
        {%- set file_columns, delimiter = shop_csv_header(layout, table_name) -%}
        {%- do layout.update({'delimiter': delimiter}) -%}
    {%- endif -%}

    {%- set declared = shop_columns(table_name) -%}
    {%- set positions = {} -%}
    {%- for file_column in file_columns -%}
        {%- set position = loop.index0 -%}
        {%- for column in declared
            if normalised_column_name(column) == normalised_column_name(file_column) -%}
            {%- if column in positions -%}
                {{ exceptions.raise_compiler_error(
                    layout.file_name ~ ": column " ~ column ~ " appears twice (columns "
                    ~ (positions[column] + 1) ~ " and " ~ (position + 1) ~ " of the header)"
                ) }}
            {%- endif -%}
            {%- do positions.update({column: position}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set missing = declared | reject('in', positions) | list -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            layout.file_name ~ ": missing column" ~ ('s ' if missing | length > 1 else ' ')
            ~ missing | join(', ') ~ " (header: " ~ file_columns | join(', ')
            ~ "; expected " ~ declared | join(', ') ~ ", in any order)"
        ) }}
    {%- endif -%}
    {%- set extra = [] -%}
    {%- for file_column in file_columns -%}
        {%- if loop.index0 not in positions.values() -%}{%- do extra.append(file_column) -%}{%- endif -%}
    {%- endfor -%}
    {%- do layout.update({
        'positions': positions, 'file_columns': file_columns, 'extra_columns': extra,
    }) -%}
    {{ return(layout) }}
{%- endmacro %}

{#-
    The header of a CSV file and its delimiter: the first line is read as one text field and
    split on comma, semicolon and tab; the delimiter is the one under which every declared
    column is found (else the one that finds most, for the error message). The first
    100,000 lines are also checked for bytes that are not UTF-8.
-#}
{% macro shop_csv_header(layout, table_name) -%}
    {%- set first_line = shop_first_line(layout.path, layout.file_name) -%}
    {%- if (first_line or '') | trim == '' -%}
        {{ exceptions.raise_compiler_error(layout.file_name ~ ": empty file (no header line)") }}
    {%- endif -%}
    {%- set header = first_line.replace('\ufeff', '') -%}
    {%- set wanted = [] -%}
    {%- for column in shop_columns(table_name) -%}
        {%- do wanted.append(normalised_column_name(column)) -%}
    {%- endfor -%}
    {%- set best = {'found': -1} -%}
    {%- for delimiter in [',', ';', '\t'] -%}
        {%- set fields = [] -%}
        {%- for field in header.split(delimiter) -%}
            {%- do fields.append(field.strip().strip('"').strip("'").strip()) -%}
        {%- endfor -%}
        {%- set normalised = [] -%}
        {%- for field in fields -%}{%- do normalised.append(normalised_column_name(field)) -%}{%- endfor -%}
        {%- set found = wanted | select('in', normalised) | list | length -%}
        {%- if found > best.found -%}
            {%- do best.update({'found': found, 'fields': fields, 'delimiter': delimiter}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return((best.fields, best.delimiter)) }}
{%- endmacro %}

{#-
    The raw rows of one table as a relation: one text column per declared column (named as
    declared), plus source_file and source_row_number.
-#}
{% macro shop_source(table_name) -%}
    {%- if execute -%}
        {{ return(adapter.dispatch('read_shop_file', 'customer_analytics')(
            shop_file_layout(table_name), shop_columns(table_name)
        )) }}
    {%- else -%}
        {{ return('(select 1)') }}
    {%- endif -%}
{%- endmacro %}

{#- Other engines: add `<adapter>__read_shop_file(layout, columns)` returning the same relation. -#}
{% macro default__read_shop_file(layout, columns) -%}
    {{ exceptions.raise_compiler_error(
        "No raw-file reader for the " ~ target.type ~ " adapter: add a macro "
        ~ target.type ~ "__read_shop_file (see macros/shop_source.sql)"
    ) }}
{%- endmacro %}

{#-
    DuckDB: read_csv by position (the header line is skipped, never used for names), every
    column as text, strict quoting; WITH ORDINALITY numbers rows in file order. Parquet:
    native types cast to text, `file_row_number` as the row index.
-#}
{% macro duckdb__read_shop_file(layout, columns) -%}
    {%- if layout.format == 'parquet' -%}
        (
            select
                {% for column in columns -%}
                    cast({{ quoted_identifier(layout.file_columns[layout.positions[column]]) }}
                        as {{ dbt.type_string() }}) as {{ column }},
                {% endfor -%}
                {{ quoted_literal(layout.file_name) }} as source_file,
                file_row_number + 1 as source_row_number
            from read_parquet({{ quoted_literal(layout.path) }}, file_row_number = true)
        )
    {%- else -%}
        (
            select
                {% for column in columns -%}
                    column{{ layout.positions[column] }} as {{ column }},
                {% endfor -%}
                {{ quoted_literal(layout.file_name) }} as source_file,
                ordinality as source_row_number
            from read_csv(
                {{ quoted_literal(layout.path) }},
                columns = {
                    {%- for file_column in layout.file_columns -%}
                        'column{{ loop.index0 }}': 'VARCHAR'{% if not loop.last %}, {% endif %}
                    {%- endfor -%}
                },
                header = true, auto_detect = false, delim = {{ quoted_literal(layout.delimiter) }},
                quote = '"', escape = '"', strict_mode = true
            ) with ordinality
        )
    {%- endif -%}
{%- endmacro %}

{#-
    The engine-specific file probes of `shop_file_layout` (dispatched; Spark's are in
    macros/spark.sql): the files of a folder, the first line of a text file (stopping on
    bytes that are not UTF-8), the columns of a Parquet file.
-#}
{% macro shop_list_files(folder) -%}
    {{ return(adapter.dispatch('shop_list_files', 'customer_analytics')(folder)) }}
{%- endmacro %}

{% macro default__shop_list_files(folder) -%}
    {{ return(run_query(
        'select file from glob(' ~ quoted_literal(folder ~ '/*') ~ ') order by file'
    ).columns[0].values() | list) }}
{%- endmacro %}

{% macro shop_parquet_columns(path) -%}
    {{ return(adapter.dispatch('shop_parquet_columns', 'customer_analytics')(path)) }}
{%- endmacro %}

{% macro default__shop_parquet_columns(path) -%}
    {{ return(run_query(
        'select column_name from (describe select * from read_parquet('
        ~ quoted_literal(path) ~ '))'
    ).columns[0].values() | list) }}
{%- endmacro %}

{% macro shop_first_line(path, file_name) -%}
    {{ return(adapter.dispatch('shop_first_line', 'customer_analytics')(path, file_name)) }}
{%- endmacro %}

{#- DuckDB: the first 100,000 lines are also checked for bytes that are not UTF-8. -#}
{% macro default__shop_first_line(path, file_name) -%}
    {%- set layout = {'path': path, 'file_name': file_name} -%}
    {%- set table_name = modules.re.sub('[^a-z0-9]+', '_', file_name | lower) -%}
    {%- set rejects = 'shop_header_rejects_' ~ (table_name | lower) -%}
    {%- set lines = run_query(
        'select line from read_csv(' ~ quoted_literal(layout.path) ~ ', header = false,'
        ~ " auto_detect = false, columns = {'line': 'VARCHAR'}, delim = '\x1f', quote = '',"
        ~ " escape = '', strict_mode = false, ignore_errors = true, store_rejects = true,"
        ~ " rejects_table = '" ~ rejects ~ "', rejects_scan = '" ~ rejects ~ "_scans')"
        ~ " limit 100000"
    ).columns[0].values() | list -%}
    {%- set bad_lines = run_query(
        'select line from ' ~ rejects ~ ' where scan_id = (select max(scan_id) from ' ~ rejects
        ~ ") and error_type = 'INVALID ENCODING' order by line limit 1"
    ).columns[0].values() | list -%}
    {%- if bad_lines -%}
        {{ exceptions.raise_compiler_error(
            layout.file_name ~ ": not UTF-8 (first invalid byte sequence on line " ~ bad_lines[0]
            ~ "); save the file as UTF-8"
        ) }}
    {%- endif -%}
    {{ return(lines[0] if lines else none) }}
{%- endmacro %}
