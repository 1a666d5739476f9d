{#-
    One row per segment and clustered feature (the `segment_features` var, resolved by
    segment_profile_features()): the segment's mean in original units, the mean and
    population standard deviation over all customers, and the z-score of the segment mean
    ((segment mean - overall mean) / overall standard deviation). Aggregates first, then
    unpivots the few aggregated rows, so it costs one pass over the customers.
-#}

{%- set features = segment_profile_features() %}

with assignments as (
    select * from {{ ref('customer_segment_assignments') }}
),

customer_features as (
    select * from {{ ref('customer_features') }}
),

features_with_segments as (
    select
        assignments.segment_id,
        {% for feature in features -%}
            {{ dbt.cast('customer_features.' ~ adapter.quote(feature), dbt.type_float()) }}
                as {{ adapter.quote('feature_' ~ loop.index) }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customer_features
    inner join assignments
        on customer_features.customer_id = assignments.customer_id
),

segment_means as (
    select
        segment_id,
        count(*) as customers,
        {% for feature in features -%}
            {{ exact_avg(adapter.quote('feature_' ~ loop.index)) }}
                as {{ adapter.quote('mean_' ~ loop.index) }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from features_with_segments
    group by segment_id
),

overall as (
    select
        {% for feature in features -%}
            {{ exact_avg(adapter.quote('feature_' ~ loop.index)) }}
                as {{ adapter.quote('mean_' ~ loop.index) }},
            {{ exact_stddev_pop(adapter.quote('feature_' ~ loop.index)) }}
                as {{ adapter.quote('stddev_' ~ loop.index) }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from features_with_segments
),

unpivoted as (
    {% for feature in features -%}
        select
            segment_means.segment_id,
            segment_means.customers,
            {{ dbt.string_literal(feature) }} as feature,
            segment_means.{{ adapter.quote('mean_' ~ loop.index) }} as segment_mean,
            overall.{{ adapter.quote('mean_' ~ loop.index) }} as overall_mean,
            overall.{{ adapter.quote('stddev_' ~ loop.index) }} as overall_stddev
        from segment_means
        cross join overall
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

with_z_scores as (
    select
        unpivoted.*,
        coalesce(
            (unpivoted.segment_mean - unpivoted.overall_mean) / nullif(unpivoted.overall_stddev, 0),
            0
        ) as z_score
    from unpivoted
),

final as (
    select
        cast(with_z_scores.segment_id as {{ dbt.type_bigint() }}) as segment_id,
        cast(with_z_scores.customers as {{ dbt.type_bigint() }}) as customers,
        cast(with_z_scores.feature as {{ dbt.type_string() }}) as feature,
        cast(with_z_scores.segment_mean as {{ dbt.type_float() }}) as segment_mean,
        cast(with_z_scores.overall_mean as {{ dbt.type_float() }}) as overall_mean,
        cast(with_z_scores.overall_stddev as {{ dbt.type_float() }}) as overall_stddev,
        cast(with_z_scores.z_score as {{ dbt.type_float() }}) as z_score,
        cast(row_number() over (
            partition by with_z_scores.segment_id
            order by abs(with_z_scores.z_score) desc, with_z_scores.feature asc
        ) as integer) as distinctiveness_rank
    from with_z_scores
)

select * from final
order by segment_id, distinctiveness_rank
