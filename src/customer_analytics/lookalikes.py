"""Lookalike customers by cosine similarity, without ever building an n x n matrix.

* :func:`top_k_lookalikes` -- for every customer, its ``k`` most similar other customers;
* :func:`expand_audience` -- the customers most similar to a seed audience.

Both take customer ids and a feature matrix (rows aligned with the ids; normally the
standardized matrix of :func:`customer_analytics.features.build_feature_matrix`).
:func:`lookalikes_from_features` and :func:`audience_from_features` do the feature step too,
for dbt Python models that call one function.

Similarity and ties
-------------------
The similarity is the cosine of the angle between two feature vectors, reported in float64
and clipped to [-1, 1]. Results never depend on the input row order: rows are sorted by
customer id first. Equal similarities are ordered by ascending lookalike id; to make that
robust to floating-point noise every method only *retrieves* candidates, then each
candidate is rescored exactly in float64 (one element-wise dot product per pair, so a
duplicated vector gets bit-identical scores) and ranked by
``(-round(similarity, 12), lookalike_id)``.

A *zero vector* (a customer exactly at the mean of every standardized feature, or any row
whose norm is at most ``1e-12`` times the largest row norm) has no direction, so its cosine
is undefined. It is treated as similarity 0 to every customer, both ways: a zero-vector
customer's lookalikes are the ``k`` smallest other customer ids with score 0, and a
zero-vector customer appears in other customers' lists only with score 0.

With ``n`` customers each customer gets ``min(k, n - 1)`` lookalikes (a single customer
gets none, so the frame is empty).

Methods of :func:`top_k_lookalikes`
-----------------------------------
``"exact"``
    Brute force in blocks: ``block_rows`` customers at a time against all ``n`` in float32
    (one ``block_rows x n`` matrix, never ``n x n``). The candidates of a row are found
    through the maxima of column groups (so only a few columns per row are ranked), then
    every customer whose float32 similarity lies within the float32 error margin of the
    ``k``-th best is rescored in float64. Exact, ties included. Time O(n^2 d): on 2 cores
    with 20 features about 0.6 s for 10k customers and 25-45 s for 100k.
``"tree"``
    Exact k-d tree search (scikit-learn ``KDTree``) on the L2-normalised vectors: for unit
    vectors ``|u - v|^2 = 2 - 2 cos(u, v)``, so Euclidean order is cosine order; boundary
    ties are completed with a radius query. Fast when the data has a low intrinsic
    dimension, but on 20 genuinely varied features it is slower than brute force
    (measured: ~130 s for 20,000 of 1M customers, i.e. ~2 hours for all), so ``"auto"``
    never picks it.
``"ivf"``
    Approximate inverted-file search in numpy: the normalised vectors are split into
    ``n_cells`` cells (default ``round(sqrt(n) / 4)``, 250 for 1M) by k-means on a
    fixed-seed sample; every customer is compared with all members of the ``n_probe``
    cells (default 10) whose centres are most similar to it, cell by cell in float32
    blocks; the best ``k + 2`` of each probed cell are rescored exactly in float64.
    Deterministic for a fixed ``random_state``. Measured on 2 cores, 20 clustered
    features (``benchmarks/bench_python_models.py``): 1M customers in 164 s (334 s while
    another process held one of the two cores), 1.5 GiB above the data, with a recall of
    the exact top-3 of 0.99 (0.96 with ``n_probe=6``); 100k in about 10 s with a recall
    above 0.99. Recall is lower on unclustered data; raise
    ``n_probe`` (cost grows linearly) when that matters.
``"auto"`` (default)
    ``"exact"`` up to ``auto_exact_limit`` customers (default 100,000), ``"ivf"`` above.

Memory is O(n k) for the results (the ivf method also keeps ``n x n_probe x (k + 2)``
candidate ids) plus one block of at most ``2**24`` float32 scores (64 MiB;
``block_rows x n`` for the exact method).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.neighbors import KDTree

from customer_analytics.features import DEFAULT_LOOKALIKE_FEATURES, build_feature_matrix

__all__ = [
    "AUDIENCE_COLUMNS",
    "LOOKALIKE_COLUMNS",
    "METHODS",
    "audience_from_features",
    "expand_audience",
    "lookalikes_from_features",
    "top_k_lookalikes",
]

METHODS: tuple[str, ...] = ("auto", "exact", "tree", "ivf")
LOOKALIKE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "lookalike_rank",
    "lookalike_customer_id",
    "similarity_score",
)
AUDIENCE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "audience_rank",
    "similarity_score",
    "nearest_seed_customer_id",
)

_ROUND = 12  # similarities equal to 12 decimals are ties
_ZERO_NORM = 1e-12  # relative to the largest row norm
_GROUP = 64  # columns per group in the exact search
_MARGIN = 8  # extra candidates retrieved beyond k before exact rescoring
_BLOCK_ELEMENTS = 1 << 24  # float32 scores per block (64 MiB)
_TREE_DELTA = 1e-9  # similarity margin for boundary ties with float64 tree distances


# --------------------------------------------------------------------------- helpers


def _prepare(ids: Sequence[object] | np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate, sort by id and L2-normalise. Returns (sorted ids, unit rows float64)."""
    ids_arr = np.asarray(ids, dtype=object)
    matrix = np.asarray(x, dtype=np.float64)
    if ids_arr.ndim != 1:
        raise ValueError("ids must be one-dimensional")
    if matrix.ndim != 2:
        raise ValueError(f"X must be two-dimensional, got shape {matrix.shape}")
    if matrix.shape[0] != ids_arr.shape[0]:
        raise ValueError(f"{ids_arr.shape[0]} ids but X has {matrix.shape[0]} rows")
    if matrix.shape[1] == 0 and matrix.shape[0] > 0:
        raise ValueError("X has no columns")
    bad_rows = ~np.isfinite(matrix).all(axis=1)
    if bad_rows.any():
        raise ValueError(
            f"X has non-finite values (first customer_id: {ids_arr[np.flatnonzero(bad_rows)[0]]!r})"
        )
    id_index = pd.Index(ids_arr)
    if id_index.has_duplicates:
        raise ValueError(f"ids are not unique (e.g. {id_index[id_index.duplicated()][0]!r})")
    order = np.argsort(ids_arr, kind="stable")
    sorted_ids = ids_arr[order]
    matrix = matrix[order]
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    zero = norms <= _ZERO_NORM * (norms.max() if norms.size else 0.0)
    units = np.zeros_like(matrix)
    np.divide(matrix, norms[:, None], out=units, where=~zero[:, None])
    return sorted_ids, units


def _zero_rows(units: np.ndarray) -> np.ndarray:
    return ~units.any(axis=1)


def _rank_candidates(
    units: np.ndarray, queries: np.ndarray, cand: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact float64 rescoring of candidate lists (-1 = padding).

    Returns (indices, scores, complete) of the best ``k`` per query, ranked by
    (-round(score, 12), index); ``complete[q]`` is False when query ``q`` had fewer than
    ``k`` valid candidates.
    """
    cand = np.sort(cand, axis=1)
    invalid = (cand < 0) | (cand == queries[:, None])
    invalid[:, 1:] |= cand[:, 1:] == cand[:, :-1]
    safe = np.where(invalid, 0, cand)
    scores = np.einsum("qd,qld->ql", units[queries], units[safe])
    key = -np.round(scores, _ROUND)
    key[invalid] = np.inf
    order = np.lexsort((safe, key), axis=-1)[:, :k]
    top = np.take_along_axis(safe, order, axis=1)
    top_scores = np.take_along_axis(scores, order, axis=1)
    complete = ~np.take_along_axis(invalid, order, axis=1).any(axis=1)
    return top, top_scores, complete


def _rank_in_chunks(
    units: np.ndarray, queries: np.ndarray, cand: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    chunk = max(1, _BLOCK_ELEMENTS // max(1, cand.shape[1] * units.shape[1] * 2))
    parts = [
        _rank_candidates(units, queries[s : s + chunk], cand[s : s + chunk], k)
        for s in range(0, queries.size, chunk)
    ]
    if not parts:
        empty = np.zeros((0, k), dtype=np.int64)
        return empty, np.zeros((0, k)), np.zeros(0, dtype=bool)
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _float32_margin(d: int) -> float:
    # Bound on |float32 dot - float64 dot| for unit vectors, doubled, plus the rounding step.
    return 1e-5 + 4.0 * (d + 2) * float(np.finfo(np.float32).eps)


def _exact_row(units: np.ndarray, q: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of one query against everyone (used for rare fallbacks)."""
    cand = np.arange(units.shape[0])[None, :]
    top, scores, _ = _rank_candidates(units, np.array([q]), cand, k)
    return top[0], scores[0]


# --------------------------------------------------------------------------- methods


def _largest(values: np.ndarray, count: int) -> np.ndarray:
    """Column indices of the ``count`` largest values of every row (unordered).

    For small ``count`` repeated ``argmax`` passes are several times faster than
    ``argpartition`` on short rows. Rows with fewer than ``count`` finite values may
    repeat an index; callers deduplicate.
    """
    if count > 16:
        return np.argpartition(-values, count - 1, axis=1)[:, :count]
    work = values.copy()
    rows = np.arange(values.shape[0])
    out = np.empty((values.shape[0], count), dtype=np.int64)
    for i in range(count):
        best = np.argmax(work, axis=1)
        out[:, i] = best
        work[rows, best] = -np.inf
    return out


def _top_columns(block: np.ndarray, big_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of the ``big_k`` largest entries of every row (unordered).

    ``block`` is float32 with a width that is a multiple of ``_GROUP`` (padding columns set
    to -inf by the caller). Group ``g`` holds the columns ``g, g + n_groups, ...``; reducing
    over the middle axis is an element-wise maximum of contiguous rows (fast), and the
    ``big_k`` largest entries always lie in the ``big_k`` groups with the largest maxima,
    so only ``big_k * _GROUP`` columns per row go through ``argpartition``.
    """
    b, width = block.shape
    # Groups of up to _GROUP columns, but at least ~256 groups so that the reduction runs
    # over long contiguous rows (a power of two divides the padded width).
    group = 1 << int(np.log2(max(1, min(_GROUP, width // 256))))
    n_groups = width // group
    if big_k < n_groups and group > 1:
        gmax = block.reshape(b, group, n_groups).max(axis=1)
        top_groups = _largest(gmax, big_k)
        offsets = np.arange(group) * n_groups
        cols = (top_groups[:, :, None] + offsets).reshape(b, -1)
    else:
        cols = np.broadcast_to(np.arange(width), (b, width))
    vals = np.take_along_axis(block, cols, axis=1)
    if big_k < vals.shape[1]:
        pick = _largest(vals, big_k)
        cols = np.take_along_axis(cols, pick, axis=1)
        vals = np.take_along_axis(vals, pick, axis=1)
    return cols, vals


def _exact_search(
    units: np.ndarray, queries: np.ndarray, k: int, block_rows: int | None
) -> np.ndarray:
    """Exact top-k indices for ``queries`` (non-zero rows) by blocked brute force."""
    n, d = units.shape
    out = np.empty((queries.size, k), dtype=np.int64)
    n_pad = -(-n // _GROUP) * _GROUP
    units32 = np.zeros((n_pad, d), dtype=np.float32)
    units32[:n] = units
    big_k = min(k + _MARGIN, n - 1)
    delta = _float32_margin(d)
    rows = block_rows or int(np.clip(_BLOCK_ELEMENTS // n_pad, 16, 8192))
    buffer = np.empty((rows, n_pad), dtype=np.float32)
    for start in range(0, queries.size, rows):
        q = queries[start : start + rows]
        b = q.size
        block = buffer[:b]
        np.matmul(units32[q], units32.T, out=block)
        block[:, n:] = -np.inf
        block[np.arange(b), q] = -np.inf
        cols, vals = _top_columns(block, big_k)
        vals_sorted = -np.sort(-vals, axis=1)
        threshold = vals_sorted[:, k - 1] - delta
        more = (vals_sorted[:, big_k - 1] >= threshold) & (big_k < n - 1)
        fixed = ~more
        if fixed.any():
            top, _, _ = _rank_candidates(units, q[fixed], np.ascontiguousarray(cols[fixed]), k)
            out[start + np.flatnonzero(fixed)] = top
        for r in np.flatnonzero(more):
            wide = np.flatnonzero(block[r, :n] >= threshold[r])
            top, _, _ = _rank_candidates(units, q[r : r + 1], wide[None, :], k)
            out[start + r] = top[0]
    return out


def _tree_search(units: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k by a k-d tree on the non-zero unit vectors."""
    zero = _zero_rows(units)
    nonzero_rows = np.flatnonzero(~zero)
    zero_extra = np.flatnonzero(zero)[: k + 1]
    out = np.empty((queries.size, k), dtype=np.int64)
    n_query = min(k + _MARGIN + 1, nonzero_rows.size)
    tree = KDTree(units[nonzero_rows], leaf_size=40)
    chunk = 65_536
    for start in range(0, queries.size, chunk):
        q = queries[start : start + chunk]
        dist, local = tree.query(units[q], k=n_query, sort_results=True)
        sims = 1.0 - dist**2 / 2.0
        cand = nonzero_rows[local]
        threshold = sims[:, min(k, n_query - 1)] - _TREE_DELTA
        more = (sims[:, -1] >= threshold) & (n_query < nonzero_rows.size)
        cand = np.hstack([cand, np.broadcast_to(zero_extra, (q.size, zero_extra.size))])
        top, _, complete = _rank_candidates(units, q, cand, k)
        out[start : start + q.size] = top
        redo = np.flatnonzero(more | ~complete)
        if redo.size:
            radius = np.sqrt(np.clip(2.0 - 2.0 * threshold[redo], 0.0, None)) + 1e-9
            found = tree.query_radius(units[q[redo]], r=radius)
            for r, local_wide in zip(redo, found, strict=True):
                wide = np.concatenate([nonzero_rows[local_wide], zero_extra, cand[r]])
                top_r, _, ok = _rank_candidates(units, q[r : r + 1], wide[None, :], k)
                out[start + r] = top_r[0] if ok[0] else _exact_row(units, int(q[r]), k)[0]
    return out


def _ivf_search(
    units: np.ndarray,
    queries: np.ndarray,
    k: int,
    n_cells: int | None,
    n_probe: int,
    random_state: int,
) -> np.ndarray:
    """Approximate top-k with an inverted file of k-means cells (see the module doc).

    ``queries`` are non-zero rows. Each query probes the ``n_probe`` cells whose centres are
    most similar to it; its candidates are the best members of each of those cells, which
    are then rescored exactly.
    """
    zero = _zero_rows(units)
    nonzero_rows = np.flatnonzero(~zero)
    zero_extra = np.flatnonzero(zero)[: k + 1]
    units32 = units.astype(np.float32)

    centres = _ivf_centres(units[nonzero_rows], n_cells, random_state)
    n_cells_eff = centres.shape[0]
    probes = min(max(1, n_probe), n_cells_eff)

    # The n_probe cells whose centres are most similar to each query, most similar first.
    probe = np.empty((queries.size, probes), dtype=np.int64)
    chunk = max(1, _BLOCK_ELEMENTS // n_cells_eff)
    for start in range(0, queries.size, chunk):
        sims = units32[queries[start : start + chunk]] @ centres.T
        if probes < n_cells_eff:
            top = np.argpartition(-sims, probes - 1, axis=1)[:, :probes]
        else:
            top = np.broadcast_to(np.arange(n_cells_eff), sims.shape)
        rank = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        probe[start : start + chunk] = np.take_along_axis(top, rank, axis=1)

    # Members of every cell (a non-zero row belongs to its most similar centre's cell).
    own = np.empty(nonzero_rows.size, dtype=np.int64)
    for start in range(0, nonzero_rows.size, chunk):
        sims = units32[nonzero_rows[start : start + chunk]] @ centres.T
        own[start : start + chunk] = np.argmax(sims, axis=1)
    member_order = nonzero_rows[np.argsort(own, kind="stable")]
    bounds = np.searchsorted(np.sort(own), np.arange(n_cells_eff + 1))

    # Scan cell by cell: every query that probes the cell against the cell's members, in
    # float32 blocks, keeping the best k + 2 per (query, probed cell). A true top-k
    # neighbour in a probed cell is always among that cell's best k for the query.
    per_cell = k + 2
    pair_cell = probe.ravel()
    pair_order = np.argsort(pair_cell, kind="stable")
    pair_bounds = np.searchsorted(pair_cell[pair_order], np.arange(n_cells_eff + 1))
    cand = np.full((queries.size * probes, per_cell), -1, dtype=np.int64)
    for cell in range(n_cells_eff):
        rows = member_order[bounds[cell] : bounds[cell + 1]]
        pairs = pair_order[pair_bounds[cell] : pair_bounds[cell + 1]]
        if rows.size == 0 or pairs.size == 0:
            continue
        width = -(-rows.size // _GROUP) * _GROUP
        vectors = np.zeros((width, units.shape[1]), dtype=np.float32)
        vectors[: rows.size] = units32[rows]
        take = min(per_cell, rows.size)
        step = max(1, _BLOCK_ELEMENTS // width)
        for start in range(0, pairs.size, step):
            part = pairs[start : start + step]
            block = units32[queries[part // probes]] @ vectors.T
            block[:, rows.size :] = -np.inf
            cols, _ = _top_columns(block, take)
            cand[part, :take] = rows[cols]
    cand = cand.reshape(queries.size, probes * per_cell)
    cand = np.hstack([cand, np.broadcast_to(zero_extra, (queries.size, zero_extra.size))])
    top, _, complete = _rank_in_chunks(units, queries, cand, k)
    for r in np.flatnonzero(~complete):
        top[r] = _exact_row(units, int(queries[r]), k)[0]
    return top


def _ivf_centres(vectors: np.ndarray, n_cells: int | None, random_state: int) -> np.ndarray:
    """Unit-norm k-means centres (float32) of a fixed-seed sample of the rows of ``vectors``."""
    n = vectors.shape[0]
    cells = n_cells if n_cells is not None else round(np.sqrt(n) / 4)
    cells = int(np.clip(cells, 1, n))
    rng = np.random.default_rng(random_state)
    sample_size = min(n, max(32 * cells, 10_000))
    sample = vectors[np.sort(rng.choice(n, size=sample_size, replace=False))]
    distinct = int(pd.util.hash_pandas_object(pd.DataFrame(sample + 0.0), index=False).nunique())
    cells = min(cells, distinct)
    if cells == 1:
        centres = sample.mean(axis=0, keepdims=True)
    else:
        model = KMeans(
            n_clusters=cells, init="random", n_init=1, max_iter=10, random_state=random_state
        )
        centres = model.fit(sample).cluster_centers_
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    centres = np.divide(centres, norms, out=np.zeros_like(centres), where=norms > 0)
    return centres.astype(np.float32)


# --------------------------------------------------------------------------- public API


def top_k_lookalikes(
    ids: Sequence[object] | np.ndarray,
    X: np.ndarray,  # noqa: N803 (the conventional name of a feature matrix)
    k: int = 3,
    *,
    method: str = "auto",
    auto_exact_limit: int = 100_000,
    block_rows: int | None = None,
    n_cells: int | None = None,
    n_probe: int = 10,
    random_state: int = 42,
) -> pd.DataFrame:
    """The ``k`` most cosine-similar other customers of every customer.

    Returns ``customer_id, lookalike_rank (1..k), lookalike_customer_id,
    similarity_score``, sorted by customer id then rank, ``min(k, n - 1)`` rows per
    customer. ``method`` is ``"auto"``, ``"exact"``, ``"tree"`` or ``"ivf"`` (see the module
    docstring); ``auto_exact_limit`` is the largest ``n`` for which ``"auto"`` is exact;
    ``block_rows`` the query rows per block of the exact method (default: 64 MiB blocks);
    ``n_cells`` / ``n_probe`` / ``random_state`` tune the ``"ivf"`` method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if block_rows is not None and block_rows < 1:
        raise ValueError("block_rows must be >= 1")
    sorted_ids, units = _prepare(ids, X)
    n = units.shape[0]
    k_eff = min(int(k), n - 1)
    if k_eff < 1:
        return _lookalike_frame(sorted_ids[:0], np.zeros((0, 1), dtype=np.int64), sorted_ids, units)

    zero = _zero_rows(units)
    queries = np.flatnonzero(~zero)
    neighbours = np.empty((n, k_eff), dtype=np.int64)
    # A zero-vector customer has similarity 0 with everyone: the smallest other ids.
    first = np.arange(k_eff + 1)
    for r in np.flatnonzero(zero):
        neighbours[r] = first[first != r][:k_eff]

    if method == "auto":
        method = "exact" if n <= auto_exact_limit else "ivf"
    if queries.size:
        if method == "exact":
            neighbours[queries] = _exact_search(units, queries, k_eff, block_rows)
        elif method == "tree":
            neighbours[queries] = _tree_search(units, queries, k_eff)
        else:
            neighbours[queries] = _ivf_search(units, queries, k_eff, n_cells, n_probe, random_state)
    return _lookalike_frame(sorted_ids, neighbours, sorted_ids, units)


def _lookalike_frame(
    query_ids: np.ndarray, neighbours: np.ndarray, sorted_ids: np.ndarray, units: np.ndarray
) -> pd.DataFrame:
    n_q, k = neighbours.shape
    if n_q == 0:
        scores = np.zeros(0)
    else:
        queries = np.repeat(np.arange(n_q), k)
        flat = neighbours.ravel()
        scores = np.empty(flat.size)
        chunk = 1 << 20
        for start in range(0, flat.size, chunk):
            a = units[queries[start : start + chunk]]
            b = units[flat[start : start + chunk]]
            scores[start : start + chunk] = np.einsum("ij,ij->i", a, b)
    return pd.DataFrame(
        {
            "customer_id": np.repeat(query_ids, k),
            "lookalike_rank": np.tile(np.arange(1, k + 1, dtype=np.int64), n_q),
            "lookalike_customer_id": sorted_ids[neighbours.ravel()],
            "similarity_score": np.clip(scores, -1.0, 1.0),
        }
    )[list(LOOKALIKE_COLUMNS)]


def expand_audience(
    ids: Sequence[object] | np.ndarray,
    X: np.ndarray,  # noqa: N803 (the conventional name of a feature matrix)
    seed_ids: Sequence[object],
    size: int | None = None,
    min_similarity: float | None = None,
    *,
    block_rows: int | None = None,
) -> pd.DataFrame:
    """Rank non-seed customers by their highest cosine similarity to any seed customer.

    Returns ``customer_id, audience_rank (1..), similarity_score,
    nearest_seed_customer_id``. Give ``size`` (the ``size`` best customers),
    ``min_similarity`` (every customer with ``similarity_score >= min_similarity``), or
    both (the threshold, capped at ``size``). Seeds are never in the audience; the nearest
    seed of a tie is the smallest seed id, and customers with equal scores are ranked by
    ascending id. Unknown seed ids raise ``ValueError`` naming them; duplicate seed ids are
    used once. Memory: ``block_rows x n_seeds`` float64 per block (default 128 MiB).
    """
    if size is None and min_similarity is None:
        raise ValueError("give size, min_similarity, or both")
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1
    ):
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if min_similarity is not None and not -1.0 <= float(min_similarity) <= 1.0:
        raise ValueError(f"min_similarity must be in [-1, 1], got {min_similarity!r}")
    if isinstance(seed_ids, str):
        raise TypeError("seed_ids must be a sequence of ids, not a single string")
    sorted_ids, units = _prepare(ids, X)
    seeds = pd.unique(pd.Series(list(seed_ids), dtype=object))
    if seeds.size == 0:
        raise ValueError("seed_ids is empty")
    position = pd.Index(sorted_ids).get_indexer(seeds)
    unknown = sorted(str(s) for s in seeds[position < 0])
    if unknown:
        shown = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise ValueError(f"unknown seed customer ids: {shown}")
    seed_rows = np.sort(position)
    is_seed = np.zeros(units.shape[0], dtype=bool)
    is_seed[seed_rows] = True
    candidates = np.flatnonzero(~is_seed)
    seed_vectors = units[seed_rows]

    best = np.empty(candidates.size)
    nearest = np.empty(candidates.size, dtype=np.int64)
    rows = block_rows or max(1, _BLOCK_ELEMENTS // seed_rows.size)
    for start in range(0, candidates.size, rows):
        block = units[candidates[start : start + rows]] @ seed_vectors.T
        which = np.argmax(np.round(block, _ROUND), axis=1)  # first max: smallest seed id
        nearest[start : start + rows] = which
        best[start : start + rows] = block[np.arange(block.shape[0]), which]
    best = np.clip(best, -1.0, 1.0)
    rounded = np.round(best, _ROUND)
    keep = np.ones(candidates.size, dtype=bool)
    if min_similarity is not None:
        keep = rounded >= round(float(min_similarity), _ROUND)
    chosen = np.flatnonzero(keep)
    chosen = chosen[np.lexsort((candidates[chosen], -rounded[chosen]))]
    if size is not None:
        chosen = chosen[: int(size)]
    return pd.DataFrame(
        {
            "customer_id": sorted_ids[candidates[chosen]],
            "audience_rank": np.arange(1, chosen.size + 1, dtype=np.int64),
            "similarity_score": best[chosen],
            "nearest_seed_customer_id": sorted_ids[seed_rows[nearest[chosen]]],
        }
    )[list(AUDIENCE_COLUMNS)]


def lookalikes_from_features(
    customer_features: pd.DataFrame,
    *,
    features: Sequence[str] = DEFAULT_LOOKALIKE_FEATURES,
    k: int = 3,
    method: str = "auto",
    auto_exact_limit: int = 100_000,
    n_cells: int | None = None,
    n_probe: int = 10,
    random_state: int = 42,
) -> pd.DataFrame:
    """:func:`top_k_lookalikes` on the standardized ``features`` of ``customer_features``."""
    fm = build_feature_matrix(customer_features, features)
    return top_k_lookalikes(
        fm.customer_ids,
        fm.matrix,
        k,
        method=method,
        auto_exact_limit=auto_exact_limit,
        n_cells=n_cells,
        n_probe=n_probe,
        random_state=random_state,
    )


def audience_from_features(
    customer_features: pd.DataFrame,
    seed_ids: Sequence[object],
    *,
    features: Sequence[str] = DEFAULT_LOOKALIKE_FEATURES,
    size: int | None = None,
    min_similarity: float | None = None,
    ignore_unknown_seed_ids: bool = False,
) -> pd.DataFrame:
    """:func:`expand_audience` on the standardized ``features`` of ``customer_features``.

    With ``ignore_unknown_seed_ids`` seed ids that are not customers are left out (and with
    none left the audience is empty) instead of raising: for a default seed list that may
    not match the data at hand, where a build should not fail for want of an audience.
    """
    fm = build_feature_matrix(customer_features, features)
    if ignore_unknown_seed_ids:
        known = set(fm.customer_ids.tolist())
        seed_ids = [seed for seed in seed_ids if seed in known]
        if not seed_ids:
            return pd.DataFrame({column: [] for column in AUDIENCE_COLUMNS}).astype(
                {
                    "customer_id": object,
                    "audience_rank": "int64",
                    "similarity_score": "float64",
                    "nearest_seed_customer_id": object,
                }
            )
    return expand_audience(
        fm.customer_ids, fm.matrix, seed_ids, size=size, min_similarity=min_similarity
    )
