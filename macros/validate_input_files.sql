{#-
    on-run-start: when reading from `input_dir`, check that each file exists and has the
    expected columns before any model runs, and stop with a message naming the file.
    (Rows are checked later, in staging; malformed CSV lines stop the reader itself with
    the file and line number.)
-#}
{% macro validate_input_files() %}
    {%- if execute and var('input_dir') and flags.WHICH in ('build', 'run', 'test') -%}
        {%- set expected = {
            'Customers': ['CustomerID', 'CustomerName', 'Region', 'SignupDate'],
            'Products': ['ProductID', 'ProductName', 'Category', 'Price'],
            'Transactions': [
                'TransactionID', 'CustomerID', 'ProductID', 'TransactionDate',
                'Quantity', 'TotalValue', 'Price',
            ],
        } -%}
        {%- for table_name, columns in expected.items() -%}
            {%- set path = var('input_dir') ~ '/' ~ table_name ~ '.' ~ var('input_format') -%}
            {%- set found = run_query(
                "select count(*) from glob('" ~ path ~ "')"
            ).columns[0].values()[0] -%}
            {%- if found == 0 -%}
                {{ exceptions.raise_compiler_error(
                    "Input file " ~ path ~ " not found (input_dir=" ~ var('input_dir')
                    ~ ", input_format=" ~ var('input_format') ~ ")"
                ) }}
            {%- endif -%}
            {%- if var('input_format') == 'parquet' -%}
                {%- set header = run_query(
                    "select column_name from (describe select * from read_parquet('" ~ path ~ "'))"
                ).columns[0].values() | list -%}
            {%- else -%}
                {%- set first_line = run_query(
                    "select line from read_csv('" ~ path ~ "', header = false, auto_detect = false,"
                    ~ " columns = {'line': 'VARCHAR'}, delim = '\x1f', quote = '', escape = '',"
                    ~ " strict_mode = false) limit 1"
                ).columns[0].values()[0] -%}
                {%- set header = (first_line or '').strip().split(',') | map('trim') | list -%}
            {%- endif -%}
            {%- if header != columns -%}
                {{ exceptions.raise_compiler_error(
                    "Input file " ~ path ~ " has columns " ~ header | join(', ')
                    ~ "; expected " ~ columns | join(', ') ~ " (the Zeotap layout, in this order)"
                ) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
