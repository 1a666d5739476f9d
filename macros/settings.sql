{#-
    on-run-start: check every setting before any model runs. The settings are the vars of
    dbt_project.yml, each with a rule in the `setting_rules` var; the check itself is Python
    (customer_analytics.dbt_settings.settings_problem), reached through the SQL function the
    project's dbt-duckdb plugin registers (customer_analytics.dbt_plugin). A var given on the
    command line that is not a setting, or a bad value, stops the build with one line.
-#}
{% macro check_settings() %}
    {%- if execute -%}
        {{ return(adapter.dispatch('check_settings', 'customer_analytics')()) }}
    {%- endif -%}
{% endmacro %}

{% macro default__check_settings() %}
    {#- Engines without the plugin: the spark engineer's runner checks them in Python. -#}
    {%- do log('settings are checked on DuckDB targets only', info=true) -%}
{% endmacro %}

{% macro duckdb__check_settings() %}
    {%- do customer_analytics_require_plugin('customer_analytics_check_settings') -%}
    {%- set values = {} -%}
    {%- for name in var('setting_rules') -%}
        {#- raw: dbt's var() would render a text value as Jinja (macros/portability.sql) -#}
        {%- set value = raw_var(name) -%}
        {#- YAML turns 2025-01-01 into a date: hand it over as text, like the default. -#}
        {%- if value is not none and not (
            value is string or value is number or value is sequence or value is mapping
        ) -%}
            {%- set value = value ~ '' -%}
        {%- endif -%}
        {%- do values.update({name: value}) -%}
    {%- endfor -%}
    {%- set project_dir = invocation_args_dict.get('project_dir') or '.' -%}
    {%- set feature_node = graph.nodes.get('model.customer_analytics.customer_features', {}) -%}
    {%- set feature_meta = (feature_node.get('config') or {}).get('meta') or {} -%}
    {#- The raw customer file (counted for the k check): input_dir, or the bundled files. -#}
    {%- set input_folder = raw_var('input_dir') or (project_dir ~ '/seeds/shop') -%}
    {%- set payload = {
        'project_root': project_dir | string,
        'cli_vars': invocation_args_dict.get('vars') or {},
        'values': values,
        'feature_columns': (feature_node.get('columns') or {}).keys() | list,
        'feature_patterns': (feature_meta.get('dynamic_columns') or {}).keys() | list,
        'input_folder': input_folder | string,
    } -%}
    {%- set query -%}
        select customer_analytics_check_settings({{ customer_analytics_json_literal(payload) }})
    {%- endset -%}
    {%- set problem = run_query(query).columns[0].values()[0] -%}
    {%- if problem -%}
        {{ exceptions.raise_compiler_error('Settings: ' ~ problem) }}
    {%- endif -%}
{% endmacro %}

{#- A value as a SQL string literal holding its JSON (quotes doubled, nothing else to escape). -#}
{% macro customer_analytics_json_literal(value) -%}
    {%- set text = tojson(value) -%}
    {%- if text is none -%}
        {{ exceptions.raise_compiler_error('cannot hand over as JSON: ' ~ value) }}
    {%- endif -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{#- Stop in one line when the profile lacks the project's dbt-duckdb plugin. -#}
{% macro customer_analytics_require_plugin(function_name) %}
    {%- set query -%}
        select count(*) from duckdb_functions()
        where function_name = {{ dbt.string_literal(function_name) }}
    {%- endset -%}
    {%- if run_query(query).columns[0].values()[0] == 0 -%}
        {{ exceptions.raise_compiler_error(
            'the target ' ~ target.name ~ " lacks the project's dbt-duckdb plugin: add"
            ~ ' `plugins: [{module: customer_analytics.dbt_plugin}]` to it in profiles.yml'
        ) }}
    {%- endif -%}
{% endmacro %}
