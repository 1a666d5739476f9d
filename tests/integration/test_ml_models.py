"""Segments, lookalikes, audience and recommendations from a real `dbt build`.

Quality is proven on data whose truth is known (the generator's planted archetypes) and
the stored figures are checked against an independent scikit-learn recomputation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
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
    # Five planted archetypes; the bundled data's one customer without purchases may be a
    # segment of its own, so count the segments holding at least 1% of the customers.
    sizes = built.query("select customers from segment_profiles")["customers"]
    assert (sizes >= 0.01 * sizes.sum()).sum() == 5
    assert _segments_recover_archetypes(built, truth) >= 0.9


def test_lookalikes_share_the_customers_archetype(
    with_truth: tuple[BuiltProject, pd.DataFrame],
) -> None:
    built, truth = with_truth
    # Reached: 0.972 (bundled, 200 customers), 0.980 (generated, 3,000); issue 10 asks 0.95.
    assert _lookalikes_sharing_archetype(built, truth) >= 0.96


def test_segment_names_are_unique_business_names(bundled: BuiltProject) -> None:
    profiles = bundled.query("select segment_name, customers from segment_profiles")
    assert profiles["segment_name"].is_unique
    assert profiles["customers"].sum() == bundled.scalar("select count(*) from customers")
    rules = pd.read_csv(REPO_ROOT / "seeds" / "config" / "segment_naming_rules.csv")
    assert set(profiles["segment_name"]) <= set(rules["segment_name"]) | {"Other Customers"}


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


def _clustered_columns(features: pd.DataFrame) -> list[list[str]]:
    """The segment_features var resolved by hand: one group of columns per entry."""
    return [
        [
            column
            for column in features.columns
            if column == entry or (entry.endswith("*") and column.startswith(entry[:-1]))
        ]
        for entry in PROJECT_VARS["segment_features"]
    ]


def test_stored_scores_match_sklearn(zeotap: BuiltProject) -> None:
    features = zeotap.query("select * from customer_features order by customer_id")
    sweep = zeotap.query("select * from segmentation_sweep order by customer_id")
    scores = zeotap.query("select * from segmentation_scores where k >= 2 order by k")
    assert len(scores) == PROJECT_VARS["segment_k_max"] - PROJECT_VARS["segment_k_min"] + 1
    blocks = []
    for group in _clustered_columns(features):
        values = features[group].to_numpy(dtype=float, copy=True)
        for j, column in enumerate(group):
            if column in PROJECT_VARS["segment_log_features"]:
                values[:, j] = np.log1p(values[:, j])
        blocks.append(StandardScaler().fit_transform(values) / np.sqrt(len(group)))
    matrix = np.hstack(blocks)
    assert (features["customer_id"].to_numpy() == sweep["customer_id"].to_numpy()).all()
    for row in scores.itertuples():
        labels = sweep[f"segment_id_k{row.k}"]
        assert row.davies_bouldin == pytest.approx(davies_bouldin_score(matrix, labels), rel=1e-9)
        assert row.calinski_harabasz == pytest.approx(
            calinski_harabasz_score(matrix, labels), rel=1e-9
        )
        # 200 customers < silhouette_sample_size: the silhouette of all customers (distances
        # by the dot-product expansion lose ~1e-9 relative where customers nearly coincide)
        assert row.silhouette == pytest.approx(silhouette_score(matrix, labels), rel=1e-7)


def test_assignments_reuse_the_sweep_labels(
    zeotap: BuiltProject, generated: tuple[BuiltProject, pd.DataFrame]
) -> None:
    for built in (zeotap, generated[0]):
        k = int(built.scalar("select k from segmentation_scores where is_chosen"))
        assigned = built.query("select customer_id, segment_id from customer_segment_assignments")
        assert len(assigned) == built.scalar("select count(*) from customer_features")
        if k == 1:  # no stable segments: everyone in segment 0, not a stored sweep column
            assert (assigned["segment_id"] == 0).all()
            continue
        sweep = built.query(f"select customer_id, segment_id_k{k} as swept from segmentation_sweep")
        merged = assigned.merge(sweep, on="customer_id", validate="one_to_one")
        assert (merged["segment_id"] == merged["swept"]).all()


def _rule_holds(condition: str, threshold: float, mean: float, z: float) -> bool:
    return {
        "z_at_least": z >= threshold,
        "z_at_most": z <= threshold,
        "mean_at_least": mean >= threshold,
        "mean_at_most": mean <= threshold,
    }[condition]


def check_names_agree_with_profiles(built: BuiltProject) -> None:
    """Every rule-given name's conditions hold on the segment, recomputed from
    customer_features and customer_segments in pandas, and non-buyer segments are
    'Never Purchased' whenever that name is free."""
    features = built.query("select * from customer_features")
    segments = built.query("select customer_id, segment_id, segment_name from customer_segments")
    profiles = built.query("select * from segment_profiles")
    rules = pd.read_csv(REPO_ROOT / "seeds" / "config" / "segment_naming_rules.csv")
    joined = features.merge(segments, on="customer_id", validate="one_to_one")
    clustered = [column for group in _clustered_columns(features) for column in group]
    numeric = joined[clustered].astype(float)
    means = numeric.groupby(joined["segment_id"]).mean()
    z = (means - numeric.mean()) / numeric.std(ddof=0).replace(0, np.nan)
    z = z.fillna(0.0)
    for row in profiles.itertuples():
        rule = rules[rules["segment_name"] == row.segment_name]
        if rule.empty:
            assert (
                row.segment_name.startswith("Other Customers") or row.segment_name == "Unsegmented"
            )
            continue
        assert row.naming_rule_meaning == rule["meaning"].iloc[0]
        for condition in rule.itertuples():
            assert condition.feature in clustered, (row.segment_name, condition.feature)
            assert _rule_holds(
                condition.condition,
                condition.threshold,
                means.loc[row.segment_id, condition.feature],
                z.loc[row.segment_id, condition.feature],
            ), (row.segment_name, condition.feature, condition.condition)
    non_buyers = means.index[means["transaction_count"] <= 0.5]
    if len(non_buyers) == 1:
        named = profiles.set_index("segment_id").loc[non_buyers[0], "segment_name"]
        assert named == "Never Purchased"


def test_names_agree_with_the_numbers(
    with_truth: tuple[BuiltProject, pd.DataFrame], zeotap: BuiltProject
) -> None:
    check_names_agree_with_profiles(with_truth[0])
    check_names_agree_with_profiles(zeotap)


def test_segment_quality_and_caveat(
    zeotap: BuiltProject, generated: tuple[BuiltProject, pd.DataFrame]
) -> None:
    weak = zeotap.query("select * from segment_quality").iloc[0]
    scores = zeotap.query("select * from segmentation_scores order by k")
    # the public Zeotap files have no stable structure (measured in the README): every
    # k was tried, none reached segment_min_stability, so everyone is in one segment
    tried = scores[scores["k"] >= 2]
    assert tried["bootstrap_stability"].notna().all()
    assert (tried["bootstrap_stability"] < PROJECT_VARS["segment_min_stability"]).all()
    assert (tried["bootstrap_resamples"] == PROJECT_VARS["segment_bootstrap_resamples"]).all()
    assert (tried["bootstrap_sample_size"] == 200).all()
    assert weak["segment_count"] == 1
    assert weak["selection_rule"] == "no_stable_segments"
    assert weak["structure_strength"] == "no stable segments"
    assert weak["is_weak_structure"]
    best = tried["bootstrap_stability"].max()
    assert weak["caveat"].startswith("One segment: no split")
    assert f"best bootstrap stability {round(best, 2)}" in weak["caveat"]
    profiles = zeotap.query("select caveat, is_weak_structure from segment_profiles")
    assert (profiles["caveat"] == weak["caveat"]).all()
    assert profiles["is_weak_structure"].all()
    strong = generated[0].query("select * from segment_quality").iloc[0]
    assert strong["bootstrap_stability"] >= 0.9
    assert not strong["is_weak_structure"]
    assert strong["caveat"] == ""


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
