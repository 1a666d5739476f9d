"""dbt Python model: calibration/holdout backtest of Pareto/NBD churn and purchase forecasts."""

from typing import Any

from customer_analytics.dbt_logging import forward_to_dbt
from customer_analytics.dbt_settings import require_settings
from customer_analytics.lifetime_value import churn_backtest


def model(dbt: Any, session: Any) -> Any:
    # Scheduling only (nothing is read): after customer_lifetime_value, which runs after the
    # segmentation (see there), so the two models never hold their memory at the same time
    # and the recommendation models keep a core.
    dbt.ref("customer_lifetime_value")
    forward_to_dbt("customer_analytics.lifetime_value")
    settings = require_settings(
        "churn_backtest",
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
    return churn_backtest(
        # relations, not tables: the package streams the transactions as compact codes
        dbt.ref("transactions"),
        dbt.ref("customers"),
        **settings,
    )
