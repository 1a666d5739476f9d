{#-
    The customer_features columns the segmentation clustered on: the `segment_features`
    var resolved against the columns of customer_features exactly as the Python package
    resolves it (an exact column name, or a pattern where `*` matches any run of characters
    and `?` one character; pattern matches in table column order; each column once).
    Only numeric and boolean columns can be profiled; categorical ones are left out.
    Declared once: the var; segment_feature_profiles and segment_profiles read it here.
-#}
{% macro segment_profile_features() -%}
    {%- set columns = adapter.get_columns_in_relation(ref('customer_features')) if execute else [] -%}
    {%- if not columns -%}
        {#- parsing, or linting without a database: the plain column names, so the SQL
            stays well-formed -#}
        {%- set plain = [] -%}
        {%- for entry in var('segment_features') if '*' not in entry and '?' not in entry -%}
            {%- do plain.append(entry) -%}
        {%- endfor -%}
        {{ return(plain) }}
    {%- endif -%}
    {%- set resolved = [] -%}
    {%- for entry in var('segment_features') -%}
        {%- set ns = namespace(regex='') -%}
        {%- for char in entry -%}
            {%- if char == '*' -%}
                {%- set ns.regex = ns.regex ~ '.*' -%}
            {%- elif char == '?' -%}
                {%- set ns.regex = ns.regex ~ '.' -%}
            {%- else -%}
                {%- set ns.regex = ns.regex ~ modules.re.escape(char) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for column in columns -%}
            {%- set matched = column.name == entry or modules.re.fullmatch(ns.regex, column.name) -%}
            {%- set profilable = column.is_number() or column.dtype | lower in ('boolean', 'bool') -%}
            {%- if matched and profilable and column.name not in resolved -%}
                {%- do resolved.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(resolved) }}
{%- endmacro %}
