"""The per-partition lookalike search that Spark runs equals the single-process search.

Spark answers each partition of customers with ``lookalikes_of_rows`` against the broadcast
index; the union over any split of the customers must be ``top_k_lookalikes`` itself, ties,
duplicate vectors and zero vectors included. (The Spark wiring is checked end to end in
tests/integration/test_spark_parity.py.)
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from customer_analytics import lookalikes
from customer_analytics.lookalikes import LOOKALIKE_COLUMNS, top_k_lookalikes
from customer_analytics.spark_lookalikes import lookalikes_for_relation, lookalikes_of_rows


def planted(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled ids; duplicated vectors (exact ties) and two zero vectors."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x[5] = x[17]
    x[40] = x[17]
    x[3] = 0.0
    x[60] = 0.0
    ids = np.array([f"C{i:04d}" for i in rng.permutation(n)], dtype=object)
    return ids, x


def split_search(ids: np.ndarray, x: np.ndarray, k: int, parts: int, **options: object):
    sorted_ids, units = lookalikes._prepare(ids, x)
    chunks = np.array_split(np.random.default_rng(0).permutation(len(ids)), parts)
    frames = [lookalikes_of_rows(sorted_ids, units, rows, k, **options) for rows in chunks]
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["customer_id", "lookalike_rank"], ignore_index=True)
        .astype({"customer_id": object, "lookalike_customer_id": object})
    )


@pytest.mark.parametrize(
    ("method", "parts"), [("exact", 1), ("exact", 7), ("ivf", 3), ("ivf", 5), ("auto", 4)]
)
def test_union_of_partitions_is_the_single_process_result(method: str, parts: int) -> None:
    ids, x = planted(300, 6, seed=11)
    options = {"n_cells": 6, "n_probe": 2} if method == "ivf" else {}
    expected = top_k_lookalikes(ids, x, 4, method=method, **options)
    actual = split_search(ids, x, 4, parts, method=method, **options)
    assert len(actual) == 300 * 4
    pd.testing.assert_frame_equal(
        actual, expected.astype({"customer_id": object, "lookalike_customer_id": object})
    )


def test_fewer_customers_than_k_and_a_single_customer() -> None:
    ids, x = planted(80, 3, seed=2)
    small_ids, small_x = ids[:3], x[[0, 1, 2]] + 1.0
    result = split_search(small_ids, small_x, 5, 2)
    assert result.groupby("customer_id").size().tolist() == [2, 2, 2]
    assert (result["customer_id"] != result["lookalike_customer_id"]).all()
    alone = split_search(ids[:1], x[:1] + 1.0, 3, 1)
    assert alone.empty
    assert list(alone.columns) == list(LOOKALIKE_COLUMNS)


def test_pandas_input_takes_the_single_process_path() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["C3", "C1", "C2", "C4"],
            "recency_days": [1, 30, 2, 29],
            "transaction_count": [9, 1, 8, 2],
        }
    )

    with duckdb.connect() as connection:  # what dbt-duckdb hands a model
        result = lookalikes_for_relation(
            connection.from_df(frame),
            features=["recency_days", "transaction_count"],
            log_features=[],
            k=1,
        )
    assert isinstance(result, pa.Table)  # DuckDB: Arrow, no Python object per row
    columns = result.to_pydict()
    pairs = dict(zip(columns["customer_id"], columns["lookalike_customer_id"], strict=True))
    assert pairs == {"C1": "C4", "C4": "C1", "C2": "C3", "C3": "C2"}
