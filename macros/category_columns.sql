{#-
    Product categories, for one column per category in customer_features. From the
    `categories` var when set (unit tests set it), otherwise read from the staged products
    at run time, so a business with other categories gets its own columns.
-#}
{% macro product_categories() -%}
    {%- if raw_var('categories') is not none -%}
        {%- set categories = raw_var('categories') -%}
        {%- if categories is string or categories is not iterable -%}
            {{ exceptions.raise_compiler_error(
                "Setting categories must be a list of category names; got " ~ categories | string
            ) }}
        {%- endif -%}
        {{ return(categories | map('string') | unique | sort) }}
    {%- elif execute -%}
        {%- set query -%}
            select distinct category from {{ ref('stg_shop__products') }}
            where category is not null order by category
        {%- endset -%}
        {{ return(run_query(query).columns[0].values() | list) }}
    {%- else -%}
        {{ return([]) }}
    {%- endif -%}
{%- endmacro %}

{#-
    The spend-share column of every category: `spend_share_<slug>`, where the slug is the
    category lowercased with every run of characters other than a-z and 0-9 replaced by `_`
    (`Home Decor` -> `home_decor`, `3D Printers` -> `3d_printers`). A category with no such
    character (e.g. written in Japanese) gets `category_<first 8 hex digits of its md5>`;
    a slug already taken by an earlier category (in sorted order) gets `_2`, `_3`, ...
    Always a valid, unique identifier; the `spend_share_columns` table lists the mapping.
    Returns a list of {category, column_name}, sorted by category.
-#}
{% macro spend_share_columns() -%}
    {%- set columns = [] -%}
    {%- set taken = [] -%}
    {%- for category in product_categories() -%}
        {%- set slug = modules.re.sub('[^a-z0-9]+', '_', category | lower).strip('_') -%}
        {%- if not slug -%}
            {%- set slug = 'category_' ~ local_md5(category)[:8] -%}
        {%- endif -%}
        {%- set name = 'spend_share_' ~ slug -%}
        {%- set ns = namespace(name=name, suffix=1) -%}
        {%- for _ in range(taken | length + 1) if ns.name in taken -%}
            {%- set ns.suffix = ns.suffix + 1 -%}
            {%- set ns.name = name ~ '_' ~ ns.suffix -%}
        {%- endfor -%}
        {%- do taken.append(ns.name) -%}
        {%- do columns.append({'category': category, 'column_name': ns.name}) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#-
    The customer_features columns that segment profiles describe: every behaviour and
    tenure feature plus one spend share per category (region is categorical and profiled
    by the share of each segment's customers instead).
-#}
{% macro profile_features() -%}
    {%- set features = [
        'tenure_days', 'recency_days', 'transaction_count', 'total_revenue', 'total_quantity',
        'average_transaction_value', 'average_basket_size', 'distinct_products',
        'distinct_categories', 'active_months',
    ] -%}
    {%- for column in spend_share_columns() -%}
        {%- do features.append(column.column_name) -%}
    {%- endfor -%}
    {{ return(features) }}
{%- endmacro %}
