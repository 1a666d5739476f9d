{#-
    Post-hook of audience_expansion: an empty audience is a warning with its reason, not a
    silently empty table. The reasons, checked in order: no seed customer is in the data
    (the bundled demo seed list on other data, say), every customer is a seed, or no other
    customer reaches `audience_min_similarity`.
-#}
{% macro warn_if_audience_is_empty() %}
    {%- if execute -%}
        {%- set rows = run_query('select count(*) from ' ~ this).columns[0].values()[0] -%}
        {%- if rows == 0 -%}
            {%- set ids = var('audience_seed_customer_ids', none) -%}
            {%- if ids is none -%}
                {%- set source = 'the seed file seeds/config/audience_seed_customers.csv' -%}
                {%- set seeds_sql = 'select customer_id from ' ~ ref('audience_seed_customers') -%}
            {%- else -%}
                {%- set source = 'the audience_seed_customer_ids var' -%}
                {%- set literals = [] -%}
                {%- for id in ids -%}
                    {%- do literals.append("('" ~ (id | string | replace("'", "''")) ~ "')") -%}
                {%- endfor -%}
                {%- set seeds_sql = 'select * from (values ' ~ literals | join(', ')
                    ~ ') as given (customer_id)' -%}
            {%- endif -%}
            {%- set counts -%}
                with seeds as ({{ seeds_sql }})
                select
                    (select count(distinct customer_id) from seeds) as seeds,
                    (
                        select count(*) from {{ ref('customer_features') }}
                        where customer_id in (select customer_id from seeds)
                    ) as known_seeds,
                    (select count(*) from {{ ref('customer_features') }}) as customers
            {%- endset -%}
            {%- set found = run_query(counts).rows[0] -%}
            {%- if found[1] == 0 -%}
                {%- set reason = 'none of the ' ~ found[0] ~ ' seed customer(s) of ' ~ source
                    ~ ' is a customer of this data: give ids that exist, e.g. --vars'
                    ~ " '{audience_seed_customer_ids: [C0001, C0002]}'" -%}
            {%- elif found[1] >= found[2] -%}
                {%- set reason = 'every customer is a seed customer: nobody is left to add' -%}
            {%- else -%}
                {%- set reason = 'no other customer reaches audience_min_similarity='
                    ~ var('audience_min_similarity') ~ ': lower it or unset it' -%}
            {%- endif -%}
            {%- do exceptions.warn('audience_expansion is empty: ' ~ reason) -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
