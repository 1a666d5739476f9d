"""The blended recommender and its backtest, on hand-made and planted-taste data."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import scipy.sparse as sp

from customer_analytics import frames, recommendations
from customer_analytics import generate as gen
from customer_analytics.recommendations import (
    BACKTEST_METHODS,
    WEIGHT_GRID,
    Weights,
    _significant_win,
    recommend_products,
    recommendation_backtest,
)

TOP_N = 5
SETTINGS = {
    "recommendations_per_customer": TOP_N,
    "recommendation_holdout_days": 60,
    "recommendation_item_neighbours": 50,
    "recommendation_tuning_sample_size": 5000,
    "recommendation_backtest_sample_size": 100000,
    "random_seed": 42,
    "as_of_date": None,
}
NO_LOOKALIKES = pa.table(
    {
        "customer_id": pa.array([], pa.string()),
        "lookalike_customer_id": pa.array([], pa.string()),
        "similarity_score": pa.array([], pa.float64()),
    }
)


def _inputs(data: gen.Dataset) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Transactions, customers with their planted archetype as segment, products."""
    tx = data.transactions
    transactions = pa.table(
        {
            "customer_id": tx["CustomerID"],
            "product_id": tx["ProductID"],
            "transaction_date": tx["TransactionDate"].cast(pa.date32()),
        }
    )
    archetype = data.archetypes["Archetype"].to_numpy(zero_copy_only=False)
    codes = {name: i for i, name in enumerate(gen.ARCHETYPES)}
    customers = pa.table(
        {
            "customer_id": data.archetypes["CustomerID"],
            "segment_id": pa.array([codes[a] for a in archetype], pa.int32()),
        }
    )
    p = data.products
    products = pa.table(
        {
            "product_id": p["ProductID"],
            "product_name": p["ProductName"],
            "category": p["Category"],
            "price": p["Price"],
        }
    )
    return transactions, customers, products


def _backtest(data: gen.Dataset, **overrides: object) -> pd.DataFrame:
    transactions, customers, products = _inputs(data)
    table = recommendation_backtest(
        transactions, customers, products, NO_LOOKALIKES, **{**SETTINGS, **overrides}
    )
    return table.to_pandas().set_index("method")


def _config(seed: int, taste_share: float) -> gen.Config:
    return gen.Config(
        customers=3000, products=100, transactions=15000, seed=seed, taste_share=taste_share
    )


@pytest.mark.parametrize("seed", [7, 1])
def test_planted_taste_beats_both_baselines(seed: int) -> None:
    result = _backtest(gen.generate(_config(seed, taste_share=0.5)))
    assert list(result.index) == list(BACKTEST_METHODS)
    blend = result.loc["blended_recommender"]
    # the segment baseline here even knows the planted archetypes
    assert blend["hit_rate_vs_popularity"] >= 2.0
    assert blend["hit_rate_vs_segment_popularity"] >= 1.1
    assert blend["weight_item_similarity"] > 0
    assert (result["customer_coverage"] == 1.0).all()


@pytest.mark.parametrize("seed", [7, 1])
def test_archetype_only_data_never_below_segment_best_sellers(seed: int) -> None:
    result = _backtest(gen.generate(_config(seed, taste_share=0.0)))
    assert (
        result.loc["blended_recommender", "hit_rate"]
        >= result.loc["segment_popularity", "hit_rate"]
    )


def test_popularity_hit_rate_matches_an_independent_count() -> None:
    data = gen.generate(_config(3, taste_share=0.5))
    result = _backtest(data)
    frame = data.transactions.to_pandas()
    frame["day"] = frame["TransactionDate"].dt.normalize()
    end = frame["day"].max()
    cutoff = end - pd.Timedelta(days=60)
    train = frame[frame["day"] <= cutoff]
    later = frame[frame["day"] > cutoff]
    buyers = train.groupby("ProductID")["CustomerID"].nunique()
    ranking = sorted(data.products["ProductID"].to_pylist(), key=lambda p: (-buyers.get(p, 0), p))
    owned = train.groupby("CustomerID")["ProductID"].agg(set).to_dict()
    wanted = later.groupby("CustomerID")["ProductID"].agg(set).to_dict()
    evaluated = hits = 0
    for customer, products in wanted.items():
        new = products - owned.get(customer, set())
        if not new:
            continue
        evaluated += 1
        top = [p for p in ranking if p not in owned.get(customer, set())][:TOP_N]
        hits += bool(new & set(top))
    row = result.loc["popularity"]
    assert row["customers_evaluated"] == evaluated
    assert row["customers_hit"] == hits
    assert row["hit_rate"] == pytest.approx(hits / evaluated)


def test_weights_never_see_the_held_out_window() -> None:
    data = gen.generate(_config(7, taste_share=0.5))
    transactions, customers, products = _inputs(data)
    days = transactions["transaction_date"].to_numpy(zero_copy_only=False)
    held_out = days > np.datetime64("2024-11-01")
    scrambled = transactions["product_id"].to_numpy(zero_copy_only=False).copy()
    scrambled[held_out] = np.random.default_rng(0).permutation(scrambled[held_out])
    changed = transactions.set_column(
        transactions.schema.get_field_index("product_id"), "product_id", pa.array(scrambled)
    )
    settings = {**SETTINGS, "as_of_date": "2024-12-31"}
    weights = [c for c in BACKTEST_COLUMNS if c.startswith("weight_") or c.startswith("tuning")]
    first = recommendation_backtest(transactions, customers, products, NO_LOOKALIKES, **settings)
    second = recommendation_backtest(changed, customers, products, NO_LOOKALIKES, **settings)
    assert first.select(weights).equals(second.select(weights))
    assert first.column("hit_rate") != second.column("hit_rate")


BACKTEST_COLUMNS = (
    "weight_item_similarity",
    "weight_lookalike",
    "weight_segment_popularity",
    "weight_overall_popularity",
    "tuning_training_end_date",
    "tuning_hit_rate",
)


def test_every_customer_gets_n_new_products_in_order() -> None:
    # customers: a and b buy X and Y together; c bought X only; d never bought
    transactions = pa.table(
        {
            "customer_id": ["a", "a", "b", "b", "c", "e", "e"],
            "product_id": ["X", "Y", "X", "Y", "X", "Z", "W"],
            "transaction_date": pa.array([date(2024, 1, day) for day in range(1, 8)], pa.date32()),
        }
    )
    customers = pa.table({"customer_id": ["a", "b", "c", "d", "e"], "segment_id": [0, 0, 0, 1, 1]})
    names = ["V", "W", "X", "Y", "Z"]
    products = pa.table(
        {
            "product_id": names,
            "product_name": [f"name {n}" for n in names],
            "category": ["cat"] * 5,
            "price": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    lookalikes = pa.table(
        {"customer_id": ["d"], "lookalike_customer_id": ["e"], "similarity_score": [0.9]}
    )
    weights = Weights(10.0, 1.0, 1.0, 1.0)
    out = recommend_products(
        transactions,
        customers,
        products,
        lookalikes,
        weights,
        recommendations_per_customer=2,
        recommendation_item_neighbours=50,
        as_of_date=None,
    ).to_pandas()
    assert out.groupby("customer_id").size().to_dict() == dict.fromkeys("abcde", 2)
    bought = set(
        zip(
            transactions["customer_id"].to_pylist(),
            transactions["product_id"].to_pylist(),
            strict=True,
        )
    )
    assert not bought & set(zip(out["customer_id"], out["product_id"], strict=True))
    first = out[out["recommendation_rank"] == 1].set_index("customer_id")
    assert first.loc["c", "product_id"] == "Y"  # bought together with X
    assert first.loc["c", "reason"] == "bought together with products you bought"
    assert first.loc["d", "product_id"] in {"W", "Z"}  # the lookalike's purchases
    assert first.loc["d", "lookalikes_who_bought"] == 1
    assert (out.groupby("customer_id")["recommendation_score"].diff().dropna() <= 0).all()
    again = recommend_products(
        transactions,
        customers,
        products,
        lookalikes,
        weights,
        recommendations_per_customer=2,
        recommendation_item_neighbours=50,
        as_of_date=None,
    ).to_pandas()
    pd.testing.assert_frame_equal(out, again)


@pytest.mark.parametrize(
    "weights", [(0.0, 0.0, 100.0, 1.0), (0.0, 0.0, 3.0, 1.0), (0.0, 0.0, 0.0, 1.0)]
)
def test_popularity_only_blends_ranked_per_segment_equal_scoring_every_candidate(
    weights: tuple[float, float, float, float],
) -> None:
    # taste makes item-similarity and lookalike candidates that can outrank best sellers;
    # 40 products and heavy buyers make some customers run short of listed candidates
    data = gen.generate(
        gen.Config(customers=600, products=40, transactions=9000, seed=3, taste_share=0.5)
    )
    transactions, customers, products = _inputs(data)
    ids = customers["customer_id"]
    rng = np.random.default_rng(5)
    others = (np.arange(len(ids))[:, None] + rng.integers(1, len(ids), (len(ids), 3))) % len(ids)
    lookalikes = pa.table(
        {
            "customer_id": ids.take(pa.array(np.repeat(np.arange(len(ids)), 3))),
            "lookalike_customer_id": ids.take(pa.array(others.ravel())),
            "similarity_score": rng.uniform(-0.2, 1.0, 3 * len(ids)),
        }
    )
    settings = {
        "recommendations_per_customer": TOP_N,
        "recommendation_item_neighbours": 5,
        "as_of_date": None,
    }
    ranked = recommend_products(
        transactions, customers, products, lookalikes, Weights(*weights), **settings
    )
    scored = recommend_products(
        transactions,
        customers,
        products,
        lookalikes,
        Weights(*weights),
        **settings,
        list_shortcut=False,
    )
    assert ranked.equals(scored)
    assert ranked.num_rows == TOP_N * len(ids)


@pytest.mark.parametrize("weights", [(0.0, 0.0, 100.0, 1.0), (1.0, 1.0, 1.0, 0.1)])
def test_blocks_scored_on_threads_equal_one_thread(
    monkeypatch: pytest.MonkeyPatch, weights: tuple[float, float, float, float]
) -> None:
    data = gen.generate(
        gen.Config(customers=900, products=40, transactions=9000, seed=4, taste_share=0.5)
    )
    transactions, customers, products = _inputs(data)
    settings = {
        "recommendations_per_customer": TOP_N,
        "recommendation_item_neighbours": 5,
        "as_of_date": None,
    }
    monkeypatch.setattr(recommendations, "CHUNK_CELLS", 40 * 7)  # 7 customers a block
    outputs = []
    for workers in (1, 2, 3):
        monkeypatch.setattr(recommendations, "BLOCK_WORKERS", workers)
        outputs.append(
            recommend_products(
                transactions, customers, products, NO_LOOKALIKES, Weights(*weights), **settings
            )
        )
    assert outputs[0].num_rows == TOP_N * len(customers)
    assert outputs[1].equals(outputs[0])
    assert outputs[2].equals(outputs[0])


def test_popularity_only_ranking_falls_back_when_best_sellers_rank_late() -> None:
    # Customer a is alone in a segment that bought nothing: every product scores 0 there
    # (segment weight only), so the ranking runs by product id, while a's candidates are the
    # overall best sellers P28 and P29, far down that ranking.
    names = [f"P{i:02d}" for i in range(30)]
    buys = [("b", "P29"), ("b", "P28"), ("c", "P29"), ("c", "P28"), ("d", "P29"), ("d", "P01")]
    transactions = pa.table(
        {
            "customer_id": [c for c, _ in buys],
            "product_id": [p for _, p in buys],
            "transaction_date": pa.array([date(2024, 1, 1)] * len(buys), pa.date32()),
        }
    )
    customers = pa.table({"customer_id": ["a", "b", "c", "d"], "segment_id": [0, 1, 1, 1]})
    products = pa.table(
        {
            "product_id": names,
            "product_name": names,
            "category": ["cat"] * 30,
            "price": [1.0] * 30,
        }
    )
    settings = {
        "recommendations_per_customer": 2,
        "recommendation_item_neighbours": 5,
        "as_of_date": None,
    }
    weights = Weights(0.0, 0.0, 1.0, 0.0)
    ranked = recommend_products(
        transactions, customers, products, NO_LOOKALIKES, weights, **settings
    )
    scored = recommend_products(
        transactions, customers, products, NO_LOOKALIKES, weights, **settings, list_shortcut=False
    )
    assert ranked.equals(scored)
    first = ranked.filter(pc.equal(ranked["customer_id"], "a"))
    assert first["product_id"].to_pylist() == ["P28", "P29"]


def test_unknown_ids_are_named() -> None:
    transactions = pa.table(
        {
            "customer_id": ["zz"],
            "product_id": ["X"],
            "transaction_date": pa.array([date(2024, 1, 1)], pa.date32()),
        }
    )
    customers = pa.table({"customer_id": ["a"], "segment_id": [0]})
    products = pa.table({"product_id": ["X"]})
    with pytest.raises(ValueError, match=r"transactions: 1 row.*'zz'"):
        recommendation_backtest(transactions, customers, products, NO_LOOKALIKES, **SETTINGS)


def test_tuning_rule_keeps_false_adoptions_at_the_family_level() -> None:
    """343 blends no better than the segment list (each customer won or lost by a fair coin):
    the Bonferroni sign test adopts one in at most about 5 % of repeats, where testing the
    grid's winner at z > 2 adopts one almost always; a real 120-40 win still passes."""
    rng = np.random.default_rng(3)
    tried, repeats, changed = len(WEIGHT_GRID) ** 3, 400, 80
    gained = rng.binomial(changed, 0.5, size=(repeats, tried))
    lost = changed - gained
    adopted = [
        any(_significant_win(int(g), int(lo), tried) for g, lo in zip(row_g, row_l, strict=True))
        for row_g, row_l in zip(gained, lost, strict=True)
    ]
    winner_z = (gained - lost).max(axis=1) / np.sqrt(changed)
    assert np.mean(adopted) <= 0.07
    assert np.mean(winner_z > 2.0) > 0.9
    assert _significant_win(120, 40, tried)
    assert not _significant_win(51, 32, tried)


def test_co_purchase_counts_equal_the_sparse_product(monkeypatch: pytest.MonkeyPatch) -> None:
    bought = sp.random(3000, 40, density=0.15, random_state=1, format="csr")
    bought.data[:] = 1.0
    bought.sort_indices()
    monkeypatch.setattr(recommendations, "PAIR_BLOCK", 500)  # many blocks
    counts = recommendations._cooccurrence(bought)
    assert np.array_equal(counts, (bought.T @ bought).toarray().astype(np.int64))


def test_relations_give_the_same_recommendations_as_arrow_tables() -> None:
    """dbt hands the models relations, read batch by batch as codes: the same output as from
    Arrow tables; text columns are codes into small lists that DuckDB reads as plain text,
    each product's name and category the products table's."""
    data = gen.generate(_config(seed=7, taste_share=0.8))
    transactions, customers, products = _inputs(data)
    ids = customers["customer_id"].to_pylist()
    lookalikes = pa.table(
        {
            "customer_id": ids,
            "lookalike_customer_id": ids[1:] + ids[:1],
            "similarity_score": np.linspace(0.2, 0.9, len(ids)),
        }
    )
    weights = Weights(1.0, 1.0, 1.0, 1.0)
    settings = {"recommendations_per_customer": TOP_N, "recommendation_item_neighbours": 50}
    from_arrow = recommend_products(
        transactions, customers, products, lookalikes, weights, **settings, as_of_date=None
    )
    backtest = recommendation_backtest(transactions, customers, products, lookalikes, **SETTINGS)
    with duckdb.connect() as connection:
        relations = [connection.from_arrow(t) for t in (transactions, customers, products)]
        relations.append(connection.from_arrow(lookalikes))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(frames, "BATCH_ROWS", 1000)
            from_relations = recommend_products(*relations, weights, **settings, as_of_date=None)
            assert recommendation_backtest(*relations, **SETTINGS).equals(backtest)
        assert from_relations.equals(from_arrow)
        connection.register("stored", from_arrow)
        connection.register("catalogue", products)
        stored = connection.table("stored")
        text = ["customer_id", "product_id", "product_name", "category", "reason"]
        assert {
            c: str(t) for c, t in zip(stored.columns, stored.types, strict=True) if c in text
        } == (dict.fromkeys(text, "VARCHAR"))
        mismatched = connection.execute(
            """
            select count(*) from stored
            join catalogue using (product_id)
            where stored.product_name <> catalogue.product_name
                or stored.category <> catalogue.category
                or stored.price <> catalogue.price
            """
        ).fetchone()
    assert from_arrow.schema.field("product_name").type == pa.dictionary(pa.int32(), pa.string())
    assert mismatched == (0,)
    assert set(from_arrow["reason"].to_pylist()) <= set(recommendations.REASONS)
