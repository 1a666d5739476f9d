"""dbt Python model: every candidate number of segments fitted once, labels kept per customer.

A thin adapter: settings come from this model's YAML config (wired to vars), the work is
`customer_analytics.segmentation.sweep_segmentations`; progress (k, seconds) goes to dbt's log.
"""

from typing import Any

from dbt.adapters.events.logging import AdapterLogger

from customer_analytics.dbt_settings import require_settings
from customer_analytics.features import read_feature_columns
from customer_analytics.segmentation import sweep_segmentations


def model(dbt: Any, session: Any) -> Any:
    settings = require_settings(
        "segmentation_sweep",
        {
            "segment_features": dbt.config.get("segment_features"),
            "segment_log_features": dbt.config.get("segment_log_features"),
            "segment_algorithm": dbt.config.get("segment_algorithm"),
            "segment_k_min": dbt.config.get("segment_k_min"),
            "segment_k_max": dbt.config.get("segment_k_max"),
            "segment_count": dbt.config.get("segment_count"),
            "segment_n_init": dbt.config.get("segment_n_init"),
            "segment_fit_sample_size": dbt.config.get("segment_fit_sample_size"),
            "dbscan_eps": dbt.config.get("dbscan_eps"),
            "dbscan_min_samples": dbt.config.get("dbscan_min_samples"),
            "random_seed": dbt.config.get("random_seed"),
        },
        optional={"segment_count"},
    )
    features = read_feature_columns(dbt.ref("customer_features"), settings["segment_features"])
    logger = AdapterLogger("segmentation_sweep")
    return sweep_segmentations(features, **settings, progress=logger.info)
