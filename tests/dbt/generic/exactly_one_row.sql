{#- Fails unless exactly one row of the model satisfies `condition` (e.g. one chosen k). -#}
{% test exactly_one_row(model, condition) %}
select matching_rows
from (
    select count(*) as matching_rows
    from {{ model }}
    where {{ condition }}
) as counted
where matching_rows <> 1
{% endtest %}
