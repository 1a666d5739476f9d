{#-
    MetricFlow's day-grain time spine: one row per calendar day, used for cumulative metrics,
    time offsets and filling gaps. Built with dbt's cross-database `date_spine` macro (no
    engine-specific series function). The range comes from the `time_spine_start` (inclusive)
    and `time_spine_end` (exclusive) settings, read as checked, quoted date literals.
-#}
{{ config(materialized='table') }}

with days as (
    {{ dbt.date_spine(
        'day',
        date_var('time_spine_start'),
        date_var('time_spine_end')
    ) }}
),

final as (
    select cast(date_day as date) as date_day
    from days
)

select * from final
