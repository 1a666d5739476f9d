"""dbt Python model: one row per customer with its segment, distance to centre and PCA position.

The labels are the ones `segmentation_sweep` stored for the k flagged `is_chosen` in
`segmentation_scores`: nothing is refitted. Segment names are given in SQL
(`segment_profiles`, `customer_segments`).
"""

from typing import Any

from customer_analytics.dbt_settings import require_settings
from customer_analytics.features import read_feature_columns
from customer_analytics.frames import to_pandas
from customer_analytics.segmentation import assign_segments


def model(dbt: Any, session: Any) -> Any:
    settings = require_settings(
        "customer_segment_assignments",
        {
            "segment_features": dbt.config.get("segment_features"),
            "segment_log_features": dbt.config.get("segment_log_features"),
            "segment_algorithm": dbt.config.get("segment_algorithm"),
        },
    )
    return assign_segments(
        read_feature_columns(dbt.ref("customer_features"), settings["segment_features"]),
        to_pandas(dbt.ref("segmentation_sweep")),
        to_pandas(dbt.ref("segmentation_scores")),
        **settings,
    )
