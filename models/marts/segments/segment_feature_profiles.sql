-- depends_on: {{ ref('stg_shop__products') }}
{#-
    One row per segment and feature: the segment's mean in original units, the mean and
    population standard deviation over all customers, and the z-score of the segment mean
    ((segment mean - overall mean) / overall standard deviation). Aggregates first, then
    unpivots the few aggregated rows, so it costs one pass over the customers.
-#}

{%- set features = profile_features() %}

with assignments as (
    select * from {{ ref('customer_segment_assignments') }}
),

customer_features as (
    select * from {{ ref('customer_features') }}
),

features_with_segments as (
    select
        customer_features.*,
        assignments.segment_id
    from customer_features
    inner join assignments
        on customer_features.customer_id = assignments.customer_id
),

segment_means as (
    select
        segment_id,
        count(*) as customers,
        {% for feature in features -%}
            {{ exact_avg(feature) }} as {{ feature }}_mean{% if not loop.last %},{% endif %}
        {% endfor %}
    from features_with_segments
    group by segment_id
),

overall as (
    select
        {% for feature in features -%}
            {{ exact_avg(feature) }} as {{ feature }}_mean,
            {{ exact_stddev_pop(feature) }} as {{ feature }}_stddev{% if not loop.last %},{% endif %}
        {% endfor %}
    from features_with_segments
),

unpivoted as (
    {% for feature in features -%}
        select
            segment_means.segment_id,
            segment_means.customers,
            '{{ feature }}' as feature,
            cast(segment_means.{{ feature }}_mean as {{ dbt.type_float() }}) as segment_mean,
            cast(overall.{{ feature }}_mean as {{ dbt.type_float() }}) as overall_mean,
            cast(overall.{{ feature }}_stddev as {{ dbt.type_float() }}) as overall_stddev
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
        with_z_scores.*,
        cast(row_number() over (
            partition by with_z_scores.segment_id
            order by abs(with_z_scores.z_score) desc, with_z_scores.feature asc
        ) as integer) as distinctiveness_rank
    from with_z_scores
)

select * from final
order by segment_id, distinctiveness_rank
