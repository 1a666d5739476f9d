"""Segments, lookalikes, audience and recommendations from a real `dbt build`.

Quality is proven on data whose truth is known (the generator's planted archetypes) and
the stored figures are checked against an independent scikit-learn recomputation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score
from sklearn.preprocessing import StandardScaler

from customer_analytics import cli, generate

from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = pytest.mark.integration

PROJECT_VARS = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
K = PROJECT_VARS["lookalikes_per_customer"]
ML_MODELS = "+customer_segments +product_recommendations +audience_expansion"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return dbt_build(tmp_path_factory.mktemp("bundled"), select=ML_MODELS)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltProject, pd.DataFrame]:
    data = tmp_path_factory.mktemp("generated-data")
    arguments = ["--customers", "3000", "--products", "100", "--transactions", "15000"]
    assert generate.main([*arguments, "--seed", "7", "--out", str(data), "--quiet"]) == 0
    built = dbt_build(
        tmp_path_factory.mktemp("generated-build"), {"input_dir": str(data)}, select=ML_MODELS
    )
    return built, _truth(data / "truth" / "customer_archetypes.csv")


@pytest.fixture(scope="module")
def zeotap(tmp_path_factory: pytest.TempPathFactory, zeotap_dir: Path) -> BuiltProject:
    return dbt_build(
        tmp_path_factory.mktemp("zeotap-ml"), {"input_dir": str(zeotap_dir)}, select=ML_MODELS
    )


def _truth(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).rename(columns={"CustomerID": "customer_id", "Archetype": "archetype"})


def _segments_recover_archetypes(built: BuiltProject, truth: pd.DataFrame) -> float:
    segments = built.query("select customer_id, segment_id from customer_segments")
    merged = segments.merge(truth, on="customer_id", validate="one_to_one")
    assert len(merged) == len(truth)
    return adjusted_rand_score(merged["archetype"], merged["segment_id"])


def _lookalikes_sharing_archetype(built: BuiltProject, truth: pd.DataFrame) -> float:
    lookalikes = built.query("select customer_id, lookalike_customer_id from customer_lookalikes")
    archetype = truth.set_index("customer_id")["archetype"]
    same = lookalikes["customer_id"].map(archetype) == lookalikes["lookalike_customer_id"].map(
        archetype
    )
    return float(same.mean())


@pytest.fixture(params=["bundled", "generated"])
def with_truth(
    request: pytest.FixtureRequest,
    bundled: BuiltProject,
    generated: tuple[BuiltProject, pd.DataFrame],
) -> tuple[BuiltProject, pd.DataFrame]:
    """A build and its planted archetypes: the bundled seeds, and 3,000 generated customers."""
    if request.param == "bundled":
        return bundled, _truth(REPO_ROOT / "data" / "demo_truth" / "customer_archetypes.csv")
    return generated


def test_segmentation_recovers_planted_archetypes(
    with_truth: tuple[BuiltProject, pd.DataFrame],
) -> None:
    built, truth = with_truth
    assert built.scalar("select k from segmentation_scores where is_chosen") == 5
    assert _segments_recover_archetypes(built, truth) >= 0.8


def test_lookalikes_share_the_customers_archetype(
    with_truth: tuple[BuiltProject, pd.DataFrame],
) -> None:
    built, truth = with_truth
    assert _lookalikes_sharing_archetype(built, truth) >= 0.9


def test_segment_names_are_unique_business_names(bundled: BuiltProject) -> None:
    profiles = bundled.query("select segment_name, customers from segment_profiles")
    assert profiles["segment_name"].is_unique
    assert profiles["customers"].sum() == bundled.scalar("select count(*) from customers")
    rules = pd.read_csv(REPO_ROOT / "seeds" / "config" / "segment_naming_rules.csv")
    assert set(profiles["segment_name"]) <= set(rules["segment_name"]) | {"Core Customers"}


def test_every_zeotap_customer_gets_exactly_k_lookalikes(zeotap: BuiltProject) -> None:
    lookalikes = zeotap.query("select * from customer_lookalikes")
    per_customer = lookalikes.groupby("customer_id").size()
    assert len(per_customer) == 200
    assert (per_customer == K).all()
    assert (lookalikes["customer_id"] != lookalikes["lookalike_customer_id"]).all()
    ordered = lookalikes.sort_values(["customer_id", "lookalike_rank"])
    descending = ordered.groupby("customer_id")["similarity_score"].apply(
        lambda scores: scores.is_monotonic_decreasing
    )
    assert descending.all()


def test_stored_davies_bouldin_matches_sklearn(zeotap: BuiltProject) -> None:
    features = zeotap.query("select * from customer_features order by customer_id")
    labels = zeotap.query("select customer_id, segment_id from customer_segments order by 1")
    stored = zeotap.scalar("select davies_bouldin from segmentation_scores where is_chosen")
    columns = [
        column
        for pattern in PROJECT_VARS["segment_features"]
        for column in features.columns
        if column == pattern or (pattern.endswith("*") and column.startswith(pattern[:-1]))
    ]
    matrix = StandardScaler().fit_transform(features[columns].to_numpy(dtype=float))
    assert (features["customer_id"].to_numpy() == labels["customer_id"].to_numpy()).all()
    assert stored == pytest.approx(davies_bouldin_score(matrix, labels["segment_id"]), rel=1e-9)


def test_recommendations_are_new_products_ranked(zeotap: BuiltProject) -> None:
    recommendations = zeotap.query("select * from product_recommendations")
    per_customer = recommendations.groupby("customer_id").size()
    assert (per_customer == PROJECT_VARS["recommendations_per_customer"]).all()
    assert len(per_customer) == 200
    bought = zeotap.query(
        "select distinct customer_id, product_id from staging.stg_shop__transactions"
    )
    overlap = recommendations.merge(bought, on=["customer_id", "product_id"])
    assert overlap.empty
    ordered = recommendations.sort_values(["customer_id", "recommendation_rank"])
    assert (
        ordered.groupby("customer_id")["recommendation_score"]
        .apply(lambda scores: scores.is_monotonic_decreasing)
        .all()
    )


def test_audience_excludes_the_seed_and_is_ranked(zeotap: BuiltProject) -> None:
    audience = zeotap.query("select * from audience_expansion order by audience_rank")
    seed = pd.read_csv(REPO_ROOT / "seeds" / "config" / "audience_seed_customers.csv")
    assert len(audience) == PROJECT_VARS["audience_size"]
    assert not set(audience["customer_id"]) & set(seed["customer_id"])
    assert set(audience["nearest_seed_customer_id"]) <= set(seed["customer_id"])
    assert audience["similarity_score"].is_monotonic_decreasing


def test_zeotap_lookalike_deliverable(zeotap: BuiltProject, tmp_path: Path) -> None:
    output = tmp_path / "Lookalike.csv"
    assert (
        cli.main(["lookalikes-csv", "--database", str(zeotap.database), "--output", str(output)])
        == 0
    )
    frame = pd.read_csv(output)
    assert frame["cust_id"].tolist() == [f"C{number:04d}" for number in range(1, 21)]
    first = zeotap.query(
        "select lookalike_customer_id, similarity_score from customer_lookalikes"
        " where customer_id = 'C0001' order by lookalike_rank"
    )
    expected = str(
        [(row.lookalike_customer_id, round(row.similarity_score, 4)) for row in first.itertuples()]
    )
    assert frame.loc[0, "lookalikes"] == expected
