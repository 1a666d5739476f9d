{#-
    MetricFlow's day-grain time spine: one row per calendar day, used for cumulative metrics,
    time offsets and filling gaps. Built with dbt's cross-database `date_spine` macro (no
    engine-specific series function). The range comes from the `time_spine_start` (inclusive)
    and `time_spine_end` (exclusive) vars, defaulting to 2000-01-01 up to 2035-12-31, which
    covers the bundled data (2022-2024) with wide margins.
-#}
{{ config(materialized='table') }}

with days as (
    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('time_spine_start', '2000-01-01') ~ "' as date)",
        "cast('" ~ var('time_spine_end', '2036-01-01') ~ "' as date)"
    ) }}
),

final as (
    select cast(date_day as date) as date_day
    from days
)

select * from final
