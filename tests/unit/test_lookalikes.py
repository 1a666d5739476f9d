"""Unit tests for customer_analytics.lookalikes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from sklearn.datasets import make_blobs
from sklearn.metrics.pairwise import cosine_similarity
from threadpoolctl import threadpool_limits

from customer_analytics.lookalikes import (
    AUDIENCE_COLUMNS,
    LOOKALIKE_COLUMNS,
    audience_from_features,
    empty_audience,
    expand_audience,
    known_customer_ids,
    lookalike_matrix,
    lookalike_table,
    lookalikes_from_features,
    top_k_lookalikes,
)

EXACT_METHODS = ["exact"]


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """Small data: OpenMP/BLAS threads only add overhead, and spin when the CPU is busy."""
    with threadpool_limits(limits=1):
        yield


#: Stated recall of the approximate "ivf" method on the unclustered random data below
#: (i.i.d. normal, 8 dims, 8 of 30 cells probed; measured 0.993). For the figures at scale
#: see benchmarks/bench_python_models.py.
IVF_MIN_RECALL = 0.98


def make_ids(n: int) -> np.ndarray:
    return np.array([f"C{i:05d}" for i in range(n)], dtype=object)


def brute_force(ids: np.ndarray, x: np.ndarray, k: int) -> pd.DataFrame:
    """The definition: full cosine matrix, zero vectors similar 0 to all, ties by id."""
    order = np.argsort(ids)
    ids, x = ids[order], x[order]
    sims = cosine_similarity(x)  # sklearn gives 0 for zero vectors too
    n = len(ids)
    rows = []
    for i in range(n):
        score = sims[i].copy()
        score[i] = -np.inf
        ranked = np.lexsort((np.arange(n), -np.round(score, 12)))[: min(k, n - 1)]
        for rank, j in enumerate(ranked, start=1):
            rows.append((ids[i], rank, ids[j], score[j]))
    return pd.DataFrame(rows, columns=list(LOOKALIKE_COLUMNS))


def random_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random vectors with duplicates, a zero vector and shuffled ids."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    if n >= 10:
        x[1:6] = x[0]  # a group of six identical customers
        x[7] = 0.0  # a customer exactly at the mean
        x[8] = -x[9]  # exact opposites
    ids = make_ids(n)[rng.permutation(n)]
    return ids, x


def assert_same_lookalikes(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["lookalike_rank"].tolist() == expected["lookalike_rank"].tolist()
    assert got["lookalike_customer_id"].tolist() == expected["lookalike_customer_id"].tolist()
    np.testing.assert_allclose(got["similarity_score"], expected["similarity_score"], atol=1e-12)


# ----------------------------------------------------------------------------- top-k


@pytest.mark.parametrize("method", EXACT_METHODS)
@pytest.mark.parametrize(("n", "d", "k"), [(12, 2, 3), (60, 3, 5), (400, 6, 3), (1500, 10, 4)])
def test_exact_methods_equal_brute_force(method, n, d, k):
    ids, x = random_data(n, d, seed=n)
    expected = brute_force(ids, x, k)
    assert_same_lookalikes(top_k_lookalikes(ids, x, k, method=method), expected)


def test_exact_search_on_clustered_data_with_region_one_hot():
    # The shape of the real feature matrix: a one-hot block plus continuous features.
    x, labels = make_blobs(n_samples=3000, n_features=8, centers=6, random_state=4)
    x = np.hstack([np.eye(4)[labels % 4], x])
    ids = make_ids(len(x))
    assert_same_lookalikes(top_k_lookalikes(ids, x, 3, method="exact"), brute_force(ids, x, 3))


def test_auto_is_exact_below_the_limit():
    ids, x = random_data(300, 4, seed=5)
    assert_same_lookalikes(top_k_lookalikes(ids, x, 3), brute_force(ids, x, 3))


def test_ivf_recall_and_determinism():
    ids, x = random_data(3000, 8, seed=9)
    k = 5
    expected = brute_force(ids, x, k)
    got = top_k_lookalikes(ids, x, k, method="ivf", n_cells=30, n_probe=8)
    again = top_k_lookalikes(ids, x, k, method="ivf", n_cells=30, n_probe=8)
    pd.testing.assert_frame_equal(got, again)
    want = expected.groupby("customer_id")["lookalike_customer_id"].apply(set)
    have = got.groupby("customer_id")["lookalike_customer_id"].apply(set)
    recall = np.mean([len(want[c] & have[c]) / k for c in want.index])
    assert recall >= IVF_MIN_RECALL
    # Whatever it finds is scored exactly and ranked correctly.
    pairs = zip(expected.customer_id, expected.lookalike_customer_id, strict=True)
    sims = dict(zip(pairs, expected.similarity_score, strict=True))
    assert got.groupby("customer_id")["similarity_score"].is_monotonic_decreasing.all()
    for row in got.head(200).itertuples():
        if (row.customer_id, row.lookalike_customer_id) in sims:
            assert row.similarity_score == pytest.approx(
                sims[(row.customer_id, row.lookalike_customer_id)], abs=1e-12
            )


def test_auto_switches_to_ivf_above_the_limit():
    x, _ = make_blobs(n_samples=2000, n_features=6, centers=5, random_state=2)
    ids = make_ids(2000)
    expected = brute_force(ids, x, 3)
    got = top_k_lookalikes(ids, x, 3, auto_exact_limit=1000)  # ivf: 134 cells, 8 probed
    want = expected.groupby("customer_id")["lookalike_customer_id"].apply(set)
    have = got.groupby("customer_id")["lookalike_customer_id"].apply(set)
    assert np.mean([len(want[c] & have[c]) / 3 for c in want.index]) >= 0.99


@pytest.mark.parametrize("method", ["exact", "ivf"])
def test_output_contract(method):
    ids, x = random_data(200, 5, seed=1)
    df = top_k_lookalikes(ids, x, 4, method=method)
    assert tuple(df.columns) == LOOKALIKE_COLUMNS
    assert len(df) == 200 * 4
    assert df["customer_id"].tolist() == sorted(df["customer_id"])
    assert df["lookalike_rank"].tolist() == [1, 2, 3, 4] * 200
    assert (df["customer_id"] != df["lookalike_customer_id"]).all()
    assert df["similarity_score"].dtype == np.float64
    assert df["similarity_score"].between(-1.0, 1.0).all()
    assert df.groupby("customer_id")["similarity_score"].is_monotonic_decreasing.all()
    assert not df.duplicated(["customer_id", "lookalike_customer_id"]).any()


@pytest.mark.parametrize("method", ["exact", "ivf"])
def test_input_order_does_not_matter(method):
    ids, x = random_data(500, 5, seed=4)
    perm = np.random.default_rng(0).permutation(500)
    pd.testing.assert_frame_equal(
        top_k_lookalikes(ids, x, 3, method=method),
        top_k_lookalikes(ids[perm], x[perm], 3, method=method),
    )


@pytest.mark.parametrize("method", ["exact", "ivf"])
def test_ties_go_to_smaller_ids(method):
    # 40 identical customers: every one's lookalikes are the smallest other ids, score 1.
    x = np.tile([[1.0, 2.0, 3.0]], (40, 1))
    ids = make_ids(40)[::-1].copy()
    df = top_k_lookalikes(ids, x, 3, method=method)
    first = df[df["customer_id"] == "C00000"]
    assert first["lookalike_customer_id"].tolist() == ["C00001", "C00002", "C00003"]
    other = df[df["customer_id"] == "C00017"]
    assert other["lookalike_customer_id"].tolist() == ["C00000", "C00001", "C00002"]
    np.testing.assert_allclose(df["similarity_score"], 1.0)


@pytest.mark.parametrize("method", ["exact", "ivf"])
def test_ties_with_float_noise_are_still_ties(method):
    # Scaled copies have cosine 1 up to rounding; equal to 12 decimals means tied.
    rng = np.random.default_rng(2)
    base = rng.normal(size=5)
    x = np.vstack([base * s for s in (3.0, 0.1, 7.7, 1e3, 0.37, 2.0)] + [rng.normal(size=(30, 5))])
    ids = make_ids(len(x))
    df = top_k_lookalikes(ids, x, 4, method=method)
    assert df[df["customer_id"] == "C00005"]["lookalike_customer_id"].tolist() == [
        "C00000",
        "C00001",
        "C00002",
        "C00003",
    ]


@pytest.mark.parametrize("method", ["exact", "ivf"])
def test_zero_vectors_have_similarity_zero(method):
    x = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    ids = np.array(["E", "A", "B", "D", "C"], dtype=object)
    df = top_k_lookalikes(ids, x, 2, method=method).set_index(["customer_id", "lookalike_rank"])
    # "E" (zero) -> the two smallest other ids, score 0.
    assert df.loc[("E", 1), "lookalike_customer_id"] == "A"
    assert df.loc[("E", 2), "lookalike_customer_id"] == "B"
    assert (df.loc["E", "similarity_score"] == 0).all()
    # "B" = (-1, 0): the zero vectors "D" and "E" (0) beat "C" (-0.707) and "A" (-1).
    assert df.loc["B", "lookalike_customer_id"].tolist() == ["D", "E"]
    assert (df.loc["B", "similarity_score"] == 0).all()
    # "C" = (1, 1): "A" = (1, 0) at 0.707, then "D" (zero, smaller id than "E") at 0.
    assert df.loc["C", "lookalike_customer_id"].tolist() == ["A", "D"]
    assert df.loc[("C", 1), "similarity_score"] == pytest.approx(np.sqrt(0.5))
    assert df.loc[("C", 2), "similarity_score"] == 0.0


@pytest.mark.parametrize("method", ["exact", "ivf"])
def test_all_zero_vectors(method):
    df = top_k_lookalikes(make_ids(5), np.zeros((5, 3)), 2, method=method)
    assert df["lookalike_customer_id"].tolist() == [
        "C00001", "C00002", "C00000", "C00002", "C00000",
        "C00001", "C00000", "C00001", "C00000", "C00001",
    ]  # fmt: skip
    assert (df["similarity_score"] == 0).all()


@pytest.mark.parametrize("method", ["exact", "ivf"])
def test_fewer_customers_than_k(method):
    ids, x = random_data(4, 3, seed=0)
    df = top_k_lookalikes(ids, x, 10, method=method)
    assert len(df) == 4 * 3
    assert_same_lookalikes(df, brute_force(ids, x, 10))
    single = top_k_lookalikes(["C1"], np.ones((1, 3)), 3, method=method)
    assert tuple(single.columns) == LOOKALIKE_COLUMNS
    assert single.empty
    two = top_k_lookalikes(["B", "A"], np.array([[1.0, 0.0], [0.0, 1.0]]), 3, method=method)
    assert two["lookalike_customer_id"].tolist() == ["B", "A"]
    assert two["similarity_score"].tolist() == [0.0, 0.0]


def test_many_duplicates_beyond_the_margin():
    # 30 copies of one vector (more than k + margin) plus noise: exact ties resolved by id.
    rng = np.random.default_rng(8)
    x = np.vstack([np.tile(rng.normal(size=4), (30, 1)), rng.normal(size=(200, 4))])
    ids = make_ids(len(x))[rng.permutation(len(x))]
    for method in EXACT_METHODS:
        assert_same_lookalikes(top_k_lookalikes(ids, x, 3, method=method), brute_force(ids, x, 3))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"k": 0}, "k must be"),
        ({"method": "hnsw"}, "unknown method"),
    ],
)
def test_invalid_arguments(kwargs, error):
    ids, x = random_data(20, 3, seed=0)
    with pytest.raises(ValueError, match=error):
        top_k_lookalikes(ids, x, **kwargs)


def test_invalid_inputs():
    ids, x = random_data(20, 3, seed=0)
    with pytest.raises(ValueError, match="ids but X has"):
        top_k_lookalikes(ids[:-1], x)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=f"non-finite.*{ids[3]}"):
        top_k_lookalikes(ids, bad)
    with pytest.raises(ValueError, match="not unique"):
        top_k_lookalikes(np.r_[ids[:-1], ids[:1]], x)
    with pytest.raises(ValueError, match="two-dimensional"):
        top_k_lookalikes(ids, x[:, 0])


# ----------------------------------------------------------------------------- audience


def brute_audience(ids: np.ndarray, x: np.ndarray, seeds: list[str]) -> pd.DataFrame:
    order = np.argsort(ids)
    ids, x = ids[order], x[order]
    seed_pos = np.flatnonzero(np.isin(ids, seeds))
    sims = cosine_similarity(x, x[seed_pos])
    rows = []
    for i in np.flatnonzero(~np.isin(ids, seeds)):
        j = np.lexsort((np.arange(len(seed_pos)), -np.round(sims[i], 12)))[0]
        rows.append((ids[i], sims[i, j], ids[seed_pos[j]]))
    df = pd.DataFrame(rows, columns=["customer_id", "similarity_score", "nearest_seed_customer_id"])
    df = df.assign(key=-df["similarity_score"].round(12)).sort_values(
        ["key", "customer_id"], kind="mergesort"
    )
    df.insert(1, "audience_rank", np.arange(1, len(df) + 1))
    return df.drop(columns="key").reset_index(drop=True)


def test_expand_audience_matches_brute_force():
    ids, x = random_data(500, 6, seed=12)
    seeds = list(ids[:25])
    expected = brute_audience(ids, x, seeds)
    got = expand_audience(ids, x, seeds, size=1000, block_rows=13)
    assert tuple(got.columns) == AUDIENCE_COLUMNS
    assert len(got) == 475
    assert not got["customer_id"].isin(seeds).any()
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["nearest_seed_customer_id"].tolist() == expected["nearest_seed_customer_id"].tolist()
    np.testing.assert_allclose(got["similarity_score"], expected["similarity_score"], atol=1e-12)
    assert got["audience_rank"].tolist() == list(range(1, 476))


def test_expand_audience_size_threshold_and_both():
    ids, x = random_data(300, 4, seed=2)
    seeds = list(ids[:5])
    full = expand_audience(ids, x, seeds, size=10_000)
    top = expand_audience(ids, x, seeds, size=20)
    pd.testing.assert_frame_equal(top, full.head(20))
    above = expand_audience(ids, x, seeds, min_similarity=0.8)
    assert (above["similarity_score"] >= 0.8).all()
    assert len(above) == (full["similarity_score"] >= 0.8).sum()
    both = expand_audience(ids, x, seeds, size=5, min_similarity=0.8)
    pd.testing.assert_frame_equal(both, above.head(5))
    none = expand_audience(ids, x, seeds, min_similarity=1.0)
    assert tuple(none.columns) == AUDIENCE_COLUMNS
    perm = np.random.default_rng(1).permutation(300)
    pd.testing.assert_frame_equal(
        full, expand_audience(ids[perm], x[perm], seeds[::-1], size=10_000)
    )


def test_expand_audience_ties_and_zero_vectors():
    x = np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 0.0], [3.0, 0.0], [0.0, 1.0]])
    ids = np.array(["S2", "S1", "A", "Z", "B", "C"], dtype=object)
    df = expand_audience(ids, x, ["S2", "S1", "S1"], size=10)
    assert df["customer_id"].tolist() == ["A", "B", "C", "Z"]
    assert df["nearest_seed_customer_id"].tolist() == ["S1"] * 4  # tie: smallest seed id
    assert df["similarity_score"].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_expand_audience_validation():
    ids, x = random_data(30, 3, seed=0)
    seeds = list(ids[:3])
    with pytest.raises(ValueError, match="size, min_similarity"):
        expand_audience(ids, x, seeds)
    with pytest.raises(ValueError, match="unknown seed customer ids: NOPE1, NOPE2"):
        expand_audience(ids, x, [*seeds, "NOPE2", "NOPE1"], size=3)
    with pytest.raises(ValueError, match="size must be"):
        expand_audience(ids, x, seeds, size=0)
    with pytest.raises(ValueError, match="min_similarity"):
        expand_audience(ids, x, seeds, min_similarity=1.5)
    with pytest.raises(ValueError, match="empty"):
        expand_audience(ids, x, [], size=3)
    with pytest.raises(TypeError):
        expand_audience(ids, x, "C00001", size=3)
    everyone = expand_audience(ids, x, list(ids), size=3)
    assert everyone.empty


# ----------------------------------------------------------------------------- frame wrappers


def _project_vars() -> dict[str, Any]:
    project = Path(__file__).resolve().parents[2] / "dbt_project.yml"
    return yaml.safe_load(project.read_text(encoding="utf-8"))["vars"]


def _shop_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": make_ids(n),
            "region": rng.choice(["North", "South"], n),
            "tenure_days": rng.integers(1, 500, n),
            "recency_days": rng.integers(0, 100, n),
            "transaction_count": rng.integers(0, 9, n),
            "total_revenue": rng.gamma(2.0, 10.0, n),
            "average_transaction_value": rng.gamma(2.0, 5.0, n),
            "average_basket_size": rng.gamma(2.0, 1.0, n),
            "distinct_products": rng.integers(0, 9, n),
            "spend_share_books": rng.random(n),
            "spend_share_toys": rng.random(n),
            "spend_share_games": rng.random(n),
        }
    )


def test_lookalike_matrix_logs_standardizes_and_weighs_the_share_block() -> None:
    frame = _shop_frame(40).sample(frac=1.0, random_state=5)
    fm = lookalike_matrix(
        frame,
        ["average_transaction_value", "recency_days", "spend_share_*"],
        ["average_transaction_value"],
    )
    ordered = frame.sort_values("customer_id")
    raw = np.column_stack(
        [
            np.log1p(ordered["average_transaction_value"].to_numpy()),
            ordered["recency_days"].to_numpy(dtype=float),
            ordered[["spend_share_books", "spend_share_toys", "spend_share_games"]].to_numpy(),
        ]
    )
    expected = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    expected[:, 2:] /= np.sqrt(3.0)  # three shares weigh as one feature
    assert list(fm.customer_ids) == sorted(frame["customer_id"])
    np.testing.assert_allclose(fm.matrix, expected, rtol=1e-12, atol=1e-12)


def test_frame_wrappers_use_the_project_lookalike_settings() -> None:
    n = 60
    frame = _shop_frame(n)
    project = _project_vars()
    settings = {
        "features": project["lookalike_features"],
        "log_features": project["lookalike_log_features"],
    }
    looks = lookalikes_from_features(frame, k=2, **settings)
    assert len(looks) == 2 * n
    fm = lookalike_matrix(frame, settings["features"], settings["log_features"])
    expected = top_k_lookalikes(fm.customer_ids, fm.matrix, 2)
    pd.testing.assert_frame_equal(looks, expected)
    # Brute force on the same vectors agrees with the retrieval.
    sims = cosine_similarity(fm.matrix)
    np.fill_diagonal(sims, -np.inf)
    best = np.argmax(sims, axis=1)
    first = looks[looks["lookalike_rank"] == 1]
    assert list(first["lookalike_customer_id"]) == list(fm.customer_ids[best])
    seeds = ["C00003", "C00010"]
    audience = audience_from_features(frame, seeds, size=5, **settings)
    assert len(audience) == 5
    assert not audience["customer_id"].isin(seeds).any()


def test_audience_from_features_can_ignore_seed_ids_the_data_lacks() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "total_revenue": [1.0, 2.0, 3.0, 10.0],
            "transaction_count": [1, 2, 3, 1],
        }
    )
    features = ["total_revenue", "transaction_count"]
    with pytest.raises(ValueError, match="unknown seed customer ids: C9"):
        audience_from_features(frame, ["C1", "C9"], features=features, log_features=[], size=2)
    lenient = audience_from_features(
        frame,
        ["C1", "C9"],
        features=features,
        log_features=[],
        size=2,
        ignore_unknown_seed_ids=True,
    )
    strict = audience_from_features(frame, ["C1"], features=features, log_features=[], size=2)
    pd.testing.assert_frame_equal(lenient, strict)
    empty = audience_from_features(
        frame, ["C9"], features=features, log_features=[], size=2, ignore_unknown_seed_ids=True
    )
    assert empty.empty
    assert list(empty.columns) == [
        "customer_id",
        "audience_rank",
        "similarity_score",
        "nearest_seed_customer_id",
    ]


def test_known_customer_ids_are_looked_up_in_the_database() -> None:
    import duckdb

    connection = duckdb.connect()
    connection.execute(
        "create table features as select * from (values ('C1', 1.0), ('C2', 2.0),"
        " ('it''s', 3.0), ('C4', 4.0)) as t(customer_id, total_revenue)"
    )
    relation = connection.table("features")
    # order as given, each once; unknown ids (and text that looks like SQL) left out
    seeds = ["C4", "C9", "it's", "C4", "x' or '1'='1", "C1"]
    assert known_customer_ids(relation, seeds) == ["C4", "it's", "C1"]
    assert known_customer_ids(relation, []) == []
    assert known_customer_ids(relation, ["C9"]) == []
    empty = empty_audience()
    assert empty.empty
    assert tuple(empty.columns) == AUDIENCE_COLUMNS
    assert str(empty["audience_rank"].dtype) == "int64"


@pytest.mark.parametrize("size", [1, 7, 40])
def test_expand_audience_through_the_index_equals_the_full_scan(size):
    # size + seeds + margin is far below n, so the candidates come from the k-d tree; the
    # six identical customers of random_data make ties at the cut-off likely.
    ids, x = random_data(2000, 5, seed=21)
    seeds = [ids[0], ids[3], ids[50], ids[400]]
    expected = brute_audience(ids, x, seeds).head(size)
    got = expand_audience(ids, x, seeds, size=size, method="exact")
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["nearest_seed_customer_id"].tolist() == expected["nearest_seed_customer_id"].tolist()
    np.testing.assert_allclose(got["similarity_score"], expected["similarity_score"], atol=1e-12)


def test_expand_audience_through_the_ivf_index():
    x, _ = make_blobs(n_samples=3000, n_features=6, centers=5, random_state=3)
    ids = make_ids(3000)
    seeds = list(ids[[5, 600, 1200]])
    expected = brute_audience(ids, x, seeds).head(50)
    got = expand_audience(ids, x, seeds, size=50, method="ivf", n_cells=40, n_probe=8)
    again = expand_audience(ids, x, seeds, size=50, method="ivf", n_cells=40, n_probe=8)
    pd.testing.assert_frame_equal(got, again)
    assert len(set(got["customer_id"]) & set(expected["customer_id"])) >= 49
    # Scores are exact wherever a customer is found.
    want = expected.set_index("customer_id")["similarity_score"]
    common = got[got["customer_id"].isin(want.index)]
    np.testing.assert_allclose(
        common["similarity_score"], want[common["customer_id"]].to_numpy(), atol=1e-12
    )


def test_ivf_index_equals_faiss_filing_and_search() -> None:
    """The index files every vector where faiss's own ``add`` would, and the search with the
    cells found at build time answers as faiss's own search (coarse search included)."""
    import faiss

    from customer_analytics.lookalikes import _build_ivf

    rng = np.random.default_rng(21)
    x = rng.normal(size=(3000, 7))
    vectors = np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True))
    index, probes = _build_ivf(vectors, 40, 5, 3)
    assert probes.shape == (3000, 5)
    assert index.ntotal == 3000
    centroids = faiss.rev_swig_ptr(faiss.downcast_index(index.quantizer).get_xb(), 40 * 7)
    reference = faiss.IndexIVFFlat(faiss.IndexFlatIP(7), 7, 40, faiss.METRIC_INNER_PRODUCT)
    reference.quantizer.add(np.array(centroids, dtype=np.float32).reshape(40, 7))
    reference.is_trained = True
    x32 = vectors.astype(np.float32)
    reference.add(x32)
    reference.nprobe = 5
    for cell in range(40):  # same members, same order, in every cell
        size = reference.invlists.list_size(cell)
        assert index.invlists.list_size(cell) == size
        if size:
            want = faiss.rev_swig_ptr(reference.invlists.get_ids(cell), size)
            got = faiss.rev_swig_ptr(index.invlists.get_ids(cell), size)
            np.testing.assert_array_equal(got, want)
    want_d, want_i = reference.search(x32, 7)
    got_d, got_i = index.search_preassigned(x32, 7, probes.astype(np.int64), None)
    np.testing.assert_array_equal(got_i, want_i)
    np.testing.assert_array_equal(got_d, want_d)


def test_search_order_does_not_change_answers() -> None:
    """Customers searched cell by cell (IVF) or leaf by leaf (tree) get what a search of
    each customer alone gets."""
    from customer_analytics.lookalikes import _Index, _prepare, _search_top_k

    ids, x = random_data(1500, 6, seed=33)
    _, units = _prepare(ids, x)
    for method in ("exact", "ivf"):
        index = _Index(units, method, 20, 4, 42)
        queries = np.arange(units.shape[0])
        together = _search_top_k(index, queries, 3)
        alone = np.vstack([_search_top_k(index, queries[i : i + 1], 3) for i in range(0, 1500, 97)])
        np.testing.assert_array_equal(together[::97], alone)
        assert not np.array_equal(index.search_order(queries), queries)


def test_ivf_output_does_not_depend_on_the_thread_count():
    import faiss

    ids, x = random_data(4000, 8, seed=30)
    before = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(1)
        one = top_k_lookalikes(ids, x, 3, method="ivf", n_cells=50, n_probe=4)
        faiss.omp_set_num_threads(2)
        two = top_k_lookalikes(ids, x, 3, method="ivf", n_cells=50, n_probe=4)
    finally:
        faiss.omp_set_num_threads(before)
    pd.testing.assert_frame_equal(one, two)


def test_lookalike_table_equals_the_frame() -> None:
    """The Arrow path (the dbt model's) gives the same rows, ids and scores as pandas."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 5))
    x[7] = x[3]  # an exact tie
    x[9] = 0.0  # a zero vector
    ids = np.array([f"C{i:04d}" for i in rng.permutation(300)], dtype=object)
    for method in ("exact", "ivf"):
        table = lookalike_table(ids, x, 3, method=method, n_cells=10, n_probe=10)
        assert table.column_names == list(LOOKALIKE_COLUMNS)
        assert table.schema.field("customer_id").type == pa.string()
        frame = top_k_lookalikes(ids, x, 3, method=method, n_cells=10, n_probe=10)
        got = table.to_pandas()
        assert got["customer_id"].tolist() == frame["customer_id"].tolist()
        assert got["lookalike_customer_id"].tolist() == frame["lookalike_customer_id"].tolist()
        assert got["lookalike_rank"].tolist() == frame["lookalike_rank"].tolist()
        np.testing.assert_array_equal(
            got["similarity_score"].to_numpy(), frame["similarity_score"].to_numpy()
        )
