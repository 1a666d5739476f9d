"""The MetricFlow semantic layer (models/semantic/), answered offline by `mf query`.

One `dbt build` of the bundled data into a scratch DuckDB file, then `mf` as a subprocess,
and every figure it returns is checked against the marts the Power BI report reads.

How `mf` finds this build: MetricFlow always reads ``<dbt project dir>/target/
semantic_manifest.json`` (it ignores ``--target-path`` and ``DBT_TARGET_PATH``), where the
project dir is ``DBT_PROJECT_DIR`` or else the working directory. The build writes its
target folder into the scratch folder, so the scratch folder, with a copy of
dbt_project.yml, is the project dir `mf` is pointed at; profiles.yml still comes from the
repository (``DBT_PROFILES_DIR``), its dev target opening ``CUSTOMER_ANALYTICS_DB``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = pytest.mark.integration

MF = Path(sys.executable).with_name("mf")
# Not needed by the semantic layer: left out to keep the build short.
NOT_NEEDED = "customer_lookalikes+ audience_expansion"
# The segmentation subtree (Python models and the SQL built on them): when it fails to
# build, only the segment checks are skipped; a failure anywhere else fails the fixture.
SEGMENTATION_ROOT = "model.customer_analytics.segmentation_sweep"
FAILED = {"error", "fail", "runtime error", "skipped"}
CENT = 0.005

METRICS = {
    "revenue",
    "transactions",
    "units",
    "active_customers",
    "average_transaction_value",
    "revenue_per_customer",
    "average_basket_size",
    "cumulative_revenue",
    "revenue_growth_mom",
    "customers",
    "customers_per_segment",
    "revenue_per_segment",
}
SEMANTIC_MODELS = {"transactions", "customers", "customer_segments", "products"}


@dataclass(frozen=True)
class SemanticBuild:
    """A finished build plus the folder `mf` treats as the dbt project (see module doc)."""

    project: BuiltProject
    mf_project_dir: Path
    segments_error: str | None
    """Why the segmentation subtree did not build, or None when it did."""

    def mf(self, *args: str) -> str:
        """Run `mf` on this build; its console output, or AssertionError when it fails."""
        env = {
            **os.environ,
            "CUSTOMER_ANALYTICS_DB": str(self.project.database),
            "DBT_PROFILES_DIR": str(REPO_ROOT),
            "DBT_PROJECT_DIR": str(self.mf_project_dir),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        completed = subprocess.run(
            [str(MF), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        output = completed.stdout + completed.stderr
        if completed.returncode != 0:
            raise AssertionError(f"mf {' '.join(args)} failed ({completed.returncode}):\n{output}")
        return output

    def query(
        self, metrics: Iterable[str], group_by: Iterable[str] = (), *extra: str
    ) -> pd.DataFrame:
        """`mf query --csv`, read back as a frame (one column per group-by and metric)."""
        csv_path = self.mf_project_dir / f"query_{uuid.uuid4().hex}.csv"
        args = ["query", "--metrics", ",".join(metrics), "--csv", str(csv_path), "--quiet"]
        group_by = list(group_by)
        if group_by:
            args += ["--group-by", ",".join(group_by)]
        self.mf(*args, *extra)
        return pd.read_csv(csv_path)


def _descendants(manifest: dict[str, Any], root: str) -> set[str]:
    """Every node downstream of ``root`` (models and tests), ``root`` included."""
    found, pending = {root}, [root]
    while pending:
        for child in manifest["child_map"].get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> SemanticBuild:
    workdir = tmp_path_factory.mktemp("semantic_layer")
    project = dbt_build(workdir, exclude=NOT_NEEDED, check=False)
    manifest = json.loads((project.target_dir / "manifest.json").read_text())
    segmentation = _descendants(manifest, SEGMENTATION_ROOT)
    failed = [r for r in project.run_results() if r["status"] in FAILED]
    elsewhere = [r["unique_id"] for r in failed if r["unique_id"] not in segmentation]
    if elsewhere:
        raise AssertionError(f"dbt build failed: {elsewhere}\n{project.output[-6000:]}")
    errors = [f"{r['unique_id']}: {r['message']}" for r in failed if r["status"] != "skipped"]
    segments_error = ("; ".join(errors) or "its models were skipped")[:500] if failed else None

    assert (project.target_dir / "semantic_manifest.json").exists()
    mf_project_dir = project.target_dir.parent
    shutil.copy(REPO_ROOT / "dbt_project.yml", mf_project_dir / "dbt_project.yml")
    return SemanticBuild(project, mf_project_dir, segments_error)


@pytest.fixture(scope="module")
def segments_built(build: SemanticBuild) -> SemanticBuild:
    if build.segments_error is not None:
        pytest.skip(f"customer_segments did not build, no segment figures: {build.segments_error}")
    return build


def _by(frame: pd.DataFrame, key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in frame.to_dict("records")}


def _month(value: Any) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def test_every_metric_and_semantic_model_is_described(build: SemanticBuild) -> None:
    semantic_manifest = json.loads(
        (build.project.target_dir / "semantic_manifest.json").read_text()
    )
    metrics = {m["name"]: m for m in semantic_manifest["metrics"]}
    models = {m["name"]: m for m in semantic_manifest["semantic_models"]}
    assert set(metrics) >= METRICS
    assert set(models) >= SEMANTIC_MODELS
    for item in [*metrics.values(), *models.values()]:
        assert (item.get("description") or "").strip(), f"{item['name']} has no description"
    spines = semantic_manifest["project_configuration"]["time_spines"]
    assert [spine["primary_column"]["name"] for spine in spines] == ["date_day"]


def test_configs_validate(build: SemanticBuild) -> None:
    # The data-warehouse checks query every semantic model, customer_segments included.
    args = ["validate-configs"] + (["--skip-dw"] if build.segments_error else [])
    build.mf(*args)  # exits non-zero on any error


def test_total_revenue_units_and_customers(build: SemanticBuild) -> None:
    result = build.query(["revenue", "transactions", "units", "active_customers"])
    assert len(result) == 1
    expected = build.project.query(
        """
        select
            sum(total_value) as revenue,
            count(*) as transactions,
            sum(quantity) as units,
            count(distinct customer_id) as active_customers
        from transactions
        """
    ).iloc[0]
    actual = result.iloc[0]
    assert actual["revenue"] == pytest.approx(expected["revenue"], abs=CENT)
    for column in ("transactions", "units", "active_customers"):
        assert actual[column] == expected[column], column


def test_monthly_revenue_matches_monthly_sales(build: SemanticBuild) -> None:
    result = build.query(
        ["revenue", "transactions", "units", "active_customers", "average_transaction_value"],
        ["transaction__transaction_date__month"],
    )
    actual = _by(
        result.assign(month=result["transaction__transaction_date__month"].map(_month)), "month"
    )
    monthly = build.project.query("select * from monthly_sales where transactions > 0")
    expected = _by(monthly.assign(month=monthly["sales_month"].map(_month)), "month")
    assert sorted(actual) == sorted(expected)
    for month, row in expected.items():
        assert actual[month]["revenue"] == pytest.approx(row["revenue"], abs=CENT), month
        assert actual[month]["average_transaction_value"] == pytest.approx(
            row["average_transaction_value"], abs=CENT
        ), month
        for column in ("transactions", "units", "active_customers"):
            assert actual[month][column] == row[column], (month, column)


def test_cumulative_revenue_and_growth_match_monthly_sales(build: SemanticBuild) -> None:
    monthly = build.project.query("select * from monthly_sales order by sales_month")
    first, last = _month(monthly["sales_month"].min()), _month(monthly["sales_month"].max())
    end = last + pd.offsets.MonthEnd(0)
    result = build.query(
        ["cumulative_revenue", "revenue_growth_mom"],
        ["metric_time__month"],
        "--start-time",
        first.date().isoformat(),
        "--end-time",
        end.date().isoformat(),
    )
    actual = _by(result.assign(month=result["metric_time__month"].map(_month)), "month")
    expected = _by(monthly.assign(month=monthly["sales_month"].map(_month)), "month")
    assert sorted(actual) == sorted(expected)
    for month, row in expected.items():
        assert actual[month]["cumulative_revenue"] == pytest.approx(
            row["cumulative_revenue"], abs=CENT
        ), month
        # Growth is undefined after a month without sales (and in the first month).
        previous = row["previous_month_revenue"]
        if row["revenue"] > 0 and pd.notna(previous) and previous > 0:
            assert actual[month]["revenue_growth_mom"] == pytest.approx(
                row["revenue_growth"], rel=1e-6
            ), month
    assert pd.isna(actual[first]["revenue_growth_mom"])


def test_revenue_by_customer_region_matches_regional_sales(build: SemanticBuild) -> None:
    result = build.query(
        [
            "revenue",
            "transactions",
            "units",
            "active_customers",
            "average_transaction_value",
            "revenue_per_customer",
        ],
        ["customer__region"],
    )
    actual = _by(result, "customer__region")
    expected = _by(
        build.project.query("select * from regional_sales where transactions > 0"), "region"
    )
    assert sorted(actual) == sorted(expected)
    for region, row in expected.items():
        got = actual[region]
        assert got["revenue"] == pytest.approx(row["revenue"], abs=CENT), region
        assert got["transactions"] == row["transactions"], region
        assert got["units"] == row["units"], region
        assert got["active_customers"] == row["purchasing_customers"], region
        # To the cent: the mart rounds to cents, mf does not.
        assert got["average_transaction_value"] == pytest.approx(
            row["average_transaction_value"], abs=CENT
        ), region
        assert got["revenue_per_customer"] == pytest.approx(
            row["average_revenue_per_customer"], abs=CENT
        ), region


def test_revenue_by_product_category_and_region_matches_category_sales(
    build: SemanticBuild,
) -> None:
    # Two joins from the fact: products (product entity) and customers (customer entity).
    result = build.query(["revenue", "units"], ["product__category", "customer__region"])
    actual = {
        (row["product__category"], row["customer__region"]): row
        for row in result.to_dict("records")
    }
    category_sales = build.project.query("select * from category_sales where transactions > 0")
    expected = {(row["category"], row["region"]): row for row in category_sales.to_dict("records")}
    assert sorted(actual) == sorted(expected)
    for key, row in expected.items():
        assert actual[key]["revenue"] == pytest.approx(row["revenue"], abs=CENT), key
        assert actual[key]["units"] == row["units"], key


def test_customers_and_revenue_per_segment(segments_built: SemanticBuild) -> None:
    result = segments_built.query(
        ["customers_per_segment", "revenue_per_segment"], ["customer__segment_name"]
    )
    actual = _by(result, "customer__segment_name")
    expected = _by(
        segments_built.project.query(
            """
            select
                segments.segment_name,
                count(*) as customers,
                coalesce(sum(revenue.revenue), 0) as revenue
            from customer_segments as segments
            left join (
                select customer_id, sum(total_value) as revenue
                from transactions
                group by customer_id
            ) as revenue
                on segments.customer_id = revenue.customer_id
            group by segments.segment_name
            """
        ),
        "segment_name",
    )
    assert sorted(actual) == sorted(expected)
    for segment, row in expected.items():
        assert actual[segment]["customers_per_segment"] == row["customers"], segment
        revenue = actual[segment]["revenue_per_segment"]  # empty for a segment with no sales
        assert (0.0 if pd.isna(revenue) else revenue) == pytest.approx(row["revenue"], abs=CENT), (
            segment
        )
