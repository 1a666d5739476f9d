{#-
    From (segment_id, segment_name, match_strength, rule_priority, ...) rows: offer each name
    to the segment where it matches most strongly, then let each segment keep the name with
    the best (lowest) rule_priority among those it was offered.
    At most one name per segment and one segment per name.
-#}
{% macro strongest_unique_matches(matches) -%}
    select * from (
        select
            offered.*,
            row_number() over (
                partition by offered.segment_id
                order by offered.rule_priority asc, offered.match_strength desc
            ) as rule_rank_for_segment
        from (
            select
                {{ matches }}.*,
                row_number() over (
                    partition by {{ matches }}.segment_name
                    order by {{ matches }}.match_strength desc, {{ matches }}.segment_id asc
                ) as segment_rank_for_rule
            from {{ matches }}
        ) as offered
        where offered.segment_rank_for_rule = 1
    ) as kept
    where kept.rule_rank_for_segment = 1
{%- endmacro %}
