"""Product recommendations that blend four signals, with weights chosen by a backtest.

Signals, each scaled to 0..1 so that weights carry over from one period to another:

* ``item_similarity``: item-to-item co-purchase similarity (cosine of the product columns of
  the customer x product purchase matrix, the ``recommendation_item_neighbours`` most similar
  products kept per product), summed over the products the customer bought, divided by the
  customer's largest such sum;
* ``lookalike``: similarity of the customer's lookalikes (the ``customer_lookalikes`` model)
  who bought the product, summed, divided by the customer's largest such sum;
* ``segment_popularity``: share of the customer's segment who bought the product, divided by
  the segment's best seller's share;
* ``overall_popularity``: share of all customers who bought it, divided by the best seller's.

Candidates are restricted before any customer x product work: the similar products of what
the customer bought, the lookalikes' purchases, and the first ``N + products bought`` of the
segment's and of the overall best-seller lists (so every customer, non-buyers included, gets N
products they have not bought while the catalogue has them). Customers are scored in blocks
of about ``CHUNK_CELLS`` customer x product cells: the signals' sums are scattered into one
dense scratch array per block (integer codes, ``np.bincount``; no sparse products over
customers), the candidates read back in (customer, product) order, and each customer's top N
found with one sort of unique integer keys. A blend without item-similarity and lookalike
weight (the segment best sellers the backtest keeps where no finer taste wins) ranks each
segment's products once and checks only the products that could displace a best seller
(``_list_chosen``; the same output). Co-purchase counts are exact integer counts of each
customer's product pairs.

Weights come from a backtest inside the training period only: with ``cutoff`` = as-of date
minus ``recommendation_holdout_days``, the weights are tuned on purchases up to
``cutoff - recommendation_holdout_days`` against the window up to ``cutoff`` (grid search,
hit-rate@N on a fixed-seed sample; a blend replaces "segment best sellers" only when it wins
significantly more customers than it loses, exact sign test at a 5 % family-wise level,
Bonferroni over the blends tried), then the recommender is scored on the
held-out window after ``cutoff``, next to plain and segment popularity. The held-out
window never influences the weights. The grid search ranks each target by comparing it
with its own customer's candidates (no sort), after dropping the candidates that rank below
N anchors under every blend tried (exact: see ``_outranked``).
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from scipy.stats import binomtest

from customer_analytics.frames import coded_columns, read_columns, sorted_ids

__all__ = [
    "BACKTEST_METHODS",
    "COMPONENTS",
    "WEIGHT_GRID",
    "Weights",
    "recommend_products",
    "recommendation_backtest",
]

LOG = logging.getLogger(__name__)

COMPONENTS: tuple[str, ...] = (
    "item_similarity",
    "lookalike",
    "segment_popularity",
    "overall_popularity",
)
# Values tried for the item, lookalike and segment weights; the overall weight is fixed at 1
# (only ratios matter), so the search also contains "segment best sellers" and "popularity".
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)
BACKTEST_METHODS: tuple[str, ...] = ("blended_recommender", "popularity", "segment_popularity")
CHUNK_CELLS = 500_000  # customer x product cells scored at once: bounds scratch memory
BLOCK_WORKERS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
"""Threads scoring customer blocks of the final recommendations at once (the blocks' numpy
work releases the GIL). At most 2: each thread holds its own block's scratch memory."""
FAMILY_ALPHA = 0.05
"""One-sided family-wise error rate of the tuning decision: the chance that any of the
``len(WEIGHT_GRID) ** 3`` blends tried is taken over the segment best sellers although it is
no better than them. Each blend's exact sign test runs at ``FAMILY_ALPHA / blends tried``
(Bonferroni), because testing only the grid's winner at the nominal level on the customers
that picked it overstates the evidence (winner's curse)."""
SEGMENT_START: tuple[float, ...] = (0.0, 0.0, 100.0, 1.0)


@dataclass(frozen=True)
class Weights:
    """Blend weights of the four signals (see the module docstring)."""

    item_similarity: float
    lookalike: float
    segment_popularity: float
    overall_popularity: float

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in COMPONENTS], dtype=np.float64)


REASONS: tuple[str, ...] = (
    "bought together with products you bought",
    "bought by your most similar customers",
    "popular in your segment",
    "popular with all customers",
)  # one per component: the largest weighted contribution names the reason
BACKTEST_SCHEMA = pa.schema(
    [
        ("method", pa.string()),
        ("top_n", pa.int32()),
        ("training_end_date", pa.date32()),
        ("holdout_start_date", pa.date32()),
        ("holdout_end_date", pa.date32()),
        ("training_transactions", pa.int64()),
        ("holdout_transactions", pa.int64()),
        ("customers_with_new_purchases", pa.int64()),
        ("customers_evaluated", pa.int64()),
        ("customers_hit", pa.int64()),
        ("hit_rate", pa.float64()),
        ("hit_rate_vs_popularity", pa.float64()),
        ("hit_rate_vs_segment_popularity", pa.float64()),
        ("customer_coverage", pa.float64()),
        ("catalogue_coverage", pa.float64()),
        ("weight_item_similarity", pa.float64()),
        ("weight_lookalike", pa.float64()),
        ("weight_segment_popularity", pa.float64()),
        ("weight_overall_popularity", pa.float64()),
        ("tuning_training_end_date", pa.date32()),
        ("tuning_hit_rate", pa.float64()),
    ]
)
TEXT_CODES = pa.dictionary(pa.int32(), pa.string())
"""Text columns of the recommendations: codes into the customer, product and reason lists
(4 bytes a row instead of a copy of the text; DuckDB and Spark read them as plain text)."""
RECOMMENDATION_SCHEMA: tuple[tuple[str, pa.DataType], ...] = (
    ("customer_id", TEXT_CODES),
    ("recommendation_rank", pa.int32()),
    ("product_id", TEXT_CODES),
    ("product_name", TEXT_CODES),
    ("category", TEXT_CODES),
    ("price", pa.float64()),
    ("recommendation_score", pa.float64()),
    ("item_similarity_score", pa.float64()),
    ("lookalike_score", pa.float64()),
    ("lookalikes_who_bought", pa.int32()),
    ("segment_share", pa.float64()),
    ("overall_share", pa.float64()),
    ("reason", TEXT_CODES),
)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Data:
    customer_ids: pa.Array  # sorted, unique
    product_ids: pa.Array  # sorted, unique
    segment: np.ndarray  # int64 segment code per customer
    purchase_customer: np.ndarray  # int32, one per transaction
    purchase_product: np.ndarray  # int32
    purchase_day: np.ndarray  # int32 days since 1970-01-01
    lookalike: sp.csr_matrix  # customers x customers similarity of each customer's lookalikes

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def n_products(self) -> int:
        return len(self.product_ids)


def _codes(values: pa.ChunkedArray | pa.Array, universe: pa.Array, what: str) -> np.ndarray:
    """Position of each value in ``universe``; an unknown value is an error naming it."""
    codes = pc.index_in(values, value_set=universe)
    if codes.null_count:
        unknown = pc.filter(values, pc.is_null(codes))[0]
        raise ValueError(
            f"{what}: {codes.null_count} row(s) reference an id missing from the customer or "
            f"product list, first {unknown.as_py()!r}"
        )
    return codes.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


def _read_inputs(transactions: Any, customers: Any, products: Any, lookalikes: Any) -> _Data:
    """The inputs as integer codes. Each is an Arrow table, a DuckDB relation or a Spark
    DataFrame; the large ones (transactions, lookalikes) are read in batches and kept only as
    numpy codes, so no table of their strings is held."""
    customers = read_columns(customers, ["customer_id", "segment_id"], "customer segments")
    customer_ids = sorted_ids(customers["customer_id"])
    if len(customer_ids) != customers.num_rows:
        raise ValueError("customer segments: customer_id is not unique")
    product_ids = sorted_ids(read_columns(products, ["product_id"], "products")["product_id"])
    by_customer = _codes(customers["customer_id"], customer_ids, "customer segments")
    segment_values = customers["segment_id"].to_numpy().astype(np.int64)
    segment = np.empty(len(customer_ids), dtype=np.int64)
    segment[by_customer] = np.unique(segment_values, return_inverse=True)[1]
    del customers, by_customer, segment_values
    n = len(customer_ids)
    pairs = coded_columns(
        lookalikes,
        ids={"customer_id": customer_ids, "lookalike_customer_id": customer_ids},
        values=["similarity_score"],
        what="lookalikes",
    )
    lookalike = sp.csr_matrix(
        (
            np.clip(pairs.pop("similarity_score"), 0.0, None),
            (pairs.pop("customer_id"), pairs.pop("lookalike_customer_id")),
        ),
        shape=(n, n),
        dtype=np.float64,
    )
    coded = coded_columns(
        transactions,
        ids={"customer_id": customer_ids, "product_id": product_ids},
        days=["transaction_date"],
        what="transactions",
    )
    return _Data(
        customer_ids=customer_ids,
        product_ids=product_ids,
        segment=segment,
        purchase_customer=coded["customer_id"],
        purchase_product=coded["product_id"],
        purchase_day=coded["transaction_date"],
        lookalike=lookalike,
    )


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class _Fitted:
    bought: sp.csr_matrix  # customers x products, 1 where bought (float64)
    similarity: sp.csr_matrix  # products x products, top neighbours, no diagonal
    neighbour: np.ndarray  # products x most neighbours: similarity's columns, padded with 0
    neighbour_value: np.ndarray  # the same, its values, padded with 0.0 (adds nothing)
    segment_share: np.ndarray  # segments x products
    overall_share: np.ndarray  # products
    segment_order: np.ndarray  # segments x products: product codes, best seller first
    overall_order: np.ndarray  # products


KEY_CHUNK_ROWS = 1 << 20  # transactions turned into keys at once: bounds scratch memory


def _purchase_matrix(data: _Data, mask: np.ndarray) -> sp.csr_matrix:
    """Customers x products, 1 where bought: one sort of integer keys (int32 where they fit,
    built a block of rows at a time), CSR built directly."""
    p = data.n_products
    dtype = np.int32 if (data.n_customers + 1) * p < 2**31 else np.int64
    key = np.empty(int(np.count_nonzero(mask)), dtype=dtype)
    filled = 0
    for start in range(0, mask.size, KEY_CHUNK_ROWS):
        part = slice(start, start + KEY_CHUNK_ROWS)
        keep = mask[part]
        chunk = data.purchase_customer[part][keep].astype(dtype) * dtype(p)
        chunk += data.purchase_product[part][keep]
        key[filled : filled + chunk.size] = chunk
        filled += chunk.size
    key.sort()
    key = key[np.r_[True, key[1:] != key[:-1]]] if key.size else key
    indptr = np.searchsorted(key, np.arange(data.n_customers + 1, dtype=np.int64) * p)
    matrix = sp.csr_matrix(
        (np.ones(key.size), (key % dtype(p)).astype(np.int32), indptr),
        shape=(data.n_customers, p),
    )
    matrix.has_sorted_indices = True
    return matrix


DENSE_PAIR_CELLS = 2**24  # co-purchase counts kept dense up to this many product pairs
PAIR_BLOCK = 1_000_000  # product pairs expanded at once (bounds scratch memory)


def _cooccurrence(bought: sp.csr_matrix) -> np.ndarray:
    """Product x product count of customers who bought both (dense), from each customer's
    pairs of products (each unordered pair once, mirrored at the end) counted in blocks:
    exact integers, no sparse product over customers."""
    p = bought.shape[1]
    counts = np.zeros(p * p, dtype=np.int64)
    per_row = np.diff(bought.indptr).astype(np.int64)
    done = np.cumsum(per_row * (per_row + 1) // 2)
    start = 0
    while start < bought.shape[0]:
        stop = int(np.searchsorted(done, (done[start - 1] if start else 0) + PAIR_BLOCK, "right"))
        stop = max(stop, start + 1)
        lo, hi = int(bought.indptr[start]), int(bought.indptr[stop])
        position = np.arange(lo, hi, dtype=np.int64)
        row_end = np.repeat(
            bought.indptr[start + 1 : stop + 1].astype(np.int64), per_row[start:stop]
        )
        later = row_end - position  # the entry itself and the rest of its row
        ends = np.cumsum(later)
        other = np.arange(int(ends[-1]) if ends.size else 0) + np.repeat(
            position - ends + later, later
        )
        first = np.repeat(bought.indices[lo:hi].astype(np.int64), later)
        counts += np.bincount(first * p + bought.indices[other], minlength=p * p)
        start = stop
    upper = counts.reshape(p, p)  # first <= second: the row's columns are sorted
    return upper + upper.T - np.diag(np.diagonal(upper))


def _top_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Keep each row's ``keep`` largest entries (ties: smaller column first)."""
    coo = matrix.tocoo()
    order = np.lexsort((coo.col, -coo.data, coo.row))
    row = coo.row[order]
    starts = np.searchsorted(row, row, side="left")
    rank = np.arange(row.size) - starts
    chosen = order[rank < keep]
    kept = sp.csr_matrix((coo.data[chosen], (coo.row[chosen], coo.col[chosen])), shape=matrix.shape)
    kept.sort_indices()
    return kept


def _fit(data: _Data, bought: sp.csr_matrix, item_neighbours: int) -> _Fitted:
    p = data.n_products
    if p * p <= DENSE_PAIR_CELLS:
        dense = _cooccurrence(bought).astype(np.float64)
        degree = dense.diagonal().copy()
        np.fill_diagonal(dense, 0.0)
        row, col = np.nonzero(dense)
        together = dense[row, col]
    else:
        co = (bought.T @ bought).tocsr()
        degree = co.diagonal()
        co.setdiag(0.0)
        co.eliminate_zeros()
        coo = co.tocoo()
        row, col, together = coo.row, coo.col, coo.data
    cosine = together / np.sqrt(degree[row] * degree[col])
    similarity = _top_per_row(sp.csr_matrix((cosine, (row, col)), shape=(p, p)), item_neighbours)
    n_segments = int(data.segment.max()) + 1 if data.segment.size else 0
    segment_sizes = np.bincount(data.segment, minlength=n_segments).astype(np.float64)
    # buyers per segment and product, counted a block of customers at a time (exact integers)
    segment_buyers = np.zeros(n_segments * p, dtype=np.int64)
    for start in range(0, data.n_customers, KEY_CHUNK_ROWS // 8):
        stop = min(start + KEY_CHUNK_ROWS // 8, data.n_customers)
        lo, hi = int(bought.indptr[start]), int(bought.indptr[stop])
        buyer_segment = np.repeat(
            data.segment[start:stop], np.diff(bought.indptr[start : stop + 1])
        )
        segment_buyers += np.bincount(
            buyer_segment * p + bought.indices[lo:hi], minlength=n_segments * p
        )
    segment_buyers = segment_buyers.reshape(n_segments, p)
    segment_share = segment_buyers / np.maximum(segment_sizes, 1.0)[:, None]
    overall_share = np.bincount(bought.indices, minlength=p) / max(data.n_customers, 1)
    products = np.arange(data.n_products)
    overall_order = np.lexsort((products, -overall_share))
    segment_order = (
        np.stack([np.lexsort((products, -overall_share, -share)) for share in segment_share])
        if n_segments
        else np.empty((0, data.n_products), dtype=np.int64)
    )
    degree = np.diff(similarity.indptr)
    width = int(degree.max()) if degree.size else 0
    slot = np.arange(similarity.nnz) - np.repeat(similarity.indptr[:-1], degree)
    owner = np.repeat(np.arange(p), degree)
    neighbour = np.zeros((p, width), dtype=np.int64)
    neighbour_value = np.zeros((p, width))
    neighbour[owner, slot] = similarity.indices
    neighbour_value[owner, slot] = similarity.data
    return _Fitted(
        bought,
        similarity,
        neighbour,
        neighbour_value,
        segment_share,
        overall_share,
        segment_order,
        overall_order,
    )


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class _Candidates:
    row: np.ndarray  # position in the chunk
    product: np.ndarray
    components: np.ndarray  # candidates x 4, each scaled to 0..1
    raw_item: np.ndarray
    raw_lookalike: np.ndarray
    lookalikes_who_bought: np.ndarray


def _keys(matrix: sp.csr_matrix, width: int) -> np.ndarray:
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return rows * width + matrix.indices.astype(np.int64)


def _row_max_scaled(values: np.ndarray, row: np.ndarray, rows: int) -> np.ndarray:
    """``values`` divided by their row's largest (rows sorted); 0 where that is not positive."""
    counts = np.bincount(row, minlength=rows)
    filled = counts > 0
    peak = np.zeros(rows, dtype=np.float64)
    if values.size:
        starts = (np.cumsum(counts) - counts)[filled]
        peak[filled] = np.maximum(np.maximum.reduceat(values, starts), 0.0)
    scale = peak[row]
    return np.divide(values, scale, out=np.zeros_like(values), where=scale > 0)


def _expand(
    row: np.ndarray, item: np.ndarray, weight: np.ndarray, matrix: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (row, item, weight): (row, column, weight x value) of each entry of the
    item's row of ``matrix``, in input order then column order (the order in which scipy's
    sparse product sums them, so the sums are the same to the last digit)."""
    degree = np.diff(matrix.indptr)[item]
    total = int(degree.sum())
    ends = np.cumsum(degree)
    position = np.arange(total, dtype=np.int64) + np.repeat(
        matrix.indptr[item] - ends + degree, degree
    )
    return (
        np.repeat(row, degree),
        matrix.indices[position].astype(np.int64),
        np.repeat(weight, degree) * matrix.data[position],
    )


def _candidates(fitted: _Fitted, data: _Data, customers: np.ndarray, top_n: int) -> _Candidates:
    """The candidates of ``customers``, sorted by (position in ``customers``, product)."""
    step = _chunk_size(data.n_products)
    if customers.size <= step:
        return _candidate_block(fitted, data, customers, top_n)
    parts = [
        _candidate_block(fitted, data, customers[start : start + step], top_n)
        for start in range(0, customers.size, step)
    ]
    offsets = np.arange(0, customers.size, step)
    return _Candidates(
        np.concatenate([part.row + offset for part, offset in zip(parts, offsets, strict=True)]),
        np.concatenate([part.product for part in parts]),
        np.concatenate([part.components for part in parts]),
        np.concatenate([part.raw_item for part in parts]),
        np.concatenate([part.raw_lookalike for part in parts]),
        np.concatenate([part.lookalikes_who_bought for part in parts]),
    )


def _candidate_block(
    fitted: _Fitted, data: _Data, customers: np.ndarray, top_n: int
) -> _Candidates:
    """One block of customers, small enough for a dense customers x products scratch array:
    sums are scattered into it (no sparse products, no sorting), candidates read back in
    (customer, product) order."""
    p = data.n_products
    rows = customers.size
    # a run of consecutive customers (every block of recommend_products) is sliced: faster
    # than scipy's row indexing by an array
    span = (
        slice(int(customers[0]), int(customers[-1]) + 1)
        if rows
        and int(customers[-1]) - int(customers[0]) + 1 == rows
        and bool(np.all(np.diff(customers) == 1))
        else customers
    )
    bought = fitted.bought[span]
    n_bought = np.diff(bought.indptr)
    bought_row = np.repeat(np.arange(rows, dtype=np.int64), n_bought)
    bought_key = bought_row * p + bought.indices
    # item similarity: sum over the products bought of their similar products (in the order
    # scipy's sparse product would sum them; the padding adds 0.0, which changes nothing)
    item = np.bincount(
        (bought_row[:, None] * p + fitted.neighbour[bought.indices]).ravel(),
        weights=fitted.neighbour_value[bought.indices].ravel(),
        minlength=rows * p,
    ).astype(np.float64, copy=False)  # (bincount of nothing counts in integers)
    candidate = item > 0
    # lookalikes' purchases, weighted by their similarity (and counted where it is positive)
    neighbours = data.lookalike[span]
    l_row, l_col, l_value = _expand(
        np.repeat(np.arange(rows, dtype=np.int64), np.diff(neighbours.indptr)),
        neighbours.indices,
        neighbours.data,
        fitted.bought,
    )
    l_key = l_row * p + l_col
    candidate[l_key[l_value > 0]] = True
    # the first N + (products bought) of the segment's and of the overall best sellers
    take = np.minimum(n_bought + top_n, p)
    local = np.repeat(np.arange(rows, dtype=np.int64), take)
    position = np.arange(local.size) - np.repeat(np.cumsum(take) - take, take)
    segment = data.segment[customers]
    candidate[local * p + fitted.segment_order[segment[local], position]] = True
    candidate[local * p + fitted.overall_order[position]] = True
    candidate[bought_key] = False
    flat = np.flatnonzero(candidate)
    row = flat // p
    product = flat % p
    raw_item = item[flat]
    del item, candidate
    # the lookalikes' contributions placed among the candidates: needles in key order (a
    # stable order, so equal keys keep their summation order) search much faster
    by_key = np.argsort(l_key, kind="stable")
    l_key, l_value = l_key[by_key], l_value[by_key]
    at = np.searchsorted(flat, l_key)
    found = at < flat.size
    found[found] = flat[at[found]] == l_key[found]
    raw_lookalike = np.zeros(flat.size)
    np.add.at(raw_lookalike, at[found], l_value[found])
    who_bought = np.zeros(flat.size)
    np.add.at(who_bought, at[found], (l_value[found] > 0).astype(np.float64))
    segment_best = fitted.segment_share.max(axis=1)[segment[row]]
    segment_share = fitted.segment_share[segment[row], product]
    overall_best = fitted.overall_share.max() if p else 0.0
    components = np.empty((row.size, len(COMPONENTS)))
    components[:, 0] = _row_max_scaled(raw_item, row, rows)
    components[:, 1] = _row_max_scaled(raw_lookalike, row, rows)
    np.divide(segment_share, segment_best, out=components[:, 2], where=segment_best > 0)
    components[segment_best <= 0, 2] = 0.0
    components[:, 3] = fitted.overall_share[product] / overall_best if overall_best > 0 else 0.0
    return _Candidates(row, product, components, raw_item, raw_lookalike, who_bought)


SCORE_RESOLUTION = 2.0**-20
"""Scores equal to this resolution count as tied; ties go to the smaller product id."""


def _blend(components: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """The blend's score of each candidate: the weighted components summed left to right,
    (((item + lookalike) + segment) + overall), the same in every place that ranks
    candidates (a BLAS matrix-vector product may sum in another order, and differ in the
    last bits, from machine to machine) and fast on a few columns."""
    score = components[:, 0] * vector[0]
    for j in range(1, components.shape[1]):
        score += components[:, j] * vector[j]
    return score


def _top_n(
    row: np.ndarray, product: np.ndarray, score: np.ndarray, top_n: int, n_products: int
) -> np.ndarray:
    """Indices of each row's ``top_n`` best candidates, best first (ties: smaller product).

    The candidates must come sorted by (row, product). Each gets one integer key (row, then
    quantised score descending, then product), unique, so a plain sort of the keys (no
    argsort) orders them; the chosen keys are then found among the candidates.
    """
    if row.size == 0:
        return np.zeros(0, dtype=np.int64)
    quantised = np.round(score / SCORE_RESOLUTION).astype(np.int64)
    low, high = int(quantised.min()), int(quantised.max())
    width = (high - low + 1) * n_products
    rows = int(row[-1]) + 1
    if rows * width >= 2**62:  # keys would overflow: stable argsort keeps product order
        key = row.astype(np.int64) * (high - low + 1) + (high - quantised)
        order = np.argsort(key, kind="stable")
        ordered_rows = row[order]
        rank = np.arange(order.size) - np.searchsorted(ordered_rows, ordered_rows, side="left")
        return order[rank < top_n]
    key = np.sort(row * width + (high - quantised) * n_products + product)
    counts = np.bincount(row, minlength=rows)
    take = np.minimum(counts, top_n)
    first = np.repeat(np.cumsum(counts) - counts, take)
    chosen = key[first + np.arange(first.size) - np.repeat(np.cumsum(take) - take, take)]
    chosen_row = chosen // width
    chosen_product = chosen % n_products
    return np.searchsorted(row * n_products + product, chosen_row * n_products + chosen_product)


@dataclass(frozen=True)
class _Chosen:
    """Each customer's recommendations in a block, by (position in the block, rank)."""

    row: np.ndarray
    product: np.ndarray
    score: np.ndarray
    raw_item: np.ndarray
    raw_lookalike: np.ndarray
    lookalikes_who_bought: np.ndarray
    main_signal: np.ndarray


def _blend_chosen(
    fitted: _Fitted, data: _Data, customers: np.ndarray, top_n: int, vector: np.ndarray
) -> _Chosen:
    """Every candidate scored with the blend, each customer's top N kept."""
    cand = _candidates(fitted, data, customers, top_n)
    score = _blend(cand.components, vector)
    chosen = _top_n(cand.row, cand.product, score, top_n, data.n_products)
    return _Chosen(
        cand.row[chosen],
        cand.product[chosen],
        score[chosen],
        cand.raw_item[chosen],
        cand.raw_lookalike[chosen],
        cand.lookalikes_who_bought[chosen],
        np.argmax(cand.components[chosen] * vector, axis=1),
    )


@dataclass(frozen=True)
class _ListOrder:
    """For a blend without item-similarity and lookalike weight: a candidate's score depends
    on its segment and product only, so each segment's products are ranked once."""

    segment_part: np.ndarray  # segments x products: weighted segment component
    overall_part: np.ndarray  # products: weighted overall component
    score: np.ndarray  # segments x products, as the blend computes it
    order: np.ndarray  # segments x products: best first (quantised score, then product)
    segment_rank: np.ndarray  # segments x products: position in the segment's best sellers
    overall_rank: np.ndarray  # products: position among the overall best sellers
    similar: np.ndarray  # products x products: True where one is among the other's similar
    similarity: np.ndarray  # products x products: the similarity (0 where not kept)
    bought_keys: np.ndarray  # customer x products + product of every purchase, sorted


def _list_order(fitted: _Fitted, data: _Data, vector: np.ndarray) -> _ListOrder | None:
    p = data.n_products
    if vector[0] != 0.0 or vector[1] != 0.0 or p * p > DENSE_PAIR_CELLS or p == 0:
        return None
    best = fitted.segment_share.max(axis=1)[:, None]
    segment_component = np.zeros_like(fitted.segment_share)
    np.divide(fitted.segment_share, best, out=segment_component, where=best > 0)
    overall_best = fitted.overall_share.max()
    overall_component = fitted.overall_share / overall_best if overall_best > 0 else np.zeros(p)
    segment_part = segment_component * vector[2]
    overall_part = overall_component * vector[3]
    # the blend's sum (((0 + 0) + segment) + overall): the zero terms change nothing
    score = segment_part + overall_part[None, :]
    quantised = np.round(score / SCORE_RESOLUTION).astype(np.int64)
    products = np.arange(p)
    order = np.stack([np.lexsort((products, -q)) for q in quantised])
    segment_rank = np.empty_like(fitted.segment_order)
    np.put_along_axis(
        segment_rank, fitted.segment_order, np.broadcast_to(products, segment_rank.shape), 1
    )
    overall_rank = np.empty(p, dtype=np.int64)
    overall_rank[fitted.overall_order] = products
    similarity = fitted.similarity.toarray()
    bought = fitted.bought
    owner = np.repeat(np.arange(bought.shape[0], dtype=np.int64), np.diff(bought.indptr))
    return _ListOrder(
        segment_part,
        overall_part,
        score,
        order,
        segment_rank,
        overall_rank,
        similarity > 0,
        similarity,
        owner * p + bought.indices,
    )


def _rows_of(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``rows`` (repeats allowed), its entries: (index into ``rows``, position
    of the entry in ``matrix``), in row then column order."""
    counts = np.diff(matrix.indptr)[rows]
    owner = np.repeat(np.arange(rows.size), counts)
    ends = np.cumsum(counts)
    position = np.arange(int(ends[-1]) if ends.size else 0) + np.repeat(
        matrix.indptr[rows] - ends + counts, counts
    )
    return owner, position


def _is_in(sorted_keys: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Whether each ``key`` is among ``sorted_keys`` (needles searched in sorted order)."""
    if not sorted_keys.size or not key.size:
        return np.zeros(key.shape, dtype=bool)
    flat = key.ravel()
    by_key = np.argsort(flat)
    at = np.minimum(np.searchsorted(sorted_keys, flat[by_key]), sorted_keys.size - 1)
    found = np.empty(flat.size, dtype=bool)
    found[by_key] = sorted_keys[at] == flat[by_key]
    return found.reshape(key.shape)


def _list_chosen(
    fitted: _Fitted,
    data: _Data,
    order: _ListOrder,
    start: int,
    stop: int,
    top_n: int,
    vector: np.ndarray,
) -> _Chosen:
    """Customers ``start:stop`` under a popularity-only blend, exactly as _blend_chosen: walk
    the segment's ranking and keep the first N products that are candidates (not bought;
    among the customer's first N + bought of the segment's or overall best sellers, or
    similar to a product bought, or bought by a lookalike). Customers whose first products
    do not hold N candidates go through _blend_chosen."""
    p = data.n_products
    rows = stop - start
    bought = fitted.bought[start:stop]
    n_bought = np.diff(bought.indptr)
    segment = data.segment[start:stop]
    width = int(min(p, (n_bought.max() if rows else 0) + top_n + 8))
    product = order.order[:, :width][segment]
    local = np.broadcast_to(np.arange(rows)[:, None], product.shape)
    # the block's own purchases are one short run of the sorted keys: search only that
    own_keys = order.bought_keys[fitted.bought.indptr[start] : fitted.bought.indptr[stop]]
    owned = _is_in(own_keys, (start + local) * p + product)
    take = np.minimum(n_bought + top_n, p)[:, None]
    candidate = (order.segment_rank[segment[:, None], product] < take) | (
        order.overall_rank[product] < take
    )
    # Only a product ranked before the customer's N-th best seller candidate can displace
    # one: the others need no similarity or lookalike check.
    listed = candidate & ~owned
    nth = np.argmax(np.cumsum(listed, axis=1) >= top_n, axis=1)
    nth[~(listed.sum(axis=1) >= top_n)] = width
    before = np.arange(width)[None, :] < nth[:, None]
    check_row, check_col = np.nonzero(~owned & ~candidate & before)
    # the purchases of the block's lookalikes, as sorted keys: a small array to search
    neighbours = data.lookalike[start:stop]
    friends = np.unique(neighbours.indices)
    _, at = _rows_of(fitted.bought, friends)
    friend_keys = np.sort(
        np.repeat(friends.astype(np.int64), np.diff(fitted.bought.indptr)[friends]) * p
        + fitted.bought.indices[at]
    )
    if check_row.size:
        wanted = product[check_row, check_col]
        pair, at = _rows_of(bought, check_row)
        similar = np.bincount(
            pair, weights=order.similar[bought.indices[at], wanted[pair]], minlength=check_row.size
        )
        pair, at = _rows_of(neighbours, check_row)
        positive = neighbours.data[at] > 0
        bought_by_lookalike = _is_in(friend_keys, neighbours.indices[at] * p + wanted[pair])
        lookalike = np.bincount(
            pair, weights=positive & bought_by_lookalike, minlength=check_row.size
        )
        candidate[check_row, check_col] = (similar > 0) | (lookalike > 0)
    candidate &= ~owned
    ranked = np.cumsum(candidate, axis=1)
    short = ranked[:, -1] < np.minimum(top_n, p - n_bought)
    pick_row, pick_col = np.nonzero(candidate & (ranked <= top_n) & ~short[:, None])
    chosen = product[pick_row, pick_col]
    pair, at = _rows_of(bought, pick_row)
    raw_item = np.bincount(
        pair, weights=order.similarity[bought.indices[at], chosen[pair]], minlength=pick_row.size
    )
    pair, at = _rows_of(neighbours, pick_row)
    by_lookalike = _is_in(friend_keys, neighbours.indices[at] * p + chosen[pair])
    raw_lookalike = np.bincount(
        pair, weights=neighbours.data[at] * by_lookalike, minlength=pick_row.size
    )
    who = np.bincount(
        pair, weights=(neighbours.data[at] > 0) & by_lookalike, minlength=pick_row.size
    )
    parts = np.zeros((pick_row.size, len(COMPONENTS)))
    parts[:, 2] = order.segment_part[segment[pick_row], chosen]
    parts[:, 3] = order.overall_part[chosen]
    picked = _Chosen(
        pick_row,
        chosen,
        order.score[segment[pick_row], chosen],
        raw_item,
        raw_lookalike,
        who,
        np.argmax(parts, axis=1),
    )
    if not short.any():
        return picked
    rest = np.flatnonzero(short)
    other = _blend_chosen(fitted, data, start + rest, top_n, vector)
    merged = np.concatenate([picked.row, rest[other.row]])
    keep = np.argsort(merged, kind="stable")  # rows in order, each row's ranks in order
    return _Chosen(
        *(
            np.concatenate([mine, theirs])[keep]
            for mine, theirs in zip(
                (
                    picked.row,
                    picked.product,
                    picked.score,
                    picked.raw_item,
                    picked.raw_lookalike,
                    picked.lookalikes_who_bought,
                    picked.main_signal,
                ),
                (
                    rest[other.row],
                    other.product,
                    other.score,
                    other.raw_item,
                    other.raw_lookalike,
                    other.lookalikes_who_bought,
                    other.main_signal,
                ),
                strict=True,
            )
        )
    )


def _chosen_block(
    fitted: _Fitted,
    data: _Data,
    ranking: _ListOrder | None,
    top_n: int,
    vector: np.ndarray,
    part: slice,
) -> _Chosen:
    """The recommendations of customers ``part``: ranked per segment where the blend allows."""
    if ranking is not None:
        return _list_chosen(fitted, data, ranking, part.start, part.stop, top_n, vector)
    return _blend_chosen(fitted, data, np.arange(part.start, part.stop), top_n, vector)


def _in_order(
    work: Callable[[slice], _Chosen], parts: Iterable[slice]
) -> Iterator[tuple[slice, _Chosen]]:
    """``(part, work(part))`` for each part, in order, computed by :data:`BLOCK_WORKERS`
    threads (the blocks are independent and numpy releases the GIL in their heavy steps).

    At most ``2 x workers`` blocks are in flight, so scratch memory stays bounded; results
    are taken in submission order, so the output does not depend on thread timing.
    """
    workers = BLOCK_WORKERS
    if workers <= 1:
        for part in parts:
            yield part, work(part)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="recommend") as pool:
        pending: deque[tuple[slice, Future[_Chosen]]] = deque()
        for part in parts:
            pending.append((part, pool.submit(work, part)))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def _chunk_size(n_products: int) -> int:
    """Customers per block: about CHUNK_CELLS customer x product cells of scratch memory."""
    return max(1, CHUNK_CELLS // max(n_products, 1))


def _chunks(size: int, n_products: int) -> Iterator[slice]:
    step = _chunk_size(n_products)
    for start in range(0, size, step):
        yield slice(start, min(start + step, size))


# --------------------------------------------------------------------------- evaluation


def _hit_flags(
    fitted: _Fitted,
    data: _Data,
    customers: np.ndarray,
    wanted: sp.csr_matrix,
    top_n: int,
    weights: Weights,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer in ``customers``: hit?, full list?, and the recommended product codes."""
    hits, full, recommended = [], [], []
    p = data.n_products
    for part in _chunks(customers.size, p):
        chunk = customers[part]
        cand = _candidates(fitted, data, chunk, top_n)
        chosen = _top_n(cand.row, cand.product, _blend(cand.components, weights.vector()), top_n, p)
        keys = cand.row[chosen] * p + cand.product[chosen]
        target = _keys(wanted[chunk], p)
        hit_keys = keys[np.isin(keys, target)]
        hits.append(np.bincount(hit_keys // p, minlength=chunk.size) > 0)
        full.append(np.bincount(cand.row[chosen], minlength=chunk.size) == top_n)
        recommended.append(cand.product[chosen])
    if not hits:
        empty = np.zeros(0, dtype=bool)
        return empty, empty, np.zeros(0, dtype=np.int64)
    return np.concatenate(hits), np.concatenate(full), np.concatenate(recommended)


def _ranked_list_flags(
    fitted: _Fitted,
    data: _Data,
    customers: np.ndarray,
    wanted: sp.csr_matrix,
    top_n: int,
    by_segment: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline: each customer's first ``top_n`` unbought products of a best-seller list."""
    p = data.n_products
    hits, full, recommended = [], [], []
    for part in _chunks(customers.size, p):
        chunk = customers[part]
        bought = fitted.bought[chunk]
        take = np.minimum(np.diff(bought.indptr) + top_n, p)
        local = np.repeat(np.arange(chunk.size, dtype=np.int64), take)
        position = np.arange(local.size) - np.repeat(np.cumsum(take) - take, take)
        product = (
            fitted.segment_order[data.segment[chunk][local], position]
            if by_segment
            else fitted.overall_order[position]
        )
        keys = local * p + product
        owned = _keys(bought, p)
        new = ~np.isin(keys, owned)
        local, position, keys = local[new], position[new], keys[new]
        rank = np.arange(local.size) - np.searchsorted(local, local, side="left")
        keep = rank < top_n
        keys = keys[keep]
        hit_keys = keys[np.isin(keys, _keys(wanted[chunk], p))]
        hits.append(np.bincount(hit_keys // p, minlength=chunk.size) > 0)
        full.append(np.bincount(local[keep], minlength=chunk.size) == top_n)
        recommended.append(keys % p)
    if not hits:
        empty = np.zeros(0, dtype=bool)
        return empty, empty, np.zeros(0, dtype=np.int64)
    return np.concatenate(hits), np.concatenate(full), np.concatenate(recommended)


@dataclass(frozen=True)
class _Split:
    fitted: _Fitted
    wanted: sp.csr_matrix  # customers x products bought in the window and not before
    evaluated: np.ndarray  # customers with at least one such product
    training_transactions: int
    window_transactions: int


def _window_matrices(data: _Data, cutoff: int, end: int) -> tuple[sp.csr_matrix, ...]:
    """Purchases up to ``cutoff``, and the products first bought in (cutoff, end]."""
    before = data.purchase_day <= cutoff
    window = (data.purchase_day > cutoff) & (data.purchase_day <= end)
    bought = _purchase_matrix(data, before)
    later = _purchase_matrix(data, window)
    wanted = later - later.multiply(bought)
    wanted.eliminate_zeros()
    wanted = wanted.tocsr()
    wanted.sort_indices()
    return bought, wanted


def _split(data: _Data, cutoff: int, end: int, item_neighbours: int) -> _Split:
    bought, wanted = _window_matrices(data, cutoff, end)
    return _Split(
        _fit(data, bought, item_neighbours),
        wanted,
        np.flatnonzero(np.diff(wanted.indptr) > 0),
        int(np.count_nonzero(data.purchase_day <= cutoff)),
        int(np.count_nonzero((data.purchase_day > cutoff) & (data.purchase_day <= end))),
    )


def _without_codes(data: _Data) -> _Data:
    """``data`` without its per-transaction codes (once they are in purchase matrices)."""
    nothing = np.zeros(0, dtype=np.int32)
    return replace(data, purchase_customer=nothing, purchase_product=nothing, purchase_day=nothing)


def _significant_win(gained: int, lost: int, tried: int) -> bool:
    """Whether winning ``gained`` customers and losing ``lost`` (the ties dropped) is a win at
    the family-wise level FAMILY_ALPHA when ``tried`` comparisons are made: one-sided exact
    sign test at ``FAMILY_ALPHA / tried`` (Bonferroni)."""
    if gained <= lost:
        return False
    test = binomtest(gained, gained + lost, 0.5, alternative="greater")
    return bool(test.pvalue < FAMILY_ALPHA / tried)


ANCHOR_VECTORS: tuple[tuple[float, ...], ...] = (
    (1.0, 1.0, 1.0, 1.0),
    (10.0, 1.0, 1.0, 1.0),
    (1.0, 10.0, 1.0, 1.0),
    (1.0, 1.0, 10.0, 1.0),
)
"""Blends whose top N per customer serve as anchors for pruning (any would do: the pruning
is exact whatever the anchors; these make it prune much)."""


def _outranked(cand: _Candidates, rows: int, top_n: int, n_products: int) -> np.ndarray:
    """Candidates that rank below at least N others under every blend tuning tries.

    Anchors (each customer's top N under a few fixed blends) are never dropped. A candidate is
    dropped when N anchors of its customer have every component at least as large and an
    overall-popularity component more than 2 score resolutions larger: the overall weight is
    1 and the others are non-negative in every blend tried, so each such anchor scores above it
    after quantisation. Such a candidate never changes whether a target is hit (N anchors
    rank above the target whenever it does) and, as a target, is never hit.
    """
    out = np.zeros(cand.row.size, dtype=bool)
    if cand.row.size == 0:
        return out
    anchor = np.unique(
        np.concatenate(
            [
                _top_n(
                    cand.row, cand.product, _blend(cand.components, np.array(v)), top_n, n_products
                )
                for v in ANCHOR_VECTORS
            ]
        )
    )
    anchor_row = cand.row[anchor]
    counts = np.bincount(anchor_row, minlength=rows)
    slot = np.arange(anchor.size) - (np.cumsum(counts) - counts)[anchor_row]
    table = np.full((rows, int(counts.max()), len(COMPONENTS)), -np.inf)
    table[anchor_row, slot] = cand.components[anchor]
    below = np.zeros(cand.row.size, dtype=np.int64)
    for j in range(table.shape[1]):
        other = table[cand.row, j]
        below += (other[:, :3] >= cand.components[:, :3]).all(axis=1) & (
            other[:, 3] - cand.components[:, 3] > 2 * SCORE_RESOLUTION
        )
    out = below >= top_n
    out[anchor] = False
    return out


def _tune(
    split: _Split, data: _Data, top_n: int, sample_size: int, random_seed: int
) -> tuple[Weights, float]:
    """Grid search over WEIGHT_GRID on hit-rate@N against the segment best-seller list."""
    customers = split.evaluated
    if customers.size > sample_size:
        rng = np.random.default_rng(random_seed)
        customers = np.sort(rng.choice(customers, size=sample_size, replace=False))
    if customers.size == 0:
        return Weights(*SEGMENT_START), float("nan")  # no evidence: segment best sellers
    cand = _candidates(split.fitted, data, customers, top_n)
    target = _keys(split.wanted[customers], data.n_products)
    is_target = np.isin(cand.row * data.n_products + cand.product, target)

    # Only the customers with a target among their candidates can be hit: keep their
    # candidates (sorted by customer, product). A target is hit when fewer than N of its
    # customer's candidates rank above it (higher quantised score, or equal and a smaller
    # product, as in _top_n). Each target is compared with its own customer's candidates
    # only: the (target, candidate) pairs are laid out once, so a grid point costs one
    # scoring pass and one comparison per pair, no sort.
    p = data.n_products
    with_target = np.zeros(customers.size, dtype=bool)
    with_target[cand.row[is_target]] = True
    kept = with_target[cand.row] & ~_outranked(cand, customers.size, top_n, p)
    compact = np.cumsum(with_target) - 1
    row = compact[cand.row[kept]]
    LOG.info("tuning on %d of %d candidates", int(kept.sum()), kept.size)
    product = cand.product[kept]
    components = np.asfortranarray(cand.components[kept])  # contiguous columns for _blend
    is_target = is_target[kept]
    counts = np.bincount(row, minlength=int(with_target.sum()))
    target = np.flatnonzero(is_target)
    length = counts[row[target]]
    owner = np.repeat(np.arange(target.size), length)  # pair -> its target
    first = np.cumsum(length) - length  # each target's first pair (every target has one)
    other = np.arange(owner.size) - first[owner] + (np.cumsum(counts) - counts)[row[target]][owner]
    ahead_on_tie = product[other] < product[target][owner]
    target_customer = np.flatnonzero(with_target)[row[target]]

    def hits(vector: np.ndarray) -> np.ndarray:
        """Customers with a target among their top N (ties: smaller product first)."""
        flags = np.zeros(customers.size, dtype=bool)
        if not row.size:
            return flags
        score = _blend(components, vector)
        score /= SCORE_RESOLUTION
        quantised = np.round(score).astype(np.int64)
        theirs, mine = quantised[other], quantised[target][owner]
        above = (theirs > mine) | ((theirs == mine) & ahead_on_tie)
        rank = np.add.reduceat(above, first, dtype=np.int64)
        flags[target_customer[rank < top_n]] = True
        return flags

    # Every grid point is tried against "segment best sellers" with a paired exact sign test
    # (customers it wins vs customers it loses); the blend with the most hits among those
    # whose win is significant at FAMILY_ALPHA / (blends tried), Bonferroni, replaces the
    # segment list. Testing only the grid's winner at the nominal level would not do: the
    # maximum of hundreds of noisy comparisons clears z = 2 on a tie far more often than 2.3 %.
    current = np.array(SEGMENT_START)
    current_hits = hits(current)
    trials = list(itertools.product(WEIGHT_GRID, repeat=3))
    best_vector, best_hits = current, current_hits
    for item, lookalike, segment in trials:
        trial = np.array([item, lookalike, segment, 1.0])
        trial_hits = hits(trial)
        if trial_hits.sum() <= best_hits.sum():
            continue
        gained = int((trial_hits & ~current_hits).sum())
        lost = int((current_hits & ~trial_hits).sum())
        if _significant_win(gained, lost, len(trials)):
            best_vector, best_hits = trial, trial_hits
    current, current_hits = best_vector, best_hits
    best = float(current_hits.mean())
    return Weights(*(float(v) for v in current)), best


def _as_of(data: _Data, as_of_date: str | date | None) -> int:
    if as_of_date is None or as_of_date == "":
        if data.purchase_day.size == 0:
            raise ValueError("recommendations: no transactions and no as_of_date")
        return int(data.purchase_day.max())
    return int(np.datetime64(str(as_of_date), "D").astype(np.int64))


def _iso(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(day))


@dataclass(frozen=True)
class _Backtest:
    frame: pa.Table
    weights: Weights


def _backtest(
    data: _Data,
    recommendations_per_customer: int,
    recommendation_holdout_days: int,
    recommendation_item_neighbours: int,
    recommendation_tuning_sample_size: int,
    recommendation_backtest_sample_size: int,
    random_seed: int,
    as_of_date: str | date | None,
) -> _Backtest:
    top_n, holdout = recommendations_per_customer, recommendation_holdout_days
    if top_n < 1 or holdout < 1 or recommendation_item_neighbours < 1:
        raise ValueError(
            "recommendations_per_customer, recommendation_holdout_days and"
            " recommendation_item_neighbours must be at least 1"
        )
    end = _as_of(data, as_of_date)
    cutoff = end - holdout
    started = time.perf_counter()
    tuning = _split(data, cutoff - holdout, cutoff, recommendation_item_neighbours)
    weights, tuning_rate = _tune(
        tuning, data, top_n, recommendation_tuning_sample_size, random_seed
    )
    tuning_customers = min(tuning.evaluated.size, recommendation_tuning_sample_size)
    del tuning  # its purchase matrices: not needed while the outer split is fitted
    LOG.info(
        "recommendation weights %s (tuning hit-rate %.4f on %d customers) in %.1f s",
        weights,
        tuning_rate,
        tuning_customers,
        time.perf_counter() - started,
    )
    # The outer split is the codes' last use: drop them before its fit and the scoring.
    bought, wanted = _window_matrices(data, cutoff, end)
    training = int(np.count_nonzero(data.purchase_day <= cutoff))
    held_out = int(np.count_nonzero((data.purchase_day > cutoff) & (data.purchase_day <= end)))
    data = _without_codes(data)
    outer = _Split(
        _fit(data, bought, recommendation_item_neighbours),
        wanted,
        np.flatnonzero(np.diff(wanted.indptr) > 0),
        training,
        held_out,
    )
    del bought, wanted
    eligible = outer.evaluated
    scored = eligible
    if eligible.size > recommendation_backtest_sample_size:
        rng = np.random.default_rng(random_seed)
        scored = np.sort(rng.choice(eligible, recommendation_backtest_sample_size, replace=False))
    results = {
        "blended_recommender": _hit_flags(outer.fitted, data, scored, outer.wanted, top_n, weights),
        "popularity": _ranked_list_flags(
            outer.fitted, data, scored, outer.wanted, top_n, by_segment=False
        ),
        "segment_popularity": _ranked_list_flags(
            outer.fitted, data, scored, outer.wanted, top_n, by_segment=True
        ),
    }
    evaluated = int(scored.size)
    rates = {
        method: float(hits.mean()) if evaluated else float("nan")
        for method, (hits, _, _) in results.items()
    }
    rows = []
    for method in BACKTEST_METHODS:
        hits, full, recommended = results[method]
        is_blend = method == "blended_recommender"
        rows.append(
            {
                "method": method,
                "top_n": top_n,
                "training_end_date": _iso(cutoff),
                "holdout_start_date": _iso(cutoff + 1),
                "holdout_end_date": _iso(end),
                "training_transactions": outer.training_transactions,
                "holdout_transactions": outer.window_transactions,
                "customers_with_new_purchases": int(eligible.size),
                "customers_evaluated": evaluated,
                "customers_hit": int(hits.sum()),
                "hit_rate": rates[method],
                "hit_rate_vs_popularity": _ratio(rates[method], rates["popularity"]),
                "hit_rate_vs_segment_popularity": _ratio(
                    rates[method], rates["segment_popularity"]
                ),
                "customer_coverage": float(full.mean()) if evaluated else float("nan"),
                "catalogue_coverage": float(np.unique(recommended).size / data.n_products)
                if data.n_products
                else float("nan"),
                "weight_item_similarity": weights.item_similarity if is_blend else None,
                "weight_lookalike": weights.lookalike if is_blend else None,
                "weight_segment_popularity": weights.segment_popularity if is_blend else None,
                "weight_overall_popularity": weights.overall_popularity if is_blend else None,
                "tuning_training_end_date": _iso(cutoff - holdout),
                "tuning_hit_rate": tuning_rate if is_blend else None,
            }
        )
    LOG.info("recommendation backtest on %d customers: %s", evaluated, rates)
    frame = pa.Table.from_pylist(rows, schema=BACKTEST_SCHEMA)
    return _Backtest(frame, weights)


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference > 0 else float("nan")


def recommendation_backtest(
    transactions: Any,
    customers: Any,
    products: Any,
    lookalikes: Any,
    *,
    recommendations_per_customer: int,
    recommendation_holdout_days: int,
    recommendation_item_neighbours: int,
    recommendation_tuning_sample_size: int,
    recommendation_backtest_sample_size: int,
    random_seed: int,
    as_of_date: str | date | None,
) -> pa.Table:
    """One row per method: hit-rate@N and coverage on the held-out window, weights chosen.

    ``transactions`` needs customer_id, product_id, transaction_date; ``customers``
    customer_id, segment_id (every customer); ``products`` product_id; ``lookalikes``
    customer_id, lookalike_customer_id, similarity_score. Each is an Arrow table, a DuckDB
    relation or a Spark DataFrame; the transactions and lookalikes are read in batches.
    """
    return _backtest(
        # (not kept in a local: _backtest frees the per-transaction codes after their last use)
        _read_inputs(transactions, customers, products, lookalikes),
        recommendations_per_customer,
        recommendation_holdout_days,
        recommendation_item_neighbours,
        recommendation_tuning_sample_size,
        recommendation_backtest_sample_size,
        random_seed,
        as_of_date,
    ).frame


def recommend_products(
    transactions: Any,
    customers: Any,
    products: Any,
    lookalikes: Any,
    weights: Weights,
    *,
    recommendations_per_customer: int,
    recommendation_item_neighbours: int,
    as_of_date: str | date | None,
    list_shortcut: bool = True,
) -> pa.Table:
    """Every customer's ``recommendations_per_customer`` best products not yet bought.

    Fitted on every transaction up to the as-of date, blended with ``weights`` (the ones the
    backtest chose). ``products`` also needs product_name, category and price.
    ``list_shortcut`` (not a setting; tests turn it off) ranks popularity-only blends per
    segment instead of scoring every candidate: the same output, faster.
    """
    top_n = recommendations_per_customer
    products = read_columns(
        products, ["product_id", "product_name", "category", "price"], "products"
    )
    data = _read_inputs(transactions, customers, products, lookalikes)
    end = _as_of(data, as_of_date) if data.purchase_day.size or as_of_date else 0
    bought = _purchase_matrix(data, data.purchase_day <= end)
    data = _without_codes(data)  # the codes are in the purchase matrix now
    fitted = _fit(data, bought, recommendation_item_neighbours)
    del bought
    vector = weights.vector()
    # Output arrays allocated once (at most N rows per customer), filled block by block.
    capacity = data.n_customers * top_n
    out = {
        "customer_index": np.empty(capacity, dtype=np.int32),
        "recommendation_rank": np.empty(capacity, dtype=np.int32),
        "product_index": np.empty(capacity, dtype=np.int32),
        "recommendation_score": np.empty(capacity),
        "item_similarity_score": np.empty(capacity),
        "lookalike_score": np.empty(capacity),
        "lookalikes_who_bought": np.empty(capacity, dtype=np.int32),
        "main_signal": np.empty(capacity, dtype=np.int8),
    }
    filled = 0
    started = time.perf_counter()
    next_report = 0
    # A blend of popularity only (what the backtest keeps where no finer taste wins) ranks
    # each segment's products once; any other blend scores every candidate.
    ranking = _list_order(fitted, data, vector) if list_shortcut else None
    # (the ranking's blocks hold no customers x products scratch: they can be larger)
    cells = data.n_products if ranking is None else max(1, data.n_products // 16)
    choose = functools.partial(_chosen_block, fitted, data, ranking, top_n, vector)
    for part, chosen in _in_order(choose, _chunks(data.n_customers, cells)):
        row = chosen.row
        rank = np.arange(row.size) - np.searchsorted(row, row, side="left") + 1
        block = slice(filled, filled + row.size)
        filled += row.size
        out["customer_index"][block] = part.start + row
        out["recommendation_rank"][block] = rank
        out["product_index"][block] = chosen.product
        out["recommendation_score"][block] = chosen.score
        out["item_similarity_score"][block] = chosen.raw_item
        out["lookalike_score"][block] = chosen.raw_lookalike
        out["lookalikes_who_bought"][block] = chosen.lookalikes_who_bought.round()
        out["main_signal"][block] = chosen.main_signal
        if part.stop >= next_report or part.stop == data.n_customers:  # about every 10 %
            next_report = part.stop + max(data.n_customers // 10, 1)
            LOG.info(
                "recommendations: %d/%d customers, %.0f customers/s",
                part.stop,
                data.n_customers,
                part.stop / max(time.perf_counter() - started, 1e-9),
            )
    # Only the shares, ids and segments are needed from here: free the purchase matrix, the
    # ranking and the lookalikes before the output columns are built.
    segment_share, overall_share = fitted.segment_share, fitted.overall_share
    customer_ids, product_ids, segment_of = data.customer_ids, data.product_ids, data.segment
    del fitted, ranking, data, choose
    schema = pa.schema(RECOMMENDATION_SCHEMA)
    if not filled:
        return schema.empty_table()
    out = {name: values[:filled] for name, values in out.items()}
    segment = segment_of[out["customer_index"]]
    product = out["product_index"]
    by_code = products.take(
        pc.index_in(product_ids, value_set=products["product_id"])
    ).combine_chunks()  # product details in product-code order

    def coded(
        codes: np.ndarray, values: pa.Array | pa.ChunkedArray, distinct: bool = False
    ) -> pa.DictionaryArray:
        """``values.take(codes)`` as codes into the distinct values (pandas wants them
        unique; ``distinct``: they are already)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if distinct:
            return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), values)
        encoded = values.dictionary_encode()
        indices = encoded.indices.to_numpy(zero_copy_only=False)[codes]
        return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), encoded.dictionary)

    codes = pa.array(product)
    columns = [
        coded(out["customer_index"], customer_ids, distinct=True),
        pa.array(out["recommendation_rank"], pa.int32()),
        coded(product, product_ids, distinct=True),
        coded(product, by_code["product_name"]),
        coded(product, by_code["category"]),
        pc.cast(by_code["price"].take(codes), pa.float64()),
        pa.array(out["recommendation_score"], pa.float64()),
        pa.array(out["item_similarity_score"], pa.float64()),
        pa.array(out["lookalike_score"], pa.float64()),
        pa.array(out["lookalikes_who_bought"], pa.int32()),
        pa.array(segment_share[segment, product], pa.float64()),
        pa.array(overall_share[product], pa.float64()),
        coded(out["main_signal"].astype(np.int32), pa.array(REASONS), distinct=True),
    ]
    return pa.Table.from_arrays(columns, schema=schema)
