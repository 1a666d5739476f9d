"""dbt Python model: one row per customer with its segment, distance to centre and PCA position.

The number of segments is the one flagged `is_chosen` in `segmentation_scores`, so the
k sweep runs once. Segment names are given in SQL (`segment_profiles`, `customer_segments`).
"""

from typing import Any

from customer_analytics.dbt_settings import require_settings
from customer_analytics.segmentation import assign_segments


def model(dbt: Any, session: Any) -> Any:
    settings = require_settings(
        "customer_segment_assignments",
        {
            "features": dbt.config.get("features"),
            "algorithm": dbt.config.get("algorithm"),
            "dbscan_eps": dbt.config.get("dbscan_eps"),
            "dbscan_min_samples": dbt.config.get("dbscan_min_samples"),
            "random_state": dbt.config.get("random_state"),
        },
    )
    return assign_segments(
        dbt.ref("customer_features").df(), scores=dbt.ref("segmentation_scores").df(), **settings
    )
