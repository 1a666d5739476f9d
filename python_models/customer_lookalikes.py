"""dbt Python model: for every customer the most similar other customers, with scores.

Cosine similarity on the standardized lookalike feature vector; memory O(customers x k).
"""

from typing import Any

from customer_analytics.dbt_settings import require_settings
from customer_analytics.lookalikes import log_progress_to_stderr
from customer_analytics.spark_lookalikes import lookalikes_for_relation


def model(dbt: Any, session: Any) -> Any:
    settings = require_settings(
        "customer_lookalikes",
        {
            "features": dbt.config.get("features"),
            "log_features": dbt.config.get("log_features"),
            "k": dbt.config.get("lookalikes_per_customer"),
        },
    )
    log_progress_to_stderr()
    # pandas on DuckDB; on Spark the search is distributed over partitions.
    return lookalikes_for_relation(dbt.ref("customer_features"), **settings)
