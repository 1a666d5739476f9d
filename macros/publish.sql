{#-
    on-run-end: publish for BI tools after a plain `dbt build` whose every node passed.

    Published are the models whose YAML says `config: {meta: {publish: true}}` (read from the
    graph, never from folder names): copied with their descriptions into a read-only DuckDB
    file swapped in atomically, and one Parquet file each (customer_analytics.publish, reached
    through the SQL function of the project's dbt-duckdb plugin). Never published: a build
    with a failed, errored or skipped node, a partial build (--select, --exclude, --selector,
    --empty) or any other command; the previous published copy then stays exactly as it was.
    Set CUSTOMER_ANALYTICS_NO_PUBLISH=1 to skip publishing.
-#}
{% macro publish_after_build(results) %}
    {%- if execute and flags.WHICH == 'build' -%}
        {{ return(adapter.dispatch('publish_after_build', 'customer_analytics')(results)) }}
    {%- endif -%}
{% endmacro %}

{% macro default__publish_after_build(results) %}
    {%- do log('publishing is implemented for DuckDB targets only: nothing published', info=true) -%}
{% endmacro %}

{% macro duckdb__publish_after_build(results) %}
    {%- set not_passed = [] -%}
    {%- for result in results -%}
        {%- if result.status not in ['success', 'pass', 'warn', 'no-op'] -%}
            {%- do not_passed.append(result.node.unique_id ~ ' ' ~ result.status) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- An interrupted build has no result for the nodes it never started. -#}
    {%- set ran = results | map(attribute='node') | map(attribute='unique_id') | list -%}
    {%- set never_ran = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type in ['model', 'seed', 'snapshot']
            and node.config.materialized != 'ephemeral' and node.unique_id not in ran -%}
            {%- do never_ran.append(node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set args = invocation_args_dict -%}
    {%- set partial = [] -%}
    {%- for flag in ['select', 'exclude', 'selector', 'empty'] -%}
        {%- if args.get(flag) -%}{%- do partial.append('--' ~ flag) -%}{%- endif -%}
    {%- endfor -%}
    {%- if env_var('CUSTOMER_ANALYTICS_NO_PUBLISH', '') not in ['', '0'] -%}
        {%- do log('CUSTOMER_ANALYTICS_NO_PUBLISH is set: nothing published', info=true) -%}
    {%- elif not results -%}
        {%- do log('the build ran no nodes: nothing published', info=true) -%}
    {%- elif not_passed -%}
        {%- do log(
            'not published (' ~ not_passed | length ~ ' node(s) did not pass, e.g. '
            ~ not_passed[0] ~ '): the published copy is unchanged', info=true
        ) -%}
    {%- elif partial or never_ran -%}
        {%- if not partial -%}{%- do partial.append(never_ran[0] ~ ' never ran') -%}{%- endif -%}
        {%- do log(
            'not published: a partial build (' ~ partial | join(', ') ~ '); run a full'
            ~ ' `dbt build` to publish. The published copy is unchanged', info=true
        ) -%}
    {%- else -%}
        {%- set nodes = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- set meta = (node.get('config') or {}).get('meta') or {} -%}
            {%- if node.resource_type == 'model' and meta.get('publish') is sameas true -%}
                {%- set columns = {} -%}
                {%- for key, column in (node.columns or {}).items() -%}
                    {%- do columns.update({key: {
                        'name': column.name,
                        'description': column.description,
                        'data_type': column.data_type,
                    }}) -%}
                {%- endfor -%}
                {%- do nodes.append({
                    'resource_type': 'model',
                    'name': node.name,
                    'schema': node.schema,
                    'alias': node.alias,
                    'description': node.description,
                    'columns': columns,
                    'config': {'meta': meta},
                }) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set payload = {
            'database_path': target.path,
            'catalog': target.database,
            'nodes': nodes,
            'build': {
                'built_at': run_started_at.isoformat(),
                'invocation_id': invocation_id,
                'input_dir': var('input_dir', none),
                'input_format': var('input_format'),
                'vars_given': args.get('vars') or {},
                'dbt_version': dbt_version,
            },
        } -%}
        {%- do customer_analytics_require_plugin('customer_analytics_publish') -%}
        {%- set query -%}
            select customer_analytics_publish({{ customer_analytics_json_literal(payload) }})
        {%- endset -%}
        {#- The query calling the function holds one of DuckDB's threads until it returns, so
            the copies made inside it would run on one thread fewer (at 1M customers 30 s
            instead of 17 s): one more thread while it runs. Set from here, not inside the
            function, which may run on the very worker thread a change of setting joins. -#}
        {%- set threads = run_query("select current_setting('threads')").columns[0].values()[0] | int -%}
        {%- do run_query('set threads = ' ~ (threads + 1)) -%}
        {%- set outcome = run_query(query).columns[0].values()[0] -%}
        {%- do run_query('set threads = ' ~ threads) -%}
        {%- if outcome.startswith('error: ') -%}
            {{ exceptions.raise_compiler_error('Publish: ' ~ outcome[7:]) }}
        {%- endif -%}
        {%- do log(outcome, info=true) -%}
    {%- endif -%}
{% endmacro %}
