{#-
    For each customer the top `recommendations_per_customer` products they have not bought.

    score = lookalike_score
            + segment_backoff_weight x share of the customer's segment who bought the product
            + overall_backoff_weight x share of all customers who bought it
    where lookalike_score sums the similarity of each lookalike who bought the product.
    Lookalike evidence dominates; segment popularity fills in (and orders) the rest, and
    overall popularity breaks what is left, then product_id. Candidates are the products
    of the customer's lookalikes plus the segment's best sellers (enough of them that a
    customer who bought many still gets a full list), never a customer x product matrix.
-#}

{%- set top_n = var('recommendations_per_customer') %}

with lookalikes as (
    select * from {{ ref('customer_lookalikes') }}
),

segments as (
    select * from {{ ref('customer_segments') }}
),

transactions as (
    select * from {{ ref('int_transactions_enriched') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

purchases as (
    select distinct
        customer_id,
        product_id
    from transactions
),

customer_purchase_counts as (
    select
        segments.customer_id,
        segments.segment_id,
        count(purchases.product_id) as distinct_products
    from segments
    left join purchases
        on segments.customer_id = purchases.customer_id
    group by segments.customer_id, segments.segment_id
),

segment_sizes as (
    select
        segment_id,
        count(*) as customers
    from segments
    group by segment_id
),

segment_product_buyers as (
    select
        segments.segment_id,
        purchases.product_id,
        count(*) as buyers
    from purchases
    inner join segments
        on purchases.customer_id = segments.customer_id
    group by segments.segment_id, purchases.product_id
),

segment_popularity as (
    select
        segment_product_buyers.segment_id,
        segment_product_buyers.product_id,
        {{ ratio('segment_product_buyers.buyers', 'segment_sizes.customers') }} as segment_share,
        row_number() over (
            partition by segment_product_buyers.segment_id
            order by segment_product_buyers.buyers desc, segment_product_buyers.product_id asc
        ) as segment_rank
    from segment_product_buyers
    inner join segment_sizes
        on segment_product_buyers.segment_id = segment_sizes.segment_id
),

overall_popularity as (
    select
        product_id,
        {{ ratio('count(*)', '(select count(*) from segments)') }} as overall_share
    from purchases
    group by product_id
),

lookalike_evidence as (
    select
        lookalikes.customer_id,
        purchases.product_id,
        -- summed as an exact decimal: a double sum depends on the (parallel) order of addition,
        -- which changed the last digits (and could change ranks) from one build to the next
        sum(cast(lookalikes.similarity_score as decimal(38, 15))) as lookalike_score,
        count(*) as lookalikes_who_bought
    from lookalikes
    inner join purchases
        on lookalikes.lookalike_customer_id = purchases.customer_id
    group by lookalikes.customer_id, purchases.product_id
),

segment_candidates as (
    select
        customer_purchase_counts.customer_id,
        segment_popularity.product_id
    from customer_purchase_counts
    inner join segment_popularity
        on
            customer_purchase_counts.segment_id = segment_popularity.segment_id
            and segment_popularity.segment_rank
            <= customer_purchase_counts.distinct_products + {{ top_n }}
),

candidates as (
    select
        customer_id,
        product_id
    from lookalike_evidence
    union
    select
        customer_id,
        product_id
    from segment_candidates
),

candidates_not_bought as (
    select candidates.*
    from candidates
    left join purchases
        on
            candidates.customer_id = purchases.customer_id
            and candidates.product_id = purchases.product_id
    where purchases.product_id is null
),

scored as (
    select
        candidates_not_bought.customer_id,
        candidates_not_bought.product_id,
        coalesce(lookalike_evidence.lookalike_score, 0) as lookalike_score,
        coalesce(lookalike_evidence.lookalikes_who_bought, 0) as lookalikes_who_bought,
        coalesce(segment_popularity.segment_share, 0) as segment_share,
        coalesce(overall_popularity.overall_share, 0) as overall_share
    from candidates_not_bought
    inner join customer_purchase_counts
        on candidates_not_bought.customer_id = customer_purchase_counts.customer_id
    left join lookalike_evidence
        on
            candidates_not_bought.customer_id = lookalike_evidence.customer_id
            and candidates_not_bought.product_id = lookalike_evidence.product_id
    left join segment_popularity
        on
            customer_purchase_counts.segment_id = segment_popularity.segment_id
            and candidates_not_bought.product_id = segment_popularity.product_id
    left join overall_popularity
        on candidates_not_bought.product_id = overall_popularity.product_id
),

ranked as (
    select
        scored.*,
        scored.lookalike_score
        + {{ var('segment_backoff_weight') }} * scored.segment_share
        + {{ var('overall_backoff_weight') }} * scored.overall_share as recommendation_score,
        row_number() over (
            partition by scored.customer_id
            order by
                scored.lookalike_score
                + {{ var('segment_backoff_weight') }} * scored.segment_share
                + {{ var('overall_backoff_weight') }} * scored.overall_share desc,
                scored.product_id asc
        ) as recommendation_rank
    from scored
),

final as (
    select
        ranked.customer_id,
        cast(ranked.recommendation_rank as integer) as recommendation_rank,
        ranked.product_id,
        products.product_name,
        products.category,
        products.price,
        cast(ranked.recommendation_score as {{ dbt.type_float() }}) as recommendation_score,
        cast(ranked.lookalike_score as {{ dbt.type_float() }}) as lookalike_score,
        cast(ranked.lookalikes_who_bought as integer) as lookalikes_who_bought,
        ranked.segment_share,
        ranked.overall_share,
        case
            when ranked.lookalikes_who_bought > 0
                then
                    'bought by '
                    || {{ dbt.cast('ranked.lookalikes_who_bought', dbt.type_string()) }}
                    || ' of your most similar customers'
            else 'popular in your segment'
        end as reason
    from ranked
    inner join products
        on ranked.product_id = products.product_id
    where ranked.recommendation_rank <= {{ top_n }}
)

select * from final
order by customer_id, recommendation_rank
