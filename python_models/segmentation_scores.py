"""dbt Python model: one row per candidate number of segments, with quality scores.

A thin adapter: settings come from this model's YAML config (wired to vars), the work is
`customer_analytics.segmentation.score_segmentations` on the labels `segmentation_sweep`
stored (nothing is refitted, except the chosen k on the bootstrap resamples).
"""

from typing import Any

from dbt.adapters.events.logging import AdapterLogger

from customer_analytics.dbt_settings import require_settings
from customer_analytics.features import read_feature_columns
from customer_analytics.frames import read_columns
from customer_analytics.segmentation import score_segmentations, sweep_label_columns


def model(dbt: Any, session: Any) -> Any:
    settings = require_settings(
        "segmentation_scores",
        {
            "segment_features": dbt.config.get("segment_features"),
            "segment_log_features": dbt.config.get("segment_log_features"),
            "segment_algorithm": dbt.config.get("segment_algorithm"),
            "segment_selection_rule": dbt.config.get("segment_selection_rule"),
            "segment_k_tolerance": dbt.config.get("segment_k_tolerance"),
            "segment_min_stability": dbt.config.get("segment_min_stability"),
            "segment_count": dbt.config.get("segment_count"),
            "segment_n_init": dbt.config.get("segment_n_init"),
            "silhouette_sample_size": dbt.config.get("silhouette_sample_size"),
            "segment_bootstrap_resamples": dbt.config.get("segment_bootstrap_resamples"),
            "segment_bootstrap_sample_size": dbt.config.get("segment_bootstrap_sample_size"),
            "random_seed": dbt.config.get("random_seed"),
        },
        optional={"segment_count"},
    )
    features = read_feature_columns(dbt.ref("customer_features"), settings["segment_features"])
    # the labels only (not the PCA columns): a quarter less memory while the lookalikes run
    sweep_relation = dbt.ref("segmentation_sweep")
    sweep = read_columns(
        sweep_relation, sweep_label_columns(sweep_relation.columns), "segmentation_sweep"
    ).to_pandas()
    logger = AdapterLogger("segmentation_scores")
    return score_segmentations(features, sweep, **settings, progress=logger.info)
