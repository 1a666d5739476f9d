"""dbt Python model: the best lookalike audience for a seed list of customers, seed excluded.

The seed list is the `audience_seed_customer_ids` var when set, otherwise the
`audience_seed_customers` seed file (one customer_id per row).
"""

from typing import Any

from customer_analytics.dbt_settings import require_settings
from customer_analytics.frames import to_pandas
from customer_analytics.lookalikes import (
    audience_from_features,
    empty_audience,
    known_customer_ids,
    log_progress_to_stderr,
    read_feature_columns,
)


def model(dbt: Any, session: Any) -> Any:
    # Referenced unconditionally: dbt only registers refs it finds at the top of model().
    seed_file = dbt.ref("audience_seed_customers")
    settings = require_settings(
        "audience_expansion",
        {
            "features": dbt.config.get("features"),
            "log_features": dbt.config.get("log_features"),
            "seed_ids": dbt.config.get("seed_customer_ids"),
            "size": dbt.config.get("size"),
            "min_similarity": dbt.config.get("min_similarity"),
        },
        optional={"seed_ids", "size", "min_similarity"},
    )
    # Ids given in the var must all be customers; the bundled seed file is a demo list, so
    # ids of it that the data does not have are left out rather than failing the build.
    # Those ids are looked up first: when none is a customer no feature is read.
    customer_features = dbt.ref("customer_features")
    from_seed_file = settings["seed_ids"] is None
    if from_seed_file:
        seed_ids = to_pandas(seed_file)["customer_id"].tolist()
        settings["seed_ids"] = known_customer_ids(customer_features, seed_ids)
    if from_seed_file and not settings["seed_ids"]:
        audience = empty_audience()
    else:
        log_progress_to_stderr()
        features = read_feature_columns(customer_features, settings["features"])
        # every seed id is known by now: a var's ids must be, the file's were looked up
        audience = audience_from_features(features, **settings)
    # Text columns as text even without rows (an empty object column reaches DuckDB as NULL);
    # an empty audience is reported, with its reason, by the model's post-hook.
    return audience.astype({"customer_id": "str", "nearest_seed_customer_id": "str"})
