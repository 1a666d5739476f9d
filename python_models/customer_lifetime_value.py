"""dbt Python model: RFM, P(alive), expected purchases and 12-month value per customer."""

from typing import Any

from customer_analytics.dbt_logging import forward_to_dbt
from customer_analytics.dbt_settings import require_settings
from customer_analytics.lifetime_value import customer_lifetime_value


def model(dbt: Any, session: Any) -> Any:
    # Scheduling only (nothing is read): run after the segmentation, so that the build's
    # critical path (features -> lookalikes -> recommendations) gets the cores first and
    # this model fills the core the single-threaded recommendation models leave idle. dbt
    # starts ready models by depth in the graph, and this one would otherwise take both
    # threads before the lookalikes (1M customers: ~10 s sooner to the end).
    dbt.ref("customer_segments")
    forward_to_dbt("customer_analytics.lifetime_value")
    settings = require_settings(
        "customer_lifetime_value",
        {
            "purchase_forecast_days": dbt.config.get("purchase_forecast_days"),
            "churn_risk_high_below": dbt.config.get("churn_risk_high_below"),
            "churn_risk_low_from": dbt.config.get("churn_risk_low_from"),
            "lifetime_value_fit_sample_size": dbt.config.get("lifetime_value_fit_sample_size"),
            "random_seed": dbt.config.get("random_seed"),
            "as_of_date": dbt.config.get("as_of_date"),
        },
        optional=("as_of_date",),
    )
    return customer_lifetime_value(
        # relations, not tables: the package streams the transactions as compact codes
        dbt.ref("transactions"),
        dbt.ref("customers"),
        **settings,
    )
