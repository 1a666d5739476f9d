{#-
    The one place where raw data enters the project.

    With `--vars '{input_dir: <folder>}'` the three tables are read straight from files in
    that folder through the `shop` source (DuckDB's CSV or Parquet reader, no `dbt seed`,
    so tens of millions of rows work). Without it, the bundled demo seeds stand in for the
    source. Either way every row gets its origin: `source_file` and `source_row_number`
    (1 = the first data row after the header, in file order), so a quarantined row can be
    found in the file it came from.
-#}
{% macro shop_source(table_name) -%}
    {%- if var('input_dir') and target.type == 'spark' -%}
        {#- Spark: the table over the file (`spark__prepare_engine`, macros/spark.sql). -#}
        {%- set relation = api.Relation.create(schema='raw', identifier=table_name) -%}
        {%- set file_expression = spark_string_literal(spark_input_path(table_name)) -%}
    {%- elif var('input_dir') -%}
        {%- set relation = source('shop', table_name) -%}
        {%- set file_expression = 'filename' -%}
    {%- else -%}
        {%- set relation = ref(table_name) -%}
        {%- set file_expression = "'seeds/shop/" ~ table_name ~ ".csv'" -%}
    {%- endif -%}
    (
        select
            raw_rows.*,
            {{ file_expression }} as source_file,
            {{ source_row_number() }} as source_row_number
        from {{ relation }} as raw_rows
    )
{%- endmacro %}
