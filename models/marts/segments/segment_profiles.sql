{#-
    One row per segment: size, share, business name, what the name means, the features
    that set it apart, and how real the segmentation is (from segment_quality).

    Naming, from the editable `segment_naming_rules` seed (one row per condition; the rows
    of one segment_name form one rule), in plain steps:
      1. a rule holds for a segment only when ALL its conditions hold on the segment's
         profile (segment_feature_profiles): `z_at_least` / `z_at_most` compare the
         segment's z-score, `mean_at_least` / `mean_at_most` its mean in original units.
         A condition on a feature the model did not cluster on can never hold;
      2. each rule is offered to the segment where it holds most strongly (its weakest
         condition's z-score in the rule's direction), and each segment takes the offered
         rule with the best (lowest) `rule_priority` -- "Never Purchased" is priority 1, so
         a segment of non-buyers is never called "At Risk";
      3. segments still unnamed take, the same way, a rule that nobody took in step 2;
      4. any segment left is "Other Customers" (numbered if several), DBSCAN noise
         "Unsegmented".
    So names are unique within a build and each is explained by `naming_rule_meaning`.
-#}

with feature_profiles as (
    select * from {{ ref('segment_feature_profiles') }}
),

naming_rules as (
    select * from {{ ref('segment_naming_rules') }}
),

quality as (
    select * from {{ ref('segment_quality') }}
),

segments as (
    select distinct
        segment_id,
        customers
    from feature_profiles
),

rule_sizes as (
    select
        segment_name,
        count(*) as conditions
    from naming_rules
    group by segment_name
),

condition_checks as (
    select
        feature_profiles.segment_id,
        naming_rules.segment_name,
        naming_rules.meaning,
        naming_rules.rule_priority,
        case
            when naming_rules.condition = 'z_at_least'
                then feature_profiles.z_score >= naming_rules.threshold
            when naming_rules.condition = 'z_at_most'
                then feature_profiles.z_score <= naming_rules.threshold
            when naming_rules.condition = 'mean_at_least'
                then feature_profiles.segment_mean >= naming_rules.threshold
            when naming_rules.condition = 'mean_at_most'
                then feature_profiles.segment_mean <= naming_rules.threshold
            else false
        end as condition_holds,
        case
            when naming_rules.condition in ('z_at_least', 'mean_at_least')
                then feature_profiles.z_score
            else -feature_profiles.z_score
        end as condition_strength
    from feature_profiles
    inner join naming_rules
        on feature_profiles.feature = naming_rules.feature
    where feature_profiles.segment_id >= 0
),

rule_matches as (
    select
        condition_checks.segment_id,
        condition_checks.segment_name,
        min(condition_checks.meaning) as meaning,
        min(condition_checks.rule_priority) as rule_priority,
        min(condition_checks.condition_strength) as match_strength,
        count(*) as conditions_met
    from condition_checks
    where condition_checks.condition_holds
    group by condition_checks.segment_id, condition_checks.segment_name
),

qualifying_matches as (
    select rule_matches.*
    from rule_matches
    inner join rule_sizes
        on rule_matches.segment_name = rule_sizes.segment_name
    where rule_matches.conditions_met = rule_sizes.conditions
),

first_pass_names as (
    {{ strongest_unique_matches('qualifying_matches') }}
),

matches_left_after_first_pass as (
    select * from qualifying_matches
    where
        segment_id not in (select first_pass_names.segment_id from first_pass_names)
        and segment_name not in (select first_pass_names.segment_name from first_pass_names)
),

second_pass_names as (
    {{ strongest_unique_matches('matches_left_after_first_pass') }}
),

rule_names as (
    select
        segment_id,
        segment_name,
        meaning
    from first_pass_names
    union all
    select
        segment_id,
        segment_name,
        meaning
    from second_pass_names
),

named_segments as (
    select
        segments.segment_id,
        segments.customers,
        rule_names.segment_name as rule_name,
        rule_names.meaning,
        row_number() over (
            partition by rule_names.segment_name is null, segments.segment_id < 0
            order by segments.customers desc, segments.segment_id asc
        ) as unnamed_rank
    from segments
    left join rule_names
        on segments.segment_id = rule_names.segment_id
),

top_features as (
    select
        segment_id,
        {{ dbt.listagg(
            measure=dbt.concat([
                'feature', "' ('",
                "case when z_score >= 0 then '+' else '' end",
                dbt.cast('round(z_score, 1)', dbt.type_string()), "' sd)'"
            ]),
            delimiter_text="', '",
            order_by_clause='order by distinctiveness_rank'
        ) }} as top_features
    from feature_profiles
    where distinctiveness_rank <= 3
    group by segment_id
),

final as (
    select
        cast(named_segments.segment_id as {{ dbt.type_bigint() }}) as segment_id,
        cast(case
            when named_segments.segment_id < 0 then 'Unsegmented'
            when named_segments.rule_name is not null then named_segments.rule_name
            when named_segments.unnamed_rank = 1 then 'Other Customers'
            else
                'Other Customers '
                || {{ dbt.cast('named_segments.unnamed_rank', dbt.type_string()) }}
        end as {{ dbt.type_string() }}) as segment_name,
        cast(coalesce(
            named_segments.meaning,
            case
                when named_segments.segment_id < 0
                    then 'Customers DBSCAN left outside every dense segment'
                else 'No naming rule holds for this segment alone'
            end
        ) as {{ dbt.type_string() }}) as naming_rule_meaning,
        cast(named_segments.customers as {{ dbt.type_bigint() }}) as customers,
        cast(
            {{ ratio('named_segments.customers', '(select sum(segments.customers) from segments)') }}
            as {{ dbt.type_float() }}
        ) as customer_share,
        cast(top_features.top_features as {{ dbt.type_string() }}) as top_features,
        quality.structure_strength,
        quality.is_weak_structure,
        quality.caveat
    from named_segments
    inner join top_features
        on named_segments.segment_id = top_features.segment_id
    cross join quality
)

select * from final
order by segment_id
