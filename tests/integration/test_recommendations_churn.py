"""Recommendations, their backtest, churn and lifetime value from a real `dbt build` on
generated data whose taste and churn are planted (the truth files say who is who)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from customer_analytics import generate

from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = pytest.mark.integration

PROJECT_VARS = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
TOP_N = PROJECT_VARS["recommendations_per_customer"]
MODELS = "+product_recommendations +customer_lifetime_value +churn_backtest"
SIZE = ["--customers", "3000", "--products", "100", "--transactions", "15000", "--seed", "7"]


def _build(factory: pytest.TempPathFactory, name: str, *options: str) -> tuple[BuiltProject, Path]:
    data = factory.mktemp(f"{name}-data")
    assert generate.main([*SIZE, *options, "--out", str(data), "--quiet"]) == 0
    built = dbt_build(factory.mktemp(f"{name}-build"), {"input_dir": str(data)}, select=MODELS)
    return built, data / "truth"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltProject, Path]:
    return _build(tmp_path_factory, "planted", "--taste-share", "0.5", "--churn-share", "0.2")


@pytest.fixture(scope="module")
def archetypes_only(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltProject, Path]:
    return _build(tmp_path_factory, "archetypes")


def _backtest(built: BuiltProject) -> pd.DataFrame:
    return built.query("select * from recommendation_backtest").set_index("method")


def test_recommender_beats_both_baselines_on_planted_taste(
    planted: tuple[BuiltProject, Path],
) -> None:
    result = _backtest(planted[0])
    blend = result.loc["blended_recommender"]
    assert blend["hit_rate_vs_popularity"] >= 2.0
    assert blend["hit_rate_vs_segment_popularity"] >= 1.1
    assert blend["top_n"] == TOP_N
    assert str(blend["holdout_start_date"].date()) == "2024-11-02"
    assert blend["tuning_training_end_date"] < blend["training_end_date"]


def test_recommender_never_below_segment_best_sellers_without_taste(
    archetypes_only: tuple[BuiltProject, Path],
) -> None:
    result = _backtest(archetypes_only[0])
    assert (
        result.loc["blended_recommender", "hit_rate"]
        >= result.loc["segment_popularity", "hit_rate"]
    )


@pytest.mark.parametrize("which", ["planted", "archetypes_only"])
def test_every_customer_gets_n_recommendations(which: str, request: pytest.FixtureRequest) -> None:
    built, _ = request.getfixturevalue(which)
    counts = built.query(
        "select customers.customer_id, count(product_recommendations.product_id) as n"
        " from customers left join product_recommendations"
        " on customers.customer_id = product_recommendations.customer_id"
        " group by customers.customer_id"
    )
    assert len(counts) == 3000
    assert (counts["n"] == TOP_N).all()
    bought = built.query(
        "select count(*) from product_recommendations inner join transactions"
        " on product_recommendations.customer_id = transactions.customer_id"
        " and product_recommendations.product_id = transactions.product_id"
    )
    assert bought.iloc[0, 0] == 0


def test_planted_churners_riskiest_and_backtest_beats_recency(
    planted: tuple[BuiltProject, Path],
) -> None:
    built, truth_dir = planted
    values = built.query(
        "select customer_id, p_alive, churn_risk_band from customer_lifetime_value"
    )
    truth = pd.read_csv(truth_dir / generate.CHURN_FILE).rename(
        columns={"CustomerID": "customer_id"}
    )
    merged = values.merge(truth, on="customer_id", validate="one_to_one").dropna()
    stopped = merged["ActiveUntil"] < "2024-12-31"
    assert roc_auc_score(stopped, -merged["p_alive"]) > 0.95
    assert (merged.loc[merged["IsPlantedChurner"], "churn_risk_band"] != "low").mean() > 0.95
    backtest = built.query("select * from churn_backtest").set_index("method")
    auc = backtest["auc_bought_again"]
    assert auc["pareto_nbd"] > auc["recency_only"]
    assert (
        backtest.loc["pareto_nbd", "mae_purchases"]
        < backtest.loc["historical_rate", "mae_purchases"]
    )
