{#-
    Product categories, for one column per category in customer_features. From the
    `categories` var when set (unit tests set it), otherwise read from the staged products
    at run time, so a business with other categories gets its own columns.
-#}
{% macro product_categories() -%}
    {%- if var('categories', none) is not none -%}
        {{ return(var('categories') | sort) }}
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

{#- `Home Decor` -> `home_decor`: a safe, lowercase column-name suffix. -#}
{% macro category_slug(category) -%}
    {{ modules.re.sub('[^a-z0-9]+', '_', category | lower).strip('_') }}
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
    {%- for category in product_categories() -%}
        {%- do features.append('spend_share_' ~ category_slug(category)) -%}
    {%- endfor -%}
    {{ return(features) }}
{%- endmacro %}
