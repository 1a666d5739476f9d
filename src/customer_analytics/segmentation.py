"""Customer segmentation: one sweep over the candidate numbers of segments, scored and used.

Three steps, one dbt Python model each, so that no number of segments is ever fitted twice:

* :func:`sweep_segmentations` -- builds the feature matrix, fits every candidate ``k``
  once (above ``segment_fit_sample_size`` customers on a fixed-seed sample of that many,
  every customer then joining the nearest segment), computes the 2-D PCA once (fitted on
  the same sample), and returns one row per customer with the (canonical)
  labels of every ``k`` in ``segment_id_k<k>`` columns (model ``segmentation_sweep``);
* :func:`score_segmentations` -- scores the stored labels of every ``k`` (nothing is
  refitted), picks ``k``, and measures the chosen segmentation's bootstrap stability
  (model ``segmentation_scores``, one row per ``k``);
* :func:`assign_segments` -- takes the chosen ``k``'s stored labels and adds each
  customer's distance to its segment centre (model ``customer_segment_assignments``).

:func:`run_segmentation` runs the three in one call (tests, benchmarks, notebooks).
Every setting is a keyword argument named exactly like its dbt var and has no default
here: the var's default in ``dbt_project.yml`` is the only one.

Features
--------
:func:`customer_analytics.features.build_feature_matrix` with ``segment_features``,
``log1p`` on ``segment_log_features`` (skewed money and counts), standardization, and
``weigh_patterns=True``: a pattern such as ``spend_share_*`` (shares that sum to 1) counts
as one feature, not one per category. Rows are in ascending ``customer_id`` order.

Scores and the choice of k
--------------------------
For every candidate ``k`` in ``segment_k_min..segment_k_max``:

* ``davies_bouldin`` (lower is better) and ``calinski_harabasz`` (higher is better) on all
  customers, exactly, from the segment means and each customer's distance to its mean (one
  pass; the formulas of scikit-learn's functions);
* ``silhouette`` (higher is better) on a fixed-seed sample of ``silhouette_sample_size``
  customers (all of them when there are fewer), the same sample for every ``k``; the
  sample's distances are computed once, in 64 MiB chunks, and shared by all ``k``;
* ``inertia``: the within-segment sum of squared distances to each segment's mean.

``segment_selection_rule`` picks ``k``: ``davies_bouldin`` (lowest), ``silhouette`` or
``calinski_harabasz`` (highest), each with ``segment_k_tolerance``: the SMALLEST ``k``
whose score is within that fraction of the best score wins (scores rounded to 10
decimals; NaN never wins), so a flat curve does not pick many segments for a hair's
breadth. ``elbow``: with ``k`` and ``inertia`` rescaled to [0, 1], the ``k`` farthest below
the chord from the first to the last point (Kneedle); it needs three candidates and a
changing inertia, otherwise the smallest ``k``. A fixed ``segment_count`` bypasses the
rule (``selection_rule = "fixed"``) but the sweep is still scored.

``segment_min_stability`` > 0 (stability-based model selection, after Ben-Hur et al. and
Lange et al.): the candidates are tried in the rule's order (its choice first, then the
others from the best score down), each one's ``bootstrap_stability`` is measured, and the
first that reaches the threshold is chosen. When none does, every customer is in one
segment: a row ``k = 1`` is added and chosen (``selection_rule = "no_stable_segments"``,
``structure_strength = "no stable segments"``), since a split that does not come back on
resampled customers is noise to act on.

Quality of the chosen segmentation
----------------------------------
``bootstrap_stability``: the mean adjusted Rand index, over ``segment_bootstrap_resamples``
resamples drawn with fixed seeds (``random_seed`` and the resample number), between a k's
stored labels and the labels the same algorithm with the same ``k`` gives after fitting on
the resample (each customer joins the nearest segment mean of the resample's fit). The
resamples have ``min(n, segment_bootstrap_sample_size)`` customers drawn with replacement
and the agreement is measured on a fixed-seed evaluation sample of that size, so the cost
does not grow with the number of customers. ``structure_strength`` turns silhouette and
stability into words (see :func:`structure_strength`).

Segment ids are ``0..k-1`` ordered by descending size, then by the segment's mean vector,
so they never depend on the labels a random initialisation produced.

Algorithms
----------
``kmeans`` (default)
    ``sklearn.cluster.KMeans`` with ``n_init = segment_n_init`` restarts, ``max_iter=300``
    and ``random_state = random_seed``. Above ``segment_fit_sample_size`` customers it is
    fitted on the fixed-seed sample and every customer joins the nearest centre: no
    full-data refit, so the sweep costs the same at a million customers as at 20,000.
``agglomerative``
    Ward linkage (``scipy.cluster.hierarchy.linkage``), built once and cut at every ``k``;
    above ``min(segment_fit_sample_size, MAX_AGGLOMERATIVE_CUSTOMERS)`` customers on a
    fixed-seed sample, the others joining the nearest sample segment mean.
``gaussian_mixture``
    ``sklearn.mixture.GaussianMixture`` (full covariances, ``segment_n_init`` restarts),
    fitted on the sample above ``segment_fit_sample_size``, every customer predicted.
``dbscan``
    ``sklearn.cluster.DBSCAN(dbscan_eps, dbscan_min_samples)`` finds its own number of
    segments (one sweep column); noise customers get ``segment_id = -1`` and a NaN
    distance. It always runs on all customers (it has no notion of a fit sample).
    ``segment_count`` cannot be combined with it. No bootstrap stability.

Degenerate inputs
-----------------
A candidate ``k`` is feasible when ``2 <= k <= min(n_customers - 1, n_distinct_rows)``;
infeasible candidates are dropped. With none feasible (one or two customers, all
identical) every customer is in segment 0, with one score row ``k = 1``, NaN metrics and
``selection_rule = "single_segment"``. A fixed ``segment_count`` that is not feasible
raises ``ValueError`` (1 is always accepted). PCA columns are 0 when there is no variance;
with one feature ``pca_2`` is 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.cluster.hierarchy import cut_tree, linkage
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from customer_analytics.features import ID_COLUMN, FeatureMatrix, build_feature_matrix

__all__ = [
    "ALGORITHMS",
    "SCORE_COLUMNS",
    "SEGMENT_COLUMNS",
    "SELECTION_RULES",
    "SWEEP_COLUMNS",
    "SegmentationResult",
    "assign_segments",
    "label_column",
    "run_segmentation",
    "score_segmentations",
    "structure_strength",
    "sweep_label_columns",
    "sweep_segmentations",
]

ALGORITHMS: tuple[str, ...] = ("kmeans", "agglomerative", "gaussian_mixture", "dbscan")
SELECTION_RULES: tuple[str, ...] = ("davies_bouldin", "silhouette", "calinski_harabasz", "elbow")
MAX_ITER = 300
MAX_AGGLOMERATIVE_CUSTOMERS = 20_000  # Ward needs O(n^2) memory: never fit more than this

SWEEP_COLUMNS: tuple[str, ...] = (
    ID_COLUMN,
    "pca_1",
    "pca_2",
    "pca_1_explained_variance_ratio",
    "pca_2_explained_variance_ratio",
)  # followed by one ``segment_id_k<k>`` column per candidate k, ascending
SCORE_COLUMNS: tuple[str, ...] = (
    "k",
    "davies_bouldin",
    "silhouette",
    "calinski_harabasz",
    "inertia",
    "is_chosen",
    "algorithm",
    "selection_rule",
    "bootstrap_stability",
    "bootstrap_resamples",
    "bootstrap_sample_size",
    "structure_strength",
)
SEGMENT_COLUMNS: tuple[str, ...] = (
    ID_COLUMN,
    "segment_id",
    "distance_to_centre",
    "pca_1",
    "pca_2",
    "pca_1_explained_variance_ratio",
    "pca_2_explained_variance_ratio",
    "algorithm",
)

_DECIMALS = 10  # scores closer than this are ties
_LABEL_PREFIX = "segment_id_k"

Progress = Callable[[str], None]


def label_column(k: int) -> str:
    """Name of the sweep column holding the labels of ``k`` segments."""
    return f"{_LABEL_PREFIX}{k}"


class SegmentationResult(NamedTuple):
    """All three outputs of one segmentation run."""

    sweep: pd.DataFrame
    scores: pd.DataFrame
    assignments: pd.DataFrame


def _count_distinct_rows(x: np.ndarray) -> int:
    # + 0.0 turns -0.0 into 0.0, which hash differently but are the same point.
    hashes = pd.util.hash_pandas_object(pd.DataFrame(x + 0.0), index=False)
    return int(hashes.nunique())


def _segment_means(x: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Means and sizes of segments ``0..k-1`` (labels < 0 are ignored)."""
    keep = labels >= 0
    rows = labels[keep]
    counts = np.bincount(rows, minlength=k).astype(np.float64)
    kept = x if keep.all() else x[keep]
    # one sequential pass per column: exact order, no sparse-matrix build at 1M rows
    sums = np.empty((k, x.shape[1]))
    for j in range(x.shape[1]):
        sums[:, j] = np.bincount(rows, weights=kept[:, j], minlength=k)
    means = np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
    return means, counts


def _distances(x: np.ndarray, labels: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Euclidean distance of every row to its segment mean; NaN for noise (label -1)."""
    out = np.full(x.shape[0], np.nan)
    chunk = 262_144
    for start in range(0, x.shape[0], chunk):
        part = labels[start : start + chunk]
        keep = part >= 0
        diff = x[start : start + chunk][keep] - means[part[keep]]
        block = out[start : start + chunk]
        block[keep] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _canonical_labels(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Relabel to 0..m-1 by descending size, then ascending mean vector; -1 stays -1."""
    present = np.unique(labels[labels >= 0])
    if present.size == 0:
        return labels.copy()
    compact = np.full(labels.shape, -1, dtype=np.int64)
    keep = labels >= 0
    compact[keep] = np.searchsorted(present, labels[keep])
    means, counts = _segment_means(x, compact, present.size)
    keys = [means[:, j] for j in range(means.shape[1] - 1, -1, -1)]
    order = np.lexsort([*keys, -counts])
    new_id = np.empty(present.size, dtype=np.int64)
    new_id[order] = np.arange(present.size)
    result = np.full(labels.shape, -1, dtype=np.int64)
    result[keep] = new_id[compact[keep]]
    return result


def _fixed_sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted row numbers of a fixed-seed sample of ``size`` rows (all rows when fewer)."""
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))


def _score(x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Scores of one labelling except the silhouette; noise (-1) excluded; NaN where a
    metric is undefined (fewer than 2 segments, or no customer more than segments).

    Davies-Bouldin and Calinski-Harabasz are computed exactly from the segment means, the
    segment sizes and each customer's distance to its mean, one pass over the rows (the
    formulas of ``sklearn.metrics.davies_bouldin_score`` / ``calinski_harabasz_score``,
    which the tests compare against).
    """
    keep = labels >= 0
    xk, lk = (x, labels) if keep.all() else (x[keep], labels[keep])
    scores = {
        "davies_bouldin": np.nan,
        "silhouette": np.nan,
        "calinski_harabasz": np.nan,
        "inertia": 0.0,
    }
    if not lk.size:
        return scores
    means, counts = _segment_means(xk, lk, int(lk.max()) + 1)
    present = counts > 0
    distance = _distances(xk, lk, means)
    within = float(np.dot(distance, distance))
    scores["inertia"] = within
    n, k = lk.size, int(np.count_nonzero(present))
    if not 2 <= k <= n - 1:
        return scores
    means, counts = means[present], counts[present]
    spread = np.bincount(lk, weights=distance)[present] / counts  # mean distance to the mean
    centre_gaps = euclidean_distances(means)
    if np.allclose(spread, 0) or np.allclose(centre_gaps, 0):
        scores["davies_bouldin"] = 0.0
    else:
        centre_gaps[centre_gaps == 0] = np.inf
        ratios = (spread[:, None] + spread[None, :]) / centre_gaps
        scores["davies_bouldin"] = float(np.mean(np.max(ratios, axis=1)))
    offset = means - xk.mean(axis=0)
    between = float(np.dot(counts, np.einsum("ij,ij->i", offset, offset)))
    scores["calinski_harabasz"] = 1.0 if within == 0 else between * (n - k) / (within * (k - 1.0))
    return scores


def _silhouettes(sample: np.ndarray, labellings: list[np.ndarray]) -> list[float]:
    """Mean silhouette of several labellings of the same sample rows, in one pass.

    Equal to ``sklearn.metrics.silhouette_score`` for each labelling (noise, label -1,
    excluded), but the sample's pairwise distances are computed once, in row chunks of
    at most 64 MiB, and shared by all labellings instead of recomputed for every k.
    """
    m = sample.shape[0]
    onehots = []
    for labels in labellings:
        width = int(labels.max()) + 1 if (labels >= 0).any() else 0
        onehot = np.zeros((m, width))
        keep = labels >= 0
        onehot[np.flatnonzero(keep), labels[keep]] = 1.0
        onehots.append(onehot)
    # all labellings side by side: one matrix product per chunk of distances
    edges = np.cumsum([0, *(onehot.shape[1] for onehot in onehots)])
    stacked = np.hstack(onehots) if onehots else np.zeros((m, 0))
    stacked_sums = np.empty((m, stacked.shape[1]))
    chunk = max(1, (64 << 20) // (8 * max(m, 1)))
    for start in range(0, m, chunk):
        distances = euclidean_distances(sample[start : start + chunk], sample)
        stacked_sums[start : start + chunk] = distances @ stacked
    sums = [stacked_sums[:, edges[i] : edges[i + 1]] for i in range(len(onehots))]
    results = []
    for labels, total in zip(labellings, sums, strict=True):
        keep = labels >= 0
        own = labels[keep]
        counts = np.bincount(own, minlength=total.shape[1]).astype(np.float64)
        if not 2 <= np.count_nonzero(counts) <= own.size - 1:
            results.append(np.nan)
            continue
        rows = total[keep]
        own_count = counts[own]
        a = rows[np.arange(own.size), own] / np.maximum(own_count - 1, 1)
        means = np.divide(rows, counts, out=np.full_like(rows, np.inf), where=counts > 0)
        means[np.arange(own.size), own] = np.inf
        b = means.min(axis=1)
        denominator = np.maximum(a, b)
        s = np.divide(b - a, denominator, out=np.zeros_like(a), where=denominator > 0)
        s[own_count == 1] = 0.0
        results.append(float(s.mean()))
    return results


class _Labeller:
    """Fits one algorithm for any k; caches what can be shared across k (the fit sample,
    the ward tree).

    Above ``segment_fit_sample_size`` customers every algorithm is fitted on the same
    fixed-seed sample of that many and every customer joins the nearest segment (KMeans:
    nearest centre; Gaussian mixture: most probable component; Ward: nearest sample segment
    mean); nothing is refitted on all rows.
    """

    def __init__(self, x: np.ndarray, settings: _LabellerSettings) -> None:
        self.x = x
        self.settings = settings
        n = x.shape[0]
        self.fit_rows = _fixed_sample(n, settings.segment_fit_sample_size, settings.random_seed)
        self.sampled = self.fit_rows.size < n
        self._tree: np.ndarray | None = None
        self._tree_rows: np.ndarray | None = None

    def labels(self, k: int) -> np.ndarray:
        if k == 1:
            return np.zeros(self.x.shape[0], dtype=np.int64)
        s = self.settings
        fit = self.x[self.fit_rows] if self.sampled else self.x
        if s.segment_algorithm == "kmeans":
            model = KMeans(
                n_clusters=k,
                n_init=s.segment_n_init,
                max_iter=MAX_ITER,
                random_state=s.random_seed,
            )
            if not self.sampled:
                return model.fit_predict(fit).astype(np.int64)
            return _nearest_centre(self.x, model.fit(fit).cluster_centers_)
        if s.segment_algorithm == "gaussian_mixture":
            mixture = GaussianMixture(
                n_components=k,
                covariance_type="full",
                n_init=s.segment_n_init,
                max_iter=MAX_ITER,
                random_state=s.random_seed,
            )
            return mixture.fit(fit).predict(self.x).astype(np.int64)
        if s.segment_algorithm == "agglomerative":
            return self._ward_labels(k)
        raise AssertionError(s.segment_algorithm)  # dbscan is handled by the caller

    def _ward_labels(self, k: int) -> np.ndarray:
        n = self.x.shape[0]
        if self._tree is None:
            limit = min(MAX_AGGLOMERATIVE_CUSTOMERS, self.settings.segment_fit_sample_size)
            self._tree_rows = _fixed_sample(n, limit, self.settings.random_seed)
            self._tree = linkage(self.x[self._tree_rows], method="ward")
        assert self._tree_rows is not None
        sample_labels = cut_tree(self._tree, n_clusters=k).ravel().astype(np.int64)
        if self._tree_rows.size == n:
            return sample_labels
        means, _ = _segment_means(self.x[self._tree_rows], sample_labels, k)
        labels = _nearest_centre(self.x, means)
        labels[self._tree_rows] = sample_labels
        return labels


def _nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    labels = np.empty(x.shape[0], dtype=np.int64)
    centre_sq = np.einsum("ij,ij->i", centres, centres)
    chunk = 65_536
    for start in range(0, x.shape[0], chunk):
        block = x[start : start + chunk]
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 does not change the argmin.
        labels[start : start + chunk] = np.argmin(centre_sq - 2.0 * block @ centres.T, axis=1)
    return labels


def _choose_k(frame: pd.DataFrame, rule: str, tolerance: float) -> int:
    """Apply a selection rule to a score frame sorted by ascending k: the smallest k whose
    score is within ``tolerance`` (relative) of the best one."""
    ks = frame["k"].to_numpy()
    if rule == "elbow":
        return _elbow(ks, frame["inertia"].to_numpy(dtype=np.float64))
    values = frame[rule].to_numpy(dtype=np.float64).round(_DECIMALS)
    if rule != "davies_bouldin":
        values = -values  # lower is better from here on
    finite = np.isfinite(values)
    if not finite.any():
        return int(ks[0])
    best = values[finite].min()
    good = finite & (values <= np.round(best + tolerance * abs(best), _DECIMALS))
    return int(ks[good][0])


def _preference_order(frame: pd.DataFrame, rule: str, chosen: int) -> list[int]:
    """The rule's choice first, then the other k from the best score down (ties and
    NaN scores: smaller k first, NaN last); for ``elbow`` the others by ascending k."""
    ks = frame["k"].to_numpy()
    if rule == "elbow":
        others = [int(k) for k in ks if k != chosen]
    else:
        values = frame[rule].to_numpy(dtype=np.float64).round(_DECIMALS)
        if rule != "davies_bouldin":
            values = -values
        values = np.where(np.isfinite(values), values, np.inf)
        others = [int(ks[i]) for i in np.lexsort((ks, values)) if ks[i] != chosen]
    return [chosen, *others]


def _elbow(ks: np.ndarray, inertia: np.ndarray) -> int:
    if ks.size < 3 or inertia[0] == inertia[-1]:
        return int(ks[0])
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (inertia - inertia[-1]) / (inertia[0] - inertia[-1])
    below_chord = np.round(1.0 - x - y, _DECIMALS)  # the chord is x + y = 1
    if below_chord.max() <= 0:
        return int(ks[0])
    return int(ks[np.argmax(below_chord)])


def _pca_columns(x: np.ndarray, fit_rows: np.ndarray) -> dict[str, np.ndarray | float]:
    """2-D PCA of every row; fitted on ``fit_rows`` (all rows, or the fit sample)."""
    n, d = x.shape
    zeros = np.zeros(n)
    columns: dict[str, np.ndarray | float] = {
        "pca_1": zeros,
        "pca_2": zeros,
        "pca_1_explained_variance_ratio": 0.0,
        "pca_2_explained_variance_ratio": 0.0,
    }
    fit = x[fit_rows] if fit_rows.size < n else x
    if fit.shape[0] < 2 or not np.any(fit.var(axis=0) > 0):
        return columns
    n_components = min(2, d, fit.shape[0])
    pca = PCA(n_components=n_components, random_state=0)
    projected = pca.fit_transform(x) if fit is x else pca.fit(fit).transform(x)
    for j in range(n_components):
        columns[f"pca_{j + 1}"] = projected[:, j].copy()
        columns[f"pca_{j + 1}_explained_variance_ratio"] = float(pca.explained_variance_ratio_[j])
    return columns


def _validate_choice(
    *,
    segment_algorithm: str,
    segment_k_min: int,
    segment_k_max: int,
    segment_count: int | None,
    segment_n_init: int,
    segment_fit_sample_size: int,
    dbscan_eps: float,
    dbscan_min_samples: int,
) -> None:
    if segment_algorithm not in ALGORITHMS:
        raise ValueError(
            f"unknown segment_algorithm {segment_algorithm!r}; expected one of {ALGORITHMS}"
        )
    if segment_k_min < 2 or segment_k_max < segment_k_min:
        raise ValueError(
            "need 2 <= segment_k_min <= segment_k_max, got"
            f" segment_k_min={segment_k_min}, segment_k_max={segment_k_max}"
        )
    if segment_count is not None:
        if segment_algorithm == "dbscan":
            raise ValueError("segment_count cannot be used with dbscan (it finds k itself)")
        if segment_count < 1:
            raise ValueError(f"segment_count must be >= 1, got {segment_count}")
    for name, value, least in (
        ("segment_n_init", segment_n_init, 1),
        ("segment_fit_sample_size", segment_fit_sample_size, 2),
        ("dbscan_min_samples", dbscan_min_samples, 1),
    ):
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")
    if not dbscan_eps > 0:
        raise ValueError(f"dbscan_eps must be > 0, got {dbscan_eps}")


def _matrix(
    customer_features: pd.DataFrame | pa.Table,
    segment_features: Sequence[str],
    segment_log_features: Sequence[str],
) -> FeatureMatrix:
    return build_feature_matrix(
        customer_features,
        segment_features,
        log_features=segment_log_features,
        weigh_patterns=True,
    )


def _one_thread() -> threadpool_limits:
    """One BLAS/OpenMP thread: every fit is on at most ``segment_fit_sample_size`` rows and
    the full-data steps are single passes, where thread start-up and spinning cost more than
    they save (KMeans k = 2..10 on 20,000 rows, 25 restarts, on the loaded 2-core machine:
    5 s with one thread, 63 s with two). Results do not depend on the thread count."""
    return threadpool_limits(limits=1)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def sweep_segmentations(
    customer_features: pd.DataFrame | pa.Table,
    *,
    segment_features: Sequence[str],
    segment_log_features: Sequence[str],
    segment_algorithm: str,
    segment_k_min: int,
    segment_k_max: int,
    segment_count: int | None,
    segment_n_init: int,
    segment_fit_sample_size: int,
    dbscan_eps: float,
    dbscan_min_samples: int,
    random_seed: int,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Fit every candidate k once: one row per customer (ascending ``customer_id``) with
    the PCA columns of :data:`SWEEP_COLUMNS` and one ``segment_id_k<k>`` column per k.

    ``progress`` (optional) receives one line per fitted k with its wall time.
    """
    _validate_choice(
        segment_algorithm=segment_algorithm,
        segment_k_min=segment_k_min,
        segment_k_max=segment_k_max,
        segment_count=segment_count,
        segment_n_init=segment_n_init,
        segment_fit_sample_size=segment_fit_sample_size,
        dbscan_eps=dbscan_eps,
        dbscan_min_samples=dbscan_min_samples,
    )
    fm = _matrix(customer_features, segment_features, segment_log_features)
    x = fm.matrix
    n = x.shape[0]
    labels_by_k: dict[int, np.ndarray] = {}
    if segment_algorithm == "dbscan":
        started = time.perf_counter()
        labels = DBSCAN(eps=dbscan_eps, min_samples=dbscan_min_samples).fit_predict(x)
        labels = labels.astype(np.int64)
        k_found = int(np.unique(labels[labels >= 0]).size)
        labels_by_k[k_found] = _canonical_labels(x, labels)
        _say(
            progress,
            f"segmentation sweep: dbscan found {k_found} segments among {n:,} customers"
            f" in {time.perf_counter() - started:.1f} s",
        )
    else:
        settings = _LabellerSettings(
            segment_algorithm, segment_n_init, segment_fit_sample_size, random_seed
        )
        labeller = _Labeller(x, settings)
        # k is bounded by what the fit sees: the fit sample when there is one
        fitted = x[labeller.fit_rows] if labeller.sampled else x
        m = fitted.shape[0]
        distinct = _count_distinct_rows(fitted) if m > 1 else 1
        k_cap = min(m - 1, distinct) if m > 1 else 0
        feasible = [k for k in range(segment_k_min, segment_k_max + 1) if k <= k_cap]
        if segment_count is not None:
            if segment_count != 1 and segment_count > k_cap:
                raise ValueError(
                    f"segment_count={segment_count} is not possible with {n} customers"
                    f" ({distinct} distinct): at most {max(k_cap, 1)}"
                )
            ks = sorted({*feasible, segment_count})
        else:
            ks = feasible or [1]
        where = (
            f"fitted on a sample of {m:,} of {n:,} customers, all assigned"
            if labeller.sampled
            else f"fitted on {n:,} customers"
        )
        for k in ks:
            started = time.perf_counter()
            with _one_thread():
                labels_by_k[k] = _canonical_labels(x, labeller.labels(k))
            _say(
                progress,
                f"segmentation sweep: k={k} {where} in {time.perf_counter() - started:.1f} s",
            )
    started = time.perf_counter()
    fit_rows = _fixed_sample(n, segment_fit_sample_size, random_seed)
    with _one_thread():
        pca = _pca_columns(x, fit_rows)
    sweep = pd.DataFrame({ID_COLUMN: fm.customer_ids, **pca})
    _say(progress, f"segmentation sweep: PCA in {time.perf_counter() - started:.1f} s")
    for k in sorted(labels_by_k):
        sweep[label_column(k)] = labels_by_k[k]
    return sweep


class _LabellerSettings(NamedTuple):
    segment_algorithm: str
    segment_n_init: int
    segment_fit_sample_size: int
    random_seed: int


def sweep_label_columns(columns: Sequence[str]) -> list[str]:
    """Of a ``segmentation_sweep`` table's columns, the ones `score_segmentations` reads:
    ``customer_id`` and every ``segment_id_k<k>``."""
    return [ID_COLUMN, *_label_columns(columns)]


def _label_columns(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if str(c).startswith(_LABEL_PREFIX)]


def _sweep_labels(sweep: pd.DataFrame, fm: FeatureMatrix) -> dict[int, np.ndarray]:
    """The stored labels of every k, aligned with the feature matrix rows."""
    columns = _label_columns(sweep.columns)
    if not columns:
        raise ValueError("the sweep has no segment_id_k<k> columns")
    ids = sweep[ID_COLUMN].to_numpy()
    order = np.argsort(ids, kind="stable")
    if len(ids) != len(fm.customer_ids) or not np.array_equal(ids[order], fm.customer_ids):
        raise ValueError(
            "segmentation_sweep and customer_features hold different customers;"
            " rebuild segmentation_sweep"
        )
    return {int(c[len(_LABEL_PREFIX) :]): sweep[c].to_numpy(dtype=np.int64)[order] for c in columns}


def structure_strength(silhouette: float, bootstrap_stability: float) -> str:
    """Plain words for how real the segments are.

    Silhouette bands follow Kaufman and Rousseeuw (> 0.5 reasonable, > 0.25 weak, below
    that no substantial structure); a segmentation that does not come back on resampled
    customers (stability below 0.8) is weak whatever its silhouette. NaN stability (not
    measured, e.g. DBSCAN) leaves the silhouette alone to decide.
    """
    if not np.isfinite(silhouette):
        return "single segment"
    stable = not np.isfinite(bootstrap_stability) or bootstrap_stability >= 0.8
    very_stable = not np.isfinite(bootstrap_stability) or bootstrap_stability >= 0.9
    if silhouette > 0.5 and very_stable:
        return "well separated"
    if silhouette > 0.25 and stable:
        return "moderate structure"
    return "weak structure"


def _bootstrap_stability(
    x: np.ndarray,
    labels: np.ndarray,
    k: int,
    *,
    segment_algorithm: str,
    segment_n_init: int,
    segment_bootstrap_resamples: int,
    segment_bootstrap_sample_size: int,
    random_seed: int,
) -> float:
    n = x.shape[0]
    size = min(n, segment_bootstrap_sample_size)
    evaluation = _fixed_sample(n, size, random_seed)
    reference = labels[evaluation]
    # each resample is fitted whole (it has at most segment_bootstrap_sample_size rows)
    settings = _LabellerSettings(segment_algorithm, segment_n_init, size, random_seed)
    agreements = []
    for resample in range(segment_bootstrap_resamples):
        rng = np.random.default_rng([random_seed, resample])
        rows = rng.choice(n, size=size, replace=True)
        # a tiny resample can hold fewer distinct customers than k
        k_fit = min(k, _count_distinct_rows(x[rows]))
        with _one_thread():
            fitted = _Labeller(x[rows], settings).labels(k_fit)
        means, counts = _segment_means(x[rows], fitted, k_fit)
        predicted = _nearest_centre(x[evaluation], means[counts > 0])
        agreements.append(adjusted_rand_score(reference, predicted))
    return float(np.mean(agreements))


def score_segmentations(
    customer_features: pd.DataFrame | pa.Table,
    sweep: pd.DataFrame,
    *,
    segment_features: Sequence[str],
    segment_log_features: Sequence[str],
    segment_algorithm: str,
    segment_selection_rule: str,
    segment_k_tolerance: float,
    segment_min_stability: float,
    segment_count: int | None,
    segment_n_init: int,
    silhouette_sample_size: int,
    segment_bootstrap_resamples: int,
    segment_bootstrap_sample_size: int,
    random_seed: int,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """One row per k of the sweep (:data:`SCORE_COLUMNS`, ascending k), scored from the
    stored labels; exactly one ``is_chosen``. The bootstrap columns are filled on every
    row whose stability was measured (the chosen one, and with ``segment_min_stability``
    the candidates tried before it), ``structure_strength`` on the chosen row only. When
    ``segment_min_stability`` rejects every k, a row ``k = 1`` (one segment, NaN scores)
    is added and chosen with ``selection_rule = "no_stable_segments"``."""
    if segment_selection_rule not in SELECTION_RULES:
        raise ValueError(
            f"unknown segment_selection_rule {segment_selection_rule!r}; expected one of"
            f" {SELECTION_RULES}"
        )
    if not 0 <= segment_k_tolerance < 1:
        raise ValueError(f"segment_k_tolerance must be in [0, 1), got {segment_k_tolerance}")
    if not 0 <= segment_min_stability <= 1:
        raise ValueError(f"segment_min_stability must be in [0, 1], got {segment_min_stability}")
    for name, value in (
        ("silhouette_sample_size", silhouette_sample_size),
        ("segment_bootstrap_resamples", segment_bootstrap_resamples),
        ("segment_bootstrap_sample_size", segment_bootstrap_sample_size),
        ("segment_n_init", segment_n_init),
    ):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    fm = _matrix(customer_features, segment_features, segment_log_features)
    x = fm.matrix
    labels_by_k = _sweep_labels(sweep, fm)
    ks = sorted(labels_by_k)
    started = time.perf_counter()
    sample = _fixed_sample(x.shape[0], silhouette_sample_size, random_seed)
    with _one_thread():
        rows = [{"k": k, **_score(x, labels_by_k[k])} for k in ks]
        silhouettes = _silhouettes(x[sample], [labels_by_k[k][sample] for k in ks])
    for row, silhouette in zip(rows, silhouettes, strict=True):
        if not np.isnan(row["davies_bouldin"]):
            row["silhouette"] = silhouette
    scores = pd.DataFrame(rows)
    _say(
        progress,
        f"segmentation scores: {len(ks)} k scored in {time.perf_counter() - started:.1f} s",
    )

    stabilities: dict[int, float] = {}

    def stability_of(k: int) -> float:
        if k not in stabilities:
            started = time.perf_counter()
            stabilities[k] = _bootstrap_stability(
                x,
                labels_by_k[k],
                k,
                segment_algorithm=segment_algorithm,
                segment_n_init=segment_n_init,
                segment_bootstrap_resamples=segment_bootstrap_resamples,
                segment_bootstrap_sample_size=segment_bootstrap_sample_size,
                random_seed=random_seed,
            )
            _say(
                progress,
                f"segmentation scores: k={k} bootstrap stability {stabilities[k]:.3f} from"
                f" {segment_bootstrap_resamples} resamples"
                f" in {time.perf_counter() - started:.1f} s",
            )
        return stabilities[k]

    if segment_algorithm == "dbscan":
        chosen, rule = ks[0], "dbscan"
    elif ks == [1]:
        chosen, rule = 1, "single_segment"
    elif segment_count is not None:
        if segment_count not in labels_by_k:
            raise ValueError(f"the sweep has no labels for segment_count={segment_count}")
        chosen, rule = segment_count, "fixed"
    else:
        candidates = scores[scores["k"] >= 2]
        chosen = _choose_k(candidates, segment_selection_rule, segment_k_tolerance)
        rule = segment_selection_rule
        if segment_min_stability > 0:
            order = _preference_order(candidates, segment_selection_rule, chosen)
            # measured lazily: the first stable candidate stops the search
            stable = next((k for k in order if stability_of(k) >= segment_min_stability), None)
            if stable is not None:
                chosen = stable
            else:
                chosen, rule = 1, "no_stable_segments"
                whole = _score(x, np.zeros(x.shape[0], dtype=np.int64))
                scores = pd.concat([pd.DataFrame([{"k": 1, **whole}]), scores])
                scores = scores.reset_index(drop=True)

    scores["k"] = scores["k"].astype(np.int64)
    scores["is_chosen"] = scores["k"] == chosen
    scores["algorithm"] = segment_algorithm
    scores["selection_rule"] = rule
    if segment_algorithm != "dbscan" and chosen >= 2:
        stability_of(chosen)
    stability = stabilities.get(chosen, np.nan)
    chosen_row = scores["is_chosen"].to_numpy()
    measured = scores["k"].isin(list(stabilities)).to_numpy()
    scores["bootstrap_stability"] = scores["k"].map(stabilities).astype(np.float64)
    sample_size = min(x.shape[0], segment_bootstrap_sample_size)
    scores["bootstrap_resamples"] = pd.Series(
        [segment_bootstrap_resamples if m else None for m in measured], dtype="Int64"
    )
    scores["bootstrap_sample_size"] = pd.Series(
        [sample_size if m else None for m in measured], dtype="Int64"
    )
    silhouette_chosen = float(scores.loc[chosen_row, "silhouette"].iloc[0])
    strength = (
        "no stable segments"
        if rule == "no_stable_segments"
        else structure_strength(silhouette_chosen, stability)
    )
    scores["structure_strength"] = pd.Series(np.where(chosen_row, strength, None), dtype="object")
    return scores[list(SCORE_COLUMNS)]


def assign_segments(
    customer_features: pd.DataFrame | pa.Table,
    sweep: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    segment_features: Sequence[str],
    segment_log_features: Sequence[str],
    segment_algorithm: str,
) -> pd.DataFrame:
    """One row per customer (ascending ``customer_id``, :data:`SEGMENT_COLUMNS`): the
    chosen k's stored labels, the distance to the segment mean and the PCA position."""
    chosen = scores.loc[scores["is_chosen"].astype(bool), "k"]
    if len(chosen) != 1:
        raise ValueError(f"segmentation_scores must flag exactly one k, found {len(chosen)}")
    fm = _matrix(customer_features, segment_features, segment_log_features)
    x = fm.matrix
    labels_by_k = _sweep_labels(sweep, fm)
    k = int(chosen.iloc[0])
    if k == 1 and k not in labels_by_k:  # no stable segments: everyone in one
        labels_by_k[1] = np.zeros(x.shape[0], dtype=np.int64)
    if k not in labels_by_k:
        raise ValueError(f"the sweep has no labels for the chosen k={k}")
    labels = labels_by_k[k]
    n_segments = int(labels.max()) + 1 if (labels >= 0).any() else 0
    means, _ = _segment_means(x, labels, max(n_segments, 1))
    order = np.argsort(sweep[ID_COLUMN].to_numpy(), kind="stable")
    pca = sweep.iloc[order].reset_index(drop=True)
    assignments = pd.DataFrame(
        {
            ID_COLUMN: fm.customer_ids,
            "segment_id": labels,
            "distance_to_centre": _distances(x, labels, means),
            "pca_1": pca["pca_1"].to_numpy(),
            "pca_2": pca["pca_2"].to_numpy(),
            "pca_1_explained_variance_ratio": pca["pca_1_explained_variance_ratio"].to_numpy(),
            "pca_2_explained_variance_ratio": pca["pca_2_explained_variance_ratio"].to_numpy(),
            "algorithm": segment_algorithm,
        }
    )
    return assignments[list(SEGMENT_COLUMNS)]


def run_segmentation(
    customer_features: pd.DataFrame | pa.Table,
    *,
    segment_features: Sequence[str],
    segment_log_features: Sequence[str],
    segment_algorithm: str,
    segment_k_min: int,
    segment_k_max: int,
    segment_selection_rule: str,
    segment_k_tolerance: float,
    segment_min_stability: float,
    segment_count: int | None,
    segment_n_init: int,
    segment_fit_sample_size: int,
    silhouette_sample_size: int,
    segment_bootstrap_resamples: int,
    segment_bootstrap_sample_size: int,
    dbscan_eps: float,
    dbscan_min_samples: int,
    random_seed: int,
    progress: Progress | None = None,
) -> SegmentationResult:
    """Sweep, score and assign in one call: the three models' outputs for these settings."""
    features = {
        "segment_features": segment_features,
        "segment_log_features": segment_log_features,
    }
    sweep = sweep_segmentations(
        customer_features,
        **features,
        segment_algorithm=segment_algorithm,
        segment_k_min=segment_k_min,
        segment_k_max=segment_k_max,
        segment_count=segment_count,
        segment_n_init=segment_n_init,
        segment_fit_sample_size=segment_fit_sample_size,
        dbscan_eps=dbscan_eps,
        dbscan_min_samples=dbscan_min_samples,
        random_seed=random_seed,
        progress=progress,
    )
    scores = score_segmentations(
        customer_features,
        sweep,
        **features,
        segment_algorithm=segment_algorithm,
        segment_selection_rule=segment_selection_rule,
        segment_k_tolerance=segment_k_tolerance,
        segment_min_stability=segment_min_stability,
        segment_count=segment_count,
        segment_n_init=segment_n_init,
        silhouette_sample_size=silhouette_sample_size,
        segment_bootstrap_resamples=segment_bootstrap_resamples,
        segment_bootstrap_sample_size=segment_bootstrap_sample_size,
        random_seed=random_seed,
        progress=progress,
    )
    assignments = assign_segments(
        customer_features, sweep, scores, **features, segment_algorithm=segment_algorithm
    )
    return SegmentationResult(sweep=sweep, scores=scores, assignments=assignments)
