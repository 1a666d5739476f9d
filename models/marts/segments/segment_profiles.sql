-- depends_on: {{ ref('stg_shop__products') }}
{#-
    One row per segment: size, share, business name, the features that set it apart, and
    each feature's mean (original units) and z-score against all customers.

    Naming, from the editable `segment_naming_rules` seed, in plain steps:
      1. a rule matches a segment when the rule's feature is at least `min_z_score`
         standard deviations above (direction `high`) or below (`low`) the average customer;
      2. each rule is offered to the segment where its feature stands out most, and each
         segment takes the offered rule with the best (lowest) `rule_priority`, so the more
         actionable names (High Spenders, At Risk) win over descriptive ones (Bookworms);
      3. segments still unnamed take, the same way, a rule that nobody took in step 2;
      4. any segment left is named "Core Customers" (numbered if several), DBSCAN noise
         "Unsegmented".
    So names are unique within a build, and each is explained by `naming_rule_meaning`.
-#}

{%- set features = profile_features() %}

with feature_profiles as (
    select * from {{ ref('segment_feature_profiles') }}
),

naming_rules as (
    select * from {{ ref('segment_naming_rules') }}
),

segments as (
    select distinct
        segment_id,
        customers
    from feature_profiles
),

rule_matches as (
    select
        feature_profiles.segment_id,
        naming_rules.segment_name,
        naming_rules.meaning,
        naming_rules.rule_priority,
        naming_rules.min_z_score,
        case
            when naming_rules.direction = 'high' then feature_profiles.z_score
            else -feature_profiles.z_score
        end as match_strength
    from feature_profiles
    inner join naming_rules
        on feature_profiles.feature = naming_rules.feature
    where feature_profiles.segment_id >= 0
),

qualifying_matches as (
    select * from rule_matches
    where match_strength >= min_z_score
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

feature_columns as (
    select
        segment_id,
        {% for feature in features -%}
            max(case when feature = '{{ feature }}' then segment_mean end) as {{ feature }}_mean,
            max(case when feature = '{{ feature }}' then z_score end) as {{ feature }}_z_score
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from feature_profiles
    group by segment_id
),

final as (
    select
        named_segments.segment_id,
        case
            when named_segments.segment_id < 0 then 'Unsegmented'
            when named_segments.rule_name is not null then named_segments.rule_name
            when named_segments.unnamed_rank = 1 then 'Core Customers'
            else
                'Core Customers '
                || {{ dbt.cast('named_segments.unnamed_rank', dbt.type_string()) }}
        end as segment_name,
        coalesce(
            named_segments.meaning,
            case
                when named_segments.segment_id < 0
                    then 'Customers DBSCAN left outside every dense segment'
                else 'Close to the average customer on every named feature'
            end
        ) as naming_rule_meaning,
        named_segments.customers,
        {{ ratio('named_segments.customers', '(select sum(segments.customers) from segments)') }}
            as customer_share,
        top_features.top_features,
        {% for feature in features -%}
            feature_columns.{{ feature }}_mean,
            feature_columns.{{ feature }}_z_score{% if not loop.last %},{% endif %}
        {% endfor %}
    from named_segments
    inner join top_features
        on named_segments.segment_id = top_features.segment_id
    inner join feature_columns
        on named_segments.segment_id = feature_columns.segment_id
)

select * from final
order by segment_id
