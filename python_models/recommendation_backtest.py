"""dbt Python model: hit-rate@N of the recommender and of two baselines on held-out days."""

from typing import Any

from customer_analytics.dbt_logging import forward_to_dbt
from customer_analytics.dbt_settings import require_settings
from customer_analytics.recommendations import recommendation_backtest


def model(dbt: Any, session: Any) -> Any:
    forward_to_dbt("customer_analytics.recommendations")
    settings = require_settings(
        "recommendation_backtest",
        {
            "recommendations_per_customer": dbt.config.get("recommendations_per_customer"),
            "recommendation_holdout_days": dbt.config.get("recommendation_holdout_days"),
            "recommendation_item_neighbours": dbt.config.get("recommendation_item_neighbours"),
            "recommendation_tuning_sample_size": dbt.config.get(
                "recommendation_tuning_sample_size"
            ),
            "recommendation_backtest_sample_size": dbt.config.get(
                "recommendation_backtest_sample_size"
            ),
            "random_seed": dbt.config.get("random_seed"),
            "as_of_date": dbt.config.get("as_of_date"),
        },
        optional=("as_of_date",),
    )
    return recommendation_backtest(
        # relations, not tables: the package streams the large ones as compact codes
        dbt.ref("transactions"),
        dbt.ref("customer_segments"),
        dbt.ref("products"),
        dbt.ref("customer_lookalikes"),
        **settings,
    )
