{#-
    Monthly sales, optionally split by one dimension (`region` or `category`).
    Every month of the spine appears for every dimension value, with zeros where nothing
    sold, and month-over-month growth is computed within the dimension value.

    dimension:       column of int_transactions_enriched to split by, or none for the total
    dimension_model: the model listing every value of the dimension (so values with no
                     sales at all still get their zero rows)
-#}
{% macro monthly_sales_rollup(dimension=none, dimension_model=none) %}

with transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

months as (
    select * from {{ ref('int_sales_months') }}
),

{% if dimension %}
dimension_values as (
    select distinct {{ dimension }}
    from {{ ref(dimension_model) }}
    where {{ dimension }} is not null
),
{% endif %}

month_grid as (
    select
        months.sales_month{% if dimension %},
        dimension_values.{{ dimension }}{% endif %}
    from months
    {% if dimension %}cross join dimension_values{% endif %}
),

sales_aggregated_to_month as (
    select
        sales_month,
        {% if dimension %}{{ dimension }},{% endif %}
        sum(total_value) as revenue,
        count(*) as transactions,
        {{ sum_as_bigint('quantity') }} as units,
        count(distinct customer_id) as active_customers
    from transactions
    group by sales_month{% if dimension %}, {{ dimension }}{% endif %}
),

sales_on_grid as (
    select
        month_grid.sales_month,
        {% if dimension %}month_grid.{{ dimension }},{% endif %}
        coalesce(sales_aggregated_to_month.revenue, 0) as revenue,
        coalesce(sales_aggregated_to_month.transactions, 0) as transactions,
        coalesce(sales_aggregated_to_month.units, 0) as units,
        coalesce(sales_aggregated_to_month.active_customers, 0) as active_customers
    from month_grid
    left join sales_aggregated_to_month
        on month_grid.sales_month = sales_aggregated_to_month.sales_month
        {% if dimension %}and month_grid.{{ dimension }} = sales_aggregated_to_month.{{ dimension }}{% endif %}
),

with_previous_month as (
    select
        sales_on_grid.*,
        lag(revenue) over (
            {% if dimension %}partition by {{ dimension }}{% endif %}
            order by sales_month
        ) as previous_month_revenue,
        sum(revenue) over (
            {% if dimension %}partition by {{ dimension }}{% endif %}
            order by sales_month
            rows between unbounded preceding and current row
        ) as cumulative_revenue
    from sales_on_grid
),

final as (
    select
        sales_month,
        {% if dimension %}{{ dimension }},{% endif %}
        {{ money('revenue') }} as revenue,
        transactions,
        units,
        active_customers,
        {{ money(ratio('revenue', 'transactions')) }} as average_transaction_value,
        {{ money('previous_month_revenue') }} as previous_month_revenue,
        {#- divided as doubles: Spark would round a decimal quotient to 6 places -#}
        cast(revenue - previous_month_revenue as {{ dbt.type_float() }})
        / nullif(cast(previous_month_revenue as {{ dbt.type_float() }}), 0) as revenue_growth,
        {{ money('cumulative_revenue') }} as cumulative_revenue
    from with_previous_month
)

select * from final
order by sales_month{% if dimension %}, {{ dimension }}{% endif %}

{% endmacro %}
