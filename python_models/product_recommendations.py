"""dbt Python model: every customer's top-N products not yet bought, blended as backtested."""

from typing import Any

from customer_analytics.dbt_logging import forward_to_dbt
from customer_analytics.dbt_settings import require_settings
from customer_analytics.recommendations import Weights, recommend_products


def model(dbt: Any, session: Any) -> Any:
    forward_to_dbt("customer_analytics.recommendations")
    settings = require_settings(
        "product_recommendations",
        {
            "recommendations_per_customer": dbt.config.get("recommendations_per_customer"),
            "recommendation_item_neighbours": dbt.config.get("recommendation_item_neighbours"),
            "as_of_date": dbt.config.get("as_of_date"),
        },
        optional=("as_of_date",),
    )
    chosen = (
        dbt.ref("recommendation_backtest")
        .filter("method = 'blended_recommender'")
        .project(
            "weight_item_similarity, weight_lookalike, weight_segment_popularity,"
            " weight_overall_popularity"
        )
        .fetchall()
    )
    return recommend_products(
        dbt.ref("transactions")
        .project("customer_id, product_id, transaction_date")
        .to_arrow_table(),
        dbt.ref("customer_segments").project("customer_id, segment_id").to_arrow_table(),
        dbt.ref("products").project("product_id, product_name, category, price").to_arrow_table(),
        dbt.ref("customer_lookalikes")
        .project("customer_id, lookalike_customer_id, similarity_score")
        .to_arrow_table(),
        Weights(*chosen[0]),
        **settings,
    )
