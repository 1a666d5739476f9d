{#- Every trusted customer has exactly one feature row: returns those that do not. -#}

select
    customers.customer_id,
    count(customer_features.customer_id) as feature_rows
from {{ ref('stg_shop__customers') }} as customers
left join {{ ref('customer_features') }} as customer_features
    on customers.customer_id = customer_features.customer_id
group by customers.customer_id
having count(customer_features.customer_id) <> 1
