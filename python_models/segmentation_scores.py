"""dbt Python model: one row per candidate number of segments, with quality scores.

A thin adapter: settings come from this model's YAML config (wired to vars), the work is
`customer_analytics.segmentation.score_segmentations`.
"""

from typing import Any

from customer_analytics.dbt_settings import require_settings
from customer_analytics.frames import to_pandas
from customer_analytics.segmentation import score_segmentations


def model(dbt: Any, session: Any) -> Any:
    settings = require_settings(
        "segmentation_scores",
        {
            "features": dbt.config.get("features"),
            "algorithm": dbt.config.get("algorithm"),
            "k_min": dbt.config.get("k_min"),
            "k_max": dbt.config.get("k_max"),
            "selection_rule": dbt.config.get("selection_rule"),
            "n_segments": dbt.config.get("n_segments"),
            "silhouette_sample_size": dbt.config.get("silhouette_sample_size"),
            "eps": dbt.config.get("dbscan_eps"),
            "min_samples": dbt.config.get("dbscan_min_samples"),
            "random_state": dbt.config.get("random_state"),
        },
        optional={"n_segments"},
    )
    return score_segmentations(to_pandas(dbt.ref("customer_features")), **settings)
