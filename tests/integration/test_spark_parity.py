"""The same project on Spark and on DuckDB gives the same key marts (issue 8, docs/spark.md).

The bundled data is built twice: on a local Spark session through the project's runner
(`customer-analytics build --target spark`, every dbt test included, tables written as Parquet
into a scratch warehouse) and on DuckDB. Six marts are then compared row by row: the same
columns, the same keys and the same ids (segments, lookalikes, recommended products) in the
same ranks, and every number equal within ``RTOL`` relative plus ``ATOL`` absolute. The
tolerance only absorbs the last bits of floating-point sums added in a different order
(measured differences are below 1e-15); a cent of rounding, a float32 or a different
neighbour fails.

Needs Java 17 and the ``[spark]`` extra; skipped without them, except where
``CUSTOMER_ANALYTICS_REQUIRE_SPARK=1`` (CI) makes their absence a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = [pytest.mark.integration, pytest.mark.spark]

RTOL = 1e-9
ATOL = 1e-9
SPARK_SCHEMA = "analytics"  # the spark target's schema in profiles.yml
KEY_MARTS: dict[str, list[str]] = {
    "regional_sales": ["region"],
    "monthly_sales": ["sales_month"],
    "customer_features": ["customer_id"],
    "customer_segments": ["customer_id"],
    "customer_lookalikes": ["customer_id", "lookalike_rank"],
    "product_recommendations": ["customer_id", "recommendation_rank"],
}


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None:
        return "java is not on PATH (Java 17, e.g. Debian's openjdk-17-jre-headless)"
    return None


@pytest.fixture(scope="module")
def spark_available() -> None:
    missing = _spark_missing()
    if missing:
        if os.environ.get("CUSTOMER_ANALYTICS_REQUIRE_SPARK") == "1":
            pytest.fail(f"CUSTOMER_ANALYTICS_REQUIRE_SPARK=1 but {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def spark_warehouse(spark_available: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("spark")
    warehouse = workdir / "warehouse"
    command = [
        str(Path(sys.executable).with_name("customer-analytics")),
        "build",
        "--target",
        "spark",
        "--project-dir",
        str(REPO_ROOT),
        "--profiles-dir",
        str(REPO_ROOT),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
    ]
    env = {
        **os.environ,
        "CUSTOMER_ANALYTICS_SPARK_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"Spark build failed:\n{output[-6000:]}"
    assert "Completed successfully" in output
    return warehouse


@pytest.fixture(scope="module")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return dbt_build(tmp_path_factory.mktemp("duckdb"))


def _spark_table(warehouse: Path, table: str) -> pd.DataFrame:
    folder = warehouse / f"{SPARK_SCHEMA}.db" / table
    files = sorted(folder.glob("*.parquet"))
    assert files, f"no Parquet files for {table} in {folder}"
    with duckdb.connect() as connection:
        return connection.read_parquet([str(path) for path in files]).df()


@pytest.mark.parametrize("table", sorted(KEY_MARTS))
def test_spark_and_duckdb_agree(
    table: str, spark_warehouse: Path, duckdb_build: BuiltProject
) -> None:
    keys = KEY_MARTS[table]
    on_duckdb = duckdb_build.query(f"select * from {table}")
    on_spark = _spark_table(spark_warehouse, table)

    assert list(on_spark.columns) == list(on_duckdb.columns)
    assert len(on_duckdb) > 0
    assert len(on_spark) == len(on_duckdb)
    on_duckdb = on_duckdb.sort_values(keys, ignore_index=True)
    on_spark = on_spark.sort_values(keys, ignore_index=True)
    assert not on_duckdb.duplicated(keys).any()

    for column in on_duckdb.columns:
        expected, actual = on_duckdb[column], on_spark[column]
        if pd.api.types.is_float_dtype(expected) or pd.api.types.is_float_dtype(actual):
            np.testing.assert_allclose(
                actual.to_numpy(dtype=float),
                expected.to_numpy(dtype=float),
                rtol=RTOL,
                atol=ATOL,
                equal_nan=True,
                err_msg=f"{table}.{column}",
            )
        elif pd.api.types.is_datetime64_any_dtype(expected):
            pd.testing.assert_series_equal(
                actual.astype("datetime64[us]"), expected.astype("datetime64[us]"), obj=column
            )
        else:
            assert actual.astype(str).tolist() == expected.astype(str).tolist(), (
                f"{table}.{column} differs on Spark"
            )


def test_plain_dbt_on_spark_stops_with_one_line(spark_available: None, tmp_path: Path) -> None:
    """Without the runner, dbt-spark would send the Python models to Databricks and fail
    there; the on-run-start check stops the build first, with one line saying what to run."""
    env = {
        key: value for key, value in os.environ.items() if key != "CUSTOMER_ANALYTICS_SPARK_RUNNER"
    }
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--target",
            "spark",
            "--project-dir",
            str(REPO_ROOT),
            "--profiles-dir",
            str(REPO_ROOT),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        cwd=REPO_ROOT,
        env={**env, "CUSTOMER_ANALYTICS_SPARK_WAREHOUSE": str(tmp_path / "warehouse")},
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    lines = [line for line in output.splitlines() if "customer-analytics build --target" in line]
    assert len(lines) == 1, output[-3000:]
    assert "cannot run through plain dbt on open-source Spark" in lines[0]
    assert "customer_lookalikes" in lines[0]
    assert "databricks" not in output.lower()
    assert not (tmp_path / "warehouse" / "analytics.db" / "customer_lookalikes").exists()
