"""dbt Python model: every customer's top-N products not yet bought, blended as backtested."""

from typing import Any

from customer_analytics.dbt_logging import forward_to_dbt
from customer_analytics.dbt_settings import require_settings
from customer_analytics.frames import arrow_columns
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
    chosen = arrow_columns(
        dbt.ref("recommendation_backtest"),
        "weight_item_similarity, weight_lookalike, weight_segment_popularity,"
        " weight_overall_popularity",
        where="method = 'blended_recommender'",
    ).to_pylist()
    return recommend_products(
        # relations, not tables: the package streams the large ones as compact codes
        dbt.ref("transactions"),
        dbt.ref("customer_segments"),
        dbt.ref("products"),
        dbt.ref("customer_lookalikes"),
        Weights(*chosen[0].values()),
        **settings,
    )
