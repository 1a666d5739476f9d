with assignments as (
    select * from {{ ref('customer_segment_assignments') }}
),

segment_profiles as (
    select * from {{ ref('segment_profiles') }}
),

final as (
    select
        assignments.customer_id,
        assignments.segment_id,
        segment_profiles.segment_name,
        assignments.distance_to_centre,
        assignments.pca_1,
        assignments.pca_2,
        assignments.pca_1_explained_variance_ratio,
        assignments.pca_2_explained_variance_ratio,
        assignments.algorithm
    from assignments
    inner join segment_profiles
        on assignments.segment_id = segment_profiles.segment_id
)

select * from final
