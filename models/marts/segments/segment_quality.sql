{#-
    One row: how real the build's segmentation is, from the chosen row of
    segmentation_scores, with a plain-language strength and the caveat that the report and
    segment_profiles show when the structure is weak.
-#}

with chosen as (
    select * from {{ ref('segmentation_scores') }}
    where is_chosen
),

-- the most stable split tried, for the caveat when segment_min_stability rejected all
tried as (
    select max(bootstrap_stability) as best_stability
    from {{ ref('segmentation_scores') }}
    where k >= 2
),

final as (
    select
        cast(chosen.k as {{ dbt.type_bigint() }}) as segment_count,
        cast(chosen.algorithm as {{ dbt.type_string() }}) as algorithm,
        cast(chosen.selection_rule as {{ dbt.type_string() }}) as selection_rule,
        cast(chosen.silhouette as {{ dbt.type_float() }}) as silhouette,
        cast(chosen.davies_bouldin as {{ dbt.type_float() }}) as davies_bouldin,
        cast(chosen.bootstrap_stability as {{ dbt.type_float() }}) as bootstrap_stability,
        cast(chosen.bootstrap_resamples as {{ dbt.type_bigint() }}) as bootstrap_resamples,
        cast(chosen.bootstrap_sample_size as {{ dbt.type_bigint() }}) as bootstrap_sample_size,
        cast(chosen.structure_strength as {{ dbt.type_string() }}) as structure_strength,
        chosen.structure_strength in ('weak structure', 'no stable segments')
            as is_weak_structure,
        cast(case
            when chosen.structure_strength = 'weak structure'
                then
                    'Weak structure: these segments are a convenient split of customers who'
                    || ' differ little, not distinct groups (silhouette '
                    || {{ dbt.cast('round(chosen.silhouette, 2)', dbt.type_string()) }}
                    || ', bootstrap stability '
                    || coalesce(
                        {{ dbt.cast('round(chosen.bootstrap_stability, 2)', dbt.type_string()) }},
                        'not measured'
                    )
                    || '). Read the names as tendencies and check the profiles before acting.'
            when chosen.structure_strength = 'single segment'
                then 'One segment: the customers could not be split.'
            when chosen.structure_strength = 'no stable segments'
                then
                    'One segment: no split of these customers came back on resampled'
                    || ' customers (best bootstrap stability '
                    || coalesce(
                        {{ dbt.cast('round(tried.best_stability, 2)', dbt.type_string()) }},
                        'not measured'
                    )
                    || '), so none is shown.'
            else ''
        end as {{ dbt.type_string() }}) as caveat
    from chosen
    cross join tried
)

select * from final
