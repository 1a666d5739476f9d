"""dbt Python model: one row per customer with its segment, distance to centre and PCA position.

The number of segments is the one flagged `is_chosen` in `segmentation_scores`, so the k sweep
runs once per build. Segment names are given in SQL (`segment_profiles`, `customer_segments`).
"""

from typing import Any

from customer_analytics.dbt_settings import require_settings
from customer_analytics.frames import to_pandas
from customer_analytics.segmentation import assign_segments


def model(dbt: Any, session: Any) -> Any:
    settings = require_settings(
        "customer_segment_assignments",
        {
            "features": dbt.config.get("features"),
            "algorithm": dbt.config.get("algorithm"),
            "eps": dbt.config.get("dbscan_eps"),
            "min_samples": dbt.config.get("dbscan_min_samples"),
            "random_state": dbt.config.get("random_state"),
        },
    )
    scores = to_pandas(dbt.ref("segmentation_scores"))
    chosen = scores.loc[scores["is_chosen"], "k"]
    if len(chosen) != 1:
        raise ValueError(f"segmentation_scores must flag exactly one k, found {len(chosen)}")
    # DBSCAN finds its own k; every other algorithm refits the chosen k.
    n_segments = None if settings["algorithm"] == "dbscan" else int(chosen.iloc[0])
    return assign_segments(
        to_pandas(dbt.ref("customer_features")), n_segments=n_segments, **settings
    )
