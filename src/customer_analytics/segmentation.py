"""Customer segmentation: score candidate segment counts, then assign every customer.

The two public entry points take the ``customer_features`` frame and plain settings (as
they arrive from YAML) and return one DataFrame each, so a dbt Python model only has to
call one of them:

* :func:`score_segmentations` -- one row per candidate number of segments ``k``;
* :func:`assign_segments` -- one row per customer.

:func:`run_segmentation` returns both from a single fit.

How it works
------------
1. :func:`customer_analytics.features.build_feature_matrix` builds the standardized matrix
   (rows in ascending ``customer_id`` order, so input row order never matters).
2. For every candidate ``k`` in ``k_min..k_max`` the chosen algorithm is fitted and scored
   on the same matrix:

   * ``davies_bouldin`` (lower is better) and ``calinski_harabasz`` (higher is better) on
     all customers;
   * ``silhouette`` (higher is better) on a fixed-seed random sample of
     ``silhouette_sample_size`` customers (all of them when there are fewer), the same
     sample for every ``k`` -- the exact silhouette is O(n^2). The sample's distances are
     computed once (in 64 MiB chunks) and shared by all ``k``;
   * ``inertia``: the within-segment sum of squared Euclidean distances to each segment's
     mean, computed from the labels for every algorithm (for k-means it equals k-means'
     own inertia).

3. The ``selection_rule`` picks ``k``: ``davies_bouldin`` (lowest; the default),
   ``silhouette`` (highest), ``calinski_harabasz`` (highest) or ``elbow``: with ``k`` and
   ``inertia`` both rescaled to [0, 1] over the sweep, the knee is the ``k`` whose point
   lies farthest below the straight chord from the first to the last point (a
   Kneedle-style "maximum distance to the chord"). Scores are compared after rounding to
   10 decimals and ties go to the smaller ``k``; NaN scores are never chosen (if every
   score is NaN the smallest ``k`` is). The elbow needs three or more candidates and an
   inertia that changes; otherwise it picks the smallest ``k``.
   A fixed ``n_segments`` bypasses the rule (``selection_rule`` is reported as
   ``"fixed"``) but the sweep is still scored, with ``n_segments`` added when it lies
   outside ``k_min..k_max``.
4. Segment ids are ``0..k-1`` ordered by descending segment size, then by the segment's
   mean vector (lexicographically, ascending), so they never depend on the labels a random
   initialisation happened to produce.

Algorithms
----------
``kmeans`` (default)
    ``sklearn.cluster.KMeans`` with explicit ``n_init``, ``max_iter`` and
    ``random_state`` (default ``n_init=3``). Full-batch Lloyd is fast enough: the whole
    run (2..10 sweep with all scores, assignment, PCA) for 1M customers x 20 clustered
    features took 50-120 s (depending on other load) and under 1 GiB above the data on
    2 cores (see
    ``benchmarks/bench_python_models.py``), so MiniBatchKMeans is not used.
``agglomerative``
    Ward linkage (``scipy.cluster.hierarchy.linkage(method="ward")``, the same criterion
    as scikit-learn's ``AgglomerativeClustering(linkage="ward")``); the tree is built
    once and cut at every ``k``. Ward needs O(n^2) memory, so above
    ``max_agglomerative_customers`` customers the tree is built on a fixed-seed random
    sample of that many customers; the sampled customers keep their labels and every
    other customer joins the segment whose (sample) mean is nearest in Euclidean
    distance.
``gaussian_mixture``
    ``sklearn.mixture.GaussianMixture`` (full covariances, k-means initialisation,
    ``n_init`` restarts); customers go to their most probable component. A component
    that ends up with no customers disappears, so fewer than ``k`` segments can come out.
``dbscan``
    ``sklearn.cluster.DBSCAN(eps, min_samples)``. The number of segments is whatever DBSCAN
    finds; ``k_min``, ``k_max``, ``selection_rule`` and ``n_segments`` do not apply
    (passing ``n_segments`` is an error). Noise customers get ``segment_id = -1`` and a NaN
    ``distance_to_centre``; they are not forced into a segment. The score frame has one
    row (``selection_rule = "dbscan"``) whose scores are computed on non-noise customers
    only.

Degenerate inputs
-----------------
A candidate ``k`` is feasible when ``2 <= k <= min(n_customers - 1, n_distinct_rows)``
(the metrics need at least one customer more than segments, and k-means cannot make more
non-empty clusters than there are distinct points). Infeasible candidates are dropped.

* When no candidate is feasible -- one customer, two customers, or all customers
  identical (which includes every feature having zero variance) -- the result is a single
  segment: every customer gets ``segment_id = 0``, the score frame has one row with
  ``k = 1``, NaN metrics, the total sum of squares as ``inertia`` and ``selection_rule =
  "single_segment"``. A pipeline on tiny or constant data therefore still produces a
  table instead of failing.
* A fixed ``n_segments`` that is not feasible raises ``ValueError`` (``n_segments = 1`` is
  always accepted and gives the single segment above).
* A zero-variance feature is a column of zeros after standardization and has no effect.
* The PCA columns are computed on all customers. ``pca_1_explained_variance_ratio`` and
  ``pca_2_explained_variance_ratio`` are constants (the share of total variance explained
  by each component), repeated on every row so the table is self-describing. With a
  single feature ``pca_2`` and its ratio are 0; with fewer than two customers, or no
  variance at all, every PCA column is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.cluster.hierarchy import cut_tree, linkage
from sklearn.cluster import DBSCAN, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.mixture import GaussianMixture

from customer_analytics.features import (
    DEFAULT_SEGMENT_FEATURES,
    ID_COLUMN,
    FeatureMatrix,
    build_feature_matrix,
)

__all__ = [
    "ALGORITHMS",
    "SCORE_COLUMNS",
    "SEGMENT_COLUMNS",
    "SELECTION_RULES",
    "SegmentationResult",
    "assign_segments",
    "run_segmentation",
    "score_segmentations",
]

ALGORITHMS: tuple[str, ...] = ("kmeans", "agglomerative", "gaussian_mixture", "dbscan")
SELECTION_RULES: tuple[str, ...] = ("davies_bouldin", "silhouette", "calinski_harabasz", "elbow")

SCORE_COLUMNS: tuple[str, ...] = (
    "k",
    "davies_bouldin",
    "silhouette",
    "calinski_harabasz",
    "inertia",
    "is_chosen",
    "algorithm",
    "selection_rule",
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

_DECIMALS = 10  # scores closer than this are ties (the smaller k wins)


@dataclass(frozen=True)
class _Settings:
    algorithm: str
    n_segments: int | None
    k_min: int
    k_max: int
    selection_rule: str
    random_state: int
    n_init: int
    max_iter: int
    silhouette_sample_size: int
    max_agglomerative_customers: int
    eps: float
    min_samples: int


class SegmentationResult(NamedTuple):
    """Both outputs of one segmentation run."""

    scores: pd.DataFrame
    assignments: pd.DataFrame


def _validate(settings: _Settings) -> None:
    if settings.algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {settings.algorithm!r}; expected one of {ALGORITHMS}")
    if settings.selection_rule not in SELECTION_RULES:
        raise ValueError(
            f"unknown selection_rule {settings.selection_rule!r}; expected one of {SELECTION_RULES}"
        )
    if settings.k_min < 2 or settings.k_max < settings.k_min:
        raise ValueError(
            f"need 2 <= k_min <= k_max, got k_min={settings.k_min}, k_max={settings.k_max}"
        )
    if settings.n_segments is not None:
        if settings.algorithm == "dbscan":
            raise ValueError("n_segments cannot be used with dbscan (it finds k itself)")
        if settings.n_segments < 1:
            raise ValueError(f"n_segments must be >= 1, got {settings.n_segments}")
    for name in ("n_init", "max_iter", "silhouette_sample_size", "min_samples"):
        if getattr(settings, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(settings, name)}")
    if settings.max_agglomerative_customers < 2:
        raise ValueError("max_agglomerative_customers must be >= 2")
    if not settings.eps > 0:
        raise ValueError(f"eps must be > 0, got {settings.eps}")


def _count_distinct_rows(x: np.ndarray) -> int:
    # + 0.0 turns -0.0 into 0.0, which hash differently but are the same point.
    hashes = pd.util.hash_pandas_object(pd.DataFrame(x + 0.0), index=False)
    return int(hashes.nunique())


def _segment_means(x: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Means and sizes of segments ``0..k-1`` (labels < 0 are ignored)."""
    keep = labels >= 0
    rows = labels[keep]
    counts = np.bincount(rows, minlength=k).astype(np.float64)
    indicator = sparse.csr_array(
        (np.ones(rows.size), (rows, np.arange(rows.size))), shape=(k, rows.size)
    )
    sums = np.asarray(indicator @ x[keep])
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


def _silhouette_sample(n: int, settings: _Settings) -> np.ndarray:
    if n <= settings.silhouette_sample_size:
        return np.arange(n)
    rng = np.random.default_rng(settings.random_state)
    return np.sort(rng.choice(n, size=settings.silhouette_sample_size, replace=False))


def _score(x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Scores of one labelling except the silhouette; noise (-1) excluded; NaN where a
    metric is undefined (fewer than 2 segments, or no customer more than segments)."""
    keep = labels >= 0
    xk, lk = x[keep], labels[keep]
    n_labels = np.unique(lk).size
    scores = {
        "davies_bouldin": np.nan,
        "silhouette": np.nan,
        "calinski_harabasz": np.nan,
        "inertia": 0.0,
    }
    if lk.size:
        means, _ = _segment_means(xk, lk, int(lk.max()) + 1)
        diff = xk - means[lk]
        scores["inertia"] = float(np.einsum("ij,ij->", diff, diff))
    if 2 <= n_labels <= lk.size - 1:
        scores["davies_bouldin"] = float(davies_bouldin_score(xk, lk))
        scores["calinski_harabasz"] = float(calinski_harabasz_score(xk, lk))
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
    sums = [np.empty((m, onehot.shape[1])) for onehot in onehots]
    chunk = max(1, (64 << 20) // (8 * max(m, 1)))
    for start in range(0, m, chunk):
        distances = euclidean_distances(sample[start : start + chunk], sample)
        for total, onehot in zip(sums, onehots, strict=True):
            total[start : start + chunk] = distances @ onehot
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
    """Fits one algorithm for any k; caches what can be shared across k (the ward tree)."""

    def __init__(self, x: np.ndarray, settings: _Settings) -> None:
        self.x = x
        self.settings = settings
        self._tree: np.ndarray | None = None
        self._tree_rows: np.ndarray | None = None

    def labels(self, k: int) -> np.ndarray:
        if k == 1:
            return np.zeros(self.x.shape[0], dtype=np.int64)
        s = self.settings
        if s.algorithm == "kmeans":
            model = KMeans(
                n_clusters=k, n_init=s.n_init, max_iter=s.max_iter, random_state=s.random_state
            )
            return model.fit_predict(self.x).astype(np.int64)
        if s.algorithm == "gaussian_mixture":
            mixture = GaussianMixture(
                n_components=k,
                covariance_type="full",
                n_init=s.n_init,
                max_iter=s.max_iter,
                random_state=s.random_state,
            )
            return mixture.fit(self.x).predict(self.x).astype(np.int64)
        if s.algorithm == "agglomerative":
            return self._ward_labels(k)
        raise AssertionError(s.algorithm)  # dbscan is handled by the caller

    def _ward_labels(self, k: int) -> np.ndarray:
        n = self.x.shape[0]
        if self._tree is None:
            limit = self.settings.max_agglomerative_customers
            if n > limit:
                rng = np.random.default_rng(self.settings.random_state)
                self._tree_rows = np.sort(rng.choice(n, size=limit, replace=False))
            else:
                self._tree_rows = np.arange(n)
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


def _choose_k(frame: pd.DataFrame, rule: str) -> int:
    """Apply a selection rule to a score frame sorted by ascending k."""
    ks = frame["k"].to_numpy()
    if rule == "elbow":
        return _elbow(ks, frame["inertia"].to_numpy(dtype=np.float64))
    values = frame[rule].to_numpy(dtype=np.float64).round(_DECIMALS)
    if rule != "davies_bouldin":
        values = -values
    finite = np.isfinite(values)
    if not finite.any():
        return int(ks[0])
    return int(ks[finite][np.argmin(values[finite])])  # argmin: first = smaller k on ties


def _elbow(ks: np.ndarray, inertia: np.ndarray) -> int:
    if ks.size < 3 or inertia[0] == inertia[-1]:
        return int(ks[0])
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    y = (inertia - inertia[-1]) / (inertia[0] - inertia[-1])
    below_chord = np.round(1.0 - x - y, _DECIMALS)  # the chord is x + y = 1
    if below_chord.max() <= 0:
        return int(ks[0])
    return int(ks[np.argmax(below_chord)])


def _pca_columns(x: np.ndarray) -> dict[str, np.ndarray | float]:
    n, d = x.shape
    zeros = np.zeros(n)
    columns: dict[str, np.ndarray | float] = {
        "pca_1": zeros,
        "pca_2": zeros,
        "pca_1_explained_variance_ratio": 0.0,
        "pca_2_explained_variance_ratio": 0.0,
    }
    if n < 2 or not np.any(x.var(axis=0) > 0):
        return columns
    n_components = min(2, d, n)
    pca = PCA(n_components=n_components, random_state=0)
    projected = pca.fit_transform(x)
    for j in range(n_components):
        columns[f"pca_{j + 1}"] = projected[:, j].copy()
        columns[f"pca_{j + 1}_explained_variance_ratio"] = float(pca.explained_variance_ratio_[j])
    return columns


def _score_rows(
    x: np.ndarray, labels_by_k: dict[int, np.ndarray], sample: np.ndarray
) -> list[dict[str, float]]:
    ks = sorted(labels_by_k)
    rows = [{"k": k, **_score(x, labels_by_k[k])} for k in ks]
    silhouettes = _silhouettes(x[sample], [labels_by_k[k][sample] for k in ks])
    for row, silhouette in zip(rows, silhouettes, strict=True):
        if not np.isnan(row["davies_bouldin"]):
            row["silhouette"] = silhouette
    return rows


def _run(fm: FeatureMatrix, settings: _Settings, *, need_sweep: bool) -> SegmentationResult:
    _validate(settings)
    x = fm.matrix
    n = x.shape[0]
    sample = _silhouette_sample(n, settings)
    labeller = _Labeller(x, settings)

    if settings.algorithm == "dbscan":
        labels = DBSCAN(eps=settings.eps, min_samples=settings.min_samples).fit_predict(x)
        labels = labels.astype(np.int64)
        k_found = int(np.unique(labels[labels >= 0]).size)
        labels_by_k = {k_found: labels}
        rows = _score_rows(x, labels_by_k, sample)
        chosen, rule = k_found, "dbscan"
    else:
        k_cap = min(n - 1, _count_distinct_rows(x)) if n > 1 else 0
        feasible = [k for k in range(settings.k_min, settings.k_max + 1) if k <= k_cap]
        if settings.n_segments is not None:
            chosen, rule = settings.n_segments, "fixed"
            if chosen != 1 and chosen > k_cap:
                raise ValueError(
                    f"n_segments={chosen} is not possible with {n} customers "
                    f"({_count_distinct_rows(x)} distinct): at most {max(k_cap, 1)}"
                )
            ks = sorted({*feasible, chosen}) if need_sweep else [chosen]
        elif feasible:
            ks, rule, chosen = feasible, settings.selection_rule, -1
        else:
            ks, rule, chosen = [1], "single_segment", 1
        labels_by_k = {k: labeller.labels(k) for k in ks}
        rows = _score_rows(x, labels_by_k, sample)
        if chosen == -1:
            chosen = _choose_k(pd.DataFrame(rows), settings.selection_rule)

    scores = pd.DataFrame(rows)
    scores["k"] = scores["k"].astype(np.int64)
    scores["is_chosen"] = scores["k"] == chosen
    scores["algorithm"] = settings.algorithm
    scores["selection_rule"] = rule
    scores = scores[list(SCORE_COLUMNS)]

    labels = _canonical_labels(x, labels_by_k[chosen])
    n_segments = int(labels.max()) + 1 if (labels >= 0).any() else 0
    means, _ = _segment_means(x, labels, max(n_segments, 1))
    assignments = pd.DataFrame(
        {
            ID_COLUMN: fm.customer_ids,
            "segment_id": labels,
            "distance_to_centre": _distances(x, labels, means),
            **_pca_columns(x),
            "algorithm": settings.algorithm,
        }
    )[list(SEGMENT_COLUMNS)]
    return SegmentationResult(scores=scores, assignments=assignments)


def run_segmentation(
    customer_features: pd.DataFrame,
    *,
    features: Sequence[str] = DEFAULT_SEGMENT_FEATURES,
    algorithm: str = "kmeans",
    n_segments: int | None = None,
    k_min: int = 2,
    k_max: int = 10,
    selection_rule: str = "davies_bouldin",
    random_state: int = 42,
    n_init: int = 3,
    max_iter: int = 300,
    silhouette_sample_size: int = 10_000,
    max_agglomerative_customers: int = 20_000,
    eps: float = 0.5,
    min_samples: int = 5,
) -> SegmentationResult:
    """Score the candidate k values and assign segments in one run (see the module doc).

    Returns ``SegmentationResult(scores, assignments)``, the frames of
    :func:`score_segmentations` and :func:`assign_segments` for the same settings.
    """
    settings = _Settings(
        algorithm=algorithm,
        n_segments=n_segments,
        k_min=k_min,
        k_max=k_max,
        selection_rule=selection_rule,
        random_state=random_state,
        n_init=n_init,
        max_iter=max_iter,
        silhouette_sample_size=silhouette_sample_size,
        max_agglomerative_customers=max_agglomerative_customers,
        eps=eps,
        min_samples=min_samples,
    )
    _validate(settings)
    fm = build_feature_matrix(customer_features, features)
    return _run(fm, settings, need_sweep=True)


def score_segmentations(
    customer_features: pd.DataFrame,
    *,
    features: Sequence[str] = DEFAULT_SEGMENT_FEATURES,
    algorithm: str = "kmeans",
    n_segments: int | None = None,
    k_min: int = 2,
    k_max: int = 10,
    selection_rule: str = "davies_bouldin",
    random_state: int = 42,
    n_init: int = 3,
    max_iter: int = 300,
    silhouette_sample_size: int = 10_000,
    max_agglomerative_customers: int = 20_000,
    eps: float = 0.5,
    min_samples: int = 5,
) -> pd.DataFrame:
    """One row per candidate k: ``k, davies_bouldin, silhouette, calinski_harabasz,
    inertia, is_chosen, algorithm, selection_rule`` (exactly one ``is_chosen``).

    Rows are sorted by ``k``. See the module docstring for the rules, the algorithms and
    the degenerate cases.
    """
    return run_segmentation(
        customer_features,
        features=features,
        algorithm=algorithm,
        n_segments=n_segments,
        k_min=k_min,
        k_max=k_max,
        selection_rule=selection_rule,
        random_state=random_state,
        n_init=n_init,
        max_iter=max_iter,
        silhouette_sample_size=silhouette_sample_size,
        max_agglomerative_customers=max_agglomerative_customers,
        eps=eps,
        min_samples=min_samples,
    ).scores


def assign_segments(
    customer_features: pd.DataFrame,
    *,
    features: Sequence[str] = DEFAULT_SEGMENT_FEATURES,
    algorithm: str = "kmeans",
    n_segments: int | None = None,
    k_min: int = 2,
    k_max: int = 10,
    selection_rule: str = "davies_bouldin",
    random_state: int = 42,
    n_init: int = 3,
    max_iter: int = 300,
    silhouette_sample_size: int = 10_000,
    max_agglomerative_customers: int = 20_000,
    eps: float = 0.5,
    min_samples: int = 5,
) -> pd.DataFrame:
    """One row per customer (ascending ``customer_id``): ``customer_id, segment_id,
    distance_to_centre, pca_1, pca_2, pca_1_explained_variance_ratio,
    pca_2_explained_variance_ratio, algorithm``.

    With ``n_segments=None`` the k sweep runs to choose k (the same k that
    :func:`score_segmentations` marks ``is_chosen`` for the same settings); with a fixed
    ``n_segments`` only that k is fitted.
    """
    settings = _Settings(
        algorithm=algorithm,
        n_segments=n_segments,
        k_min=k_min,
        k_max=k_max,
        selection_rule=selection_rule,
        random_state=random_state,
        n_init=n_init,
        max_iter=max_iter,
        silhouette_sample_size=silhouette_sample_size,
        max_agglomerative_customers=max_agglomerative_customers,
        eps=eps,
        min_samples=min_samples,
    )
    _validate(settings)
    fm = build_feature_matrix(customer_features, features)
    return _run(fm, settings, need_sweep=False).assignments
