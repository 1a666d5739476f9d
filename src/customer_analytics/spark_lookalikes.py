"""The lookalike search of ``customer_lookalikes`` on either engine, distributed on Spark.

On DuckDB (or any pandas input) this is
:func:`customer_analytics.lookalikes.lookalike_table` on the
:func:`~customer_analytics.lookalikes.lookalike_matrix` of the features.
On Spark the feature mart (one row per customer, small next to the transactions) is
standardized on the driver, the normalised vectors are broadcast, and the search for all
customers runs in ``mapInPandas`` over partitions of customer positions: each task builds the
retrieval index once and answers its own customers against all of them, so no single process
holds all results, and the rows go straight into the table. Every customer's answer depends
only on the vectors, so the result is the one
:func:`~customer_analytics.lookalikes.top_k_lookalikes` gives, to the last digit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from customer_analytics import lookalikes
from customer_analytics.frames import is_spark_frame

__all__ = ["LOOKALIKE_SCHEMA", "lookalikes_for_relation", "lookalikes_of_rows", "spark_lookalikes"]

LOOKALIKE_SCHEMA = (
    "customer_id string, lookalike_rank bigint, lookalike_customer_id string,"
    " similarity_score double"
)
# Customers answered per Spark task (at least the session's shuffle partitions are used).
ROWS_PER_PARTITION = 50_000
# The search options and their defaults are top_k_lookalikes' own.
_OPTIONS: dict[str, Any] = {
    name: value
    for name, value in (lookalikes.top_k_lookalikes.__kwdefaults__ or {}).items()
    if name in {"method", "auto_exact_limit", "n_cells", "n_probe", "random_state"}
}


def lookalikes_of_rows(
    sorted_ids: np.ndarray,
    units: np.ndarray,
    rows: np.ndarray,
    k: int,
    index: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """The ``k`` lookalikes of the customers at positions ``rows`` of the prepared index.

    ``sorted_ids`` and ``units`` are the id-sorted ids and L2-normalised rows that
    ``top_k_lookalikes`` prepares; ``index`` its retrieval index over them (built here when
    not given). The rows answered are exactly its rows for those customers.
    """
    settings = {**_OPTIONS, **options}
    n = units.shape[0]
    k_eff = min(int(k), n - 1)
    rows = np.asarray(rows, dtype=np.int64)
    if k_eff < 1 or rows.size == 0:
        return _frame(sorted_ids, units, rows[:0], np.zeros((0, max(k_eff, 1)), dtype=np.int64))
    zero = lookalikes._zero_rows(units)
    neighbours = np.empty((rows.size, k_eff), dtype=np.int64)
    first = np.arange(k_eff + 1)
    is_zero = zero[rows]
    for position in np.flatnonzero(is_zero):
        neighbours[position] = first[first != rows[position]][:k_eff]
    queries = rows[~is_zero]
    if queries.size:
        if index is None:
            index = build_index(units, **settings)
        neighbours[~is_zero] = lookalikes._search_top_k(index, queries, k_eff)
    return _frame(sorted_ids, units, rows, neighbours)


def build_index(units: np.ndarray, **options: Any) -> Any:
    """``top_k_lookalikes``' retrieval index over the prepared unit vectors."""
    settings = {**_OPTIONS, **options}
    return lookalikes._Index(
        units,
        lookalikes._method_for(units.shape[0], settings["method"], settings["auto_exact_limit"]),
        settings["n_cells"],
        settings["n_probe"],
        settings["random_state"],
    )


def _frame(
    sorted_ids: np.ndarray, units: np.ndarray, rows: np.ndarray, neighbours: np.ndarray
) -> pd.DataFrame:
    k = neighbours.shape[1]
    query_rows = np.repeat(rows, k)
    flat = neighbours.ravel()
    scores = np.einsum("ij,ij->i", units[query_rows], units[flat]) if flat.size else np.zeros(0)
    return pd.DataFrame(
        {
            "customer_id": sorted_ids[query_rows],
            "lookalike_rank": np.tile(np.arange(1, k + 1, dtype=np.int64), rows.size),
            "lookalike_customer_id": sorted_ids[flat],
            "similarity_score": np.clip(scores, -1.0, 1.0),
        }
    )[list(lookalikes.LOOKALIKE_COLUMNS)]


def spark_lookalikes(
    customer_features: Any, *, features: Sequence[str], log_features: Sequence[str], k: int
) -> Any:
    """``customer_lookalikes`` as a Spark DataFrame, searched in parallel over partitions."""
    frame = lookalikes.read_feature_columns(customer_features, features)
    fm = lookalikes.lookalike_matrix(frame, features, log_features)
    sorted_ids, units = lookalikes._prepare(fm.customer_ids, fm.matrix)
    session = customer_features.sparkSession
    n = int(sorted_ids.size)
    shuffle_partitions = int(session.conf.get("spark.sql.shuffle.partitions") or 1)
    partitions = max(1, min(max(n, 1), max(shuffle_partitions, -(-n // ROWS_PER_PARTITION))))
    index = (sorted_ids, units)
    # Classic Spark ships the index once per executor as a broadcast; Spark Connect has no
    # SparkContext and sends it with the function (compressed, once per task).
    is_connect = type(session).__module__.startswith("pyspark.sql.connect")
    shipped: Any = index if is_connect else session.sparkContext.broadcast(index)

    def search(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        ids, vectors = shipped if isinstance(shipped, tuple) else shipped.value
        index = None  # built once per task, on its first customers that need a search
        for batch in batches:
            rows = batch["id"].to_numpy()
            if index is None and not lookalikes._zero_rows(vectors[rows]).all():
                index = build_index(vectors)
            yield lookalikes_of_rows(ids, vectors, rows, k, index=index)

    return session.range(0, n, 1, partitions).mapInPandas(search, LOOKALIKE_SCHEMA)


def lookalikes_for_relation(
    customer_features: Any, *, features: Sequence[str], log_features: Sequence[str], k: int
) -> Any:
    """``customer_lookalikes`` from what ``dbt.ref('customer_features')`` returned."""
    if is_spark_frame(customer_features):
        return spark_lookalikes(
            customer_features, features=features, log_features=log_features, k=k
        )
    # The feature frame (a Python string per id) is freed once the matrix is built, before
    # the search and the output table need their memory.
    fm = lookalikes.lookalike_matrix(
        lookalikes.read_feature_columns(customer_features, features), features, log_features
    )
    return lookalikes.lookalike_table(fm.customer_ids, fm.matrix, k)
