"""The well-known Mall Customers answer, reproduced with the project's own segmentation.

On ``Annual Income (k$)`` and ``Spending Score (1-100)`` (200 customers), k-means finds five
segments (low/low, low/high, mid/mid, high/low, high/high) with a silhouette of about 0.55.
With the project's declared defaults (dbt_project.yml) except the feature list (the two raw
columns, no log scaling), the default selection rule must choose k = 5.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from customer_analytics.dbt_settings import load_settings
from customer_analytics.segmentation import (
    SegmentationResult,
    assign_segments,
    run_segmentation,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT.parent / "shared/data/mall_customers/Mall_Customers.csv"
FEATURES = ["Annual Income (k$)", "Spending Score (1-100)"]
# Every setting run_segmentation takes except the feature lists, at its declared default.
SEGMENTATION_SETTINGS = [
    name
    for name, parameter in inspect.signature(run_segmentation).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    and name not in {"segment_features", "segment_log_features", "progress"}
]
DEFAULTS = {name: load_settings(REPO_ROOT)[name].default for name in SEGMENTATION_SETTINGS}


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """Small data: OpenMP/BLAS threads only add overhead, and spin when the CPU is busy."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def mall() -> pd.DataFrame:
    if not DATA.is_file():
        pytest.skip(f"{DATA} is not available")
    frame = pd.read_csv(DATA)
    return frame.assign(customer_id=frame["CustomerID"].map("M{:04d}".format))


@pytest.fixture(scope="module")
def result(mall: pd.DataFrame) -> SegmentationResult:
    return run_segmentation(mall, segment_features=FEATURES, segment_log_features=[], **DEFAULTS)


def test_default_rule_chooses_five_segments(result):
    scores = result.scores
    chosen = scores.loc[scores["is_chosen"]].iloc[0]
    assert chosen["k"] == 5
    assert chosen["selection_rule"] == DEFAULTS["segment_selection_rule"]
    assert chosen["silhouette"] >= 0.55
    # k = 5 is also the best k by silhouette among the candidates.
    assert scores.loc[scores["silhouette"].idxmax(), "k"] == 5

    segments = result.assignments
    assert len(segments) == 200
    assert sorted(segments["segment_id"].value_counts().tolist()) == [22, 23, 35, 39, 81]


def test_assign_segments_agrees(mall, result):
    segments = assign_segments(
        mall,
        result.sweep,
        result.scores,
        segment_features=FEATURES,
        segment_log_features=[],
        segment_algorithm=DEFAULTS["segment_algorithm"],
    )
    pd.testing.assert_frame_equal(segments, result.assignments)
    assert segments["segment_id"].nunique() == 5
    # The largest segment is the middle income / middle spending score group.
    middle = mall.set_index("customer_id").loc[
        segments.loc[segments["segment_id"] == 0, "customer_id"], FEATURES
    ]
    assert middle["Annual Income (k$)"].between(39, 76).all()
    assert middle["Spending Score (1-100)"].between(34, 61).all()
    assert middle.mean().round().tolist() == [55.0, 50.0]
