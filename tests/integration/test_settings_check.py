"""A misspelled var or a bad value stops `dbt build` before any model runs, in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .dbt_runner import dbt_build

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("dbt_vars", "line"),
    [
        (
            {"segment_algoritm": "gaussian_mixture"},
            "Settings: unknown var 'segment_algoritm'; did you mean segment_algorithm?",
        ),
        (
            {"segment_selection_rule": "silhouete"},
            "Settings: segment_selection_rule='silhouete' is not allowed (allowed:"
            " davies_bouldin | silhouette | calinski_harabasz | elbow)",
        ),
        (
            {"as_of_date": "2025-13-01"},
            "Settings: as_of_date='2025-13-01' is not allowed (allowed: date YYYY-MM-DD or null)",
        ),
        (
            {"lookalikes_per_customer": 0},
            "Settings: lookalikes_per_customer=0 is not allowed (allowed: whole number >= 1)",
        ),
        (
            {"segment_features": ["recency_days", "tenur_days"]},
            "Settings: segment_features: 'tenur_days' is not a column of customer_features;"
            " did you mean tenure_days?",
        ),
        # The bundled seeds hold 200 customers (counted from the raw file at on-run-start).
        (
            {"segment_count": 200},
            "Settings: segment_count=200 needs more than 200 customers; the input has 200: use"
            " a segment_count below 200",
        ),
    ],
    ids=["misspelled-var", "enumeration", "date", "range", "feature", "k-vs-customers"],
)
def test_bad_settings_fail_before_any_model_runs(
    tmp_path: Path, dbt_vars: dict[str, Any], line: str
) -> None:
    built = dbt_build(tmp_path, dbt_vars, check=False)
    assert built.returncode != 0
    assert line in built.output
    # Nothing ran: no seed, model or test started, and nothing was published.
    assert " START " not in built.output.replace("START hook", "")
    assert not (tmp_path / "published").exists()
    if built.database.exists():
        assert built.scalar("select count(*) from duckdb_tables()") == 0
