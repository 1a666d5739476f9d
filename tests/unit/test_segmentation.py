"""Unit tests for customer_analytics.segmentation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_limits

from customer_analytics import segmentation
from customer_analytics.features import build_feature_matrix
from customer_analytics.segmentation import (
    SCORE_COLUMNS,
    SEGMENT_COLUMNS,
    SegmentationResult,
    _choose_k,
    _elbow,
    label_column,
    structure_strength,
)

FEATURES = ["f0", "f1", "f2"]

#: Settings of these tests (the project's defaults live in dbt_project.yml only): the
#: lowest Davies-Bouldin with no tolerance, three restarts, a small bootstrap.
BASE_SETTINGS: dict[str, object] = {
    "segment_log_features": [],
    "segment_algorithm": "kmeans",
    "segment_k_min": 2,
    "segment_k_max": 10,
    "segment_selection_rule": "davies_bouldin",
    "segment_k_tolerance": 0.0,
    "segment_min_stability": 0.0,
    "segment_count": None,
    "segment_n_init": 3,
    "segment_fit_sample_size": 50_000,
    "silhouette_sample_size": 10_000,
    "segment_bootstrap_resamples": 3,
    "segment_bootstrap_sample_size": 1_000,
    "dbscan_eps": 0.5,
    "dbscan_min_samples": 5,
    "random_seed": 42,
}
_SHORT_NAMES = {
    "features": "segment_features",
    "algorithm": "segment_algorithm",
    "selection_rule": "segment_selection_rule",
    "k_min": "segment_k_min",
    "k_max": "segment_k_max",
    "n_segments": "segment_count",
    "n_init": "segment_n_init",
    "eps": "dbscan_eps",
    "min_samples": "dbscan_min_samples",
}


def run_segmentation(frame: pd.DataFrame, **overrides: object) -> SegmentationResult:
    """The package's run_segmentation with BASE_SETTINGS; short names map to var names."""
    settings = {**BASE_SETTINGS, **{_SHORT_NAMES.get(k, k): v for k, v in overrides.items()}}
    return segmentation.run_segmentation(frame, **settings)  # type: ignore[arg-type]


def score_segmentations(frame: pd.DataFrame, **overrides: object) -> pd.DataFrame:
    return run_segmentation(frame, **overrides).scores


def assign_segments(frame: pd.DataFrame, **overrides: object) -> pd.DataFrame:
    return run_segmentation(frame, **overrides).assignments


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """Small data: OpenMP/BLAS threads only add overhead, and spin when the CPU is busy."""
    with threadpool_limits(limits=1):
        yield


def blob_frame(
    n: int = 400, centers: int = 4, seed: int = 7, std: float = 0.6
) -> tuple[pd.DataFrame, np.ndarray]:
    """Well-separated blobs as a customer frame; returns the frame and the true labels."""
    x, truth = make_blobs(
        n_samples=n, n_features=3, centers=centers, cluster_std=std, random_state=seed
    )
    frame = pd.DataFrame(x, columns=FEATURES)
    frame.insert(0, "customer_id", [f"C{i:05d}" for i in range(n)])
    return frame, truth


def frame_from(x: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(x, dtype=float), columns=[f"f{j}" for j in range(x.shape[1])])
    frame.insert(0, "customer_id", [f"C{i:05d}" for i in range(x.shape[0])])
    return frame


# ----------------------------------------------------------------------------- scores


def test_score_frame_shape_and_planted_k():
    frame, _ = blob_frame()
    scores = score_segmentations(frame, features=FEATURES)
    assert tuple(scores.columns) == SCORE_COLUMNS
    assert scores["k"].tolist() == list(range(2, 11))
    assert scores["is_chosen"].sum() == 1
    assert scores.loc[scores["is_chosen"], "k"].item() == 4
    assert (scores["algorithm"] == "kmeans").all()
    assert (scores["selection_rule"] == "davies_bouldin").all()
    assert (
        scores[["davies_bouldin", "silhouette", "calinski_harabasz", "inertia"]].notna().all().all()
    )
    assert scores["inertia"].is_monotonic_decreasing


@pytest.mark.parametrize("rule", ["davies_bouldin", "silhouette", "calinski_harabasz", "elbow"])
def test_every_rule_finds_planted_clusters(rule):
    frame, _ = blob_frame()
    scores = score_segmentations(frame, features=FEATURES, selection_rule=rule)
    assert scores.loc[scores["is_chosen"], "k"].item() == 4
    assert (scores["selection_rule"] == rule).all()


def test_kmeans_inertia_matches_sklearn():
    frame, _ = blob_frame()
    scores = score_segmentations(frame, features=FEATURES, k_min=3, k_max=3)
    x = build_feature_matrix(frame, FEATURES).matrix
    expected = KMeans(n_clusters=3, n_init=3, random_state=42).fit(x).inertia_
    assert scores["inertia"].item() == pytest.approx(expected, rel=1e-6)


def test_silhouette_uses_a_fixed_sample_when_customers_are_many():
    frame, _ = blob_frame(n=600, std=1.5)
    sampled = score_segmentations(frame, features=FEATURES, silhouette_sample_size=200)
    again = score_segmentations(frame, features=FEATURES, silhouette_sample_size=200)
    full = score_segmentations(frame, features=FEATURES)
    pd.testing.assert_frame_equal(sampled, again)
    assert not np.allclose(sampled["silhouette"], full["silhouette"])
    np.testing.assert_allclose(sampled["silhouette"], full["silhouette"], atol=0.1)
    x = build_feature_matrix(frame, FEATURES).matrix
    labels = KMeans(n_clusters=4, n_init=3, random_state=42).fit_predict(x)
    assert full.loc[full["k"] == 4, "silhouette"].item() == pytest.approx(
        silhouette_score(x, labels)
    )


def test_choose_k_ties_go_to_smaller_k_and_nan_is_skipped():
    frame = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "davies_bouldin": [0.9, 0.5, 0.5 + 1e-13, np.nan],
            "silhouette": [np.nan, 0.3, 0.7, 0.7],
            "calinski_harabasz": [np.nan] * 4,
            "inertia": [10.0, 5.0, 4.0, 3.0],
        }
    )
    assert _choose_k(frame, "davies_bouldin", 0.0) == 3
    assert _choose_k(frame, "silhouette", 0.0) == 4
    assert _choose_k(frame, "calinski_harabasz", 0.0) == 2  # all NaN: smallest k


def test_elbow_is_max_distance_below_the_chord():
    ks = np.arange(2, 11)
    inertia = np.array([100.0, 40.0, 15.0, 12.0, 10.0, 8.5, 7.0, 6.0, 5.0])
    assert _elbow(ks, inertia) == 4
    assert _elbow(ks[:2], inertia[:2]) == 2  # fewer than three points
    assert _elbow(ks, np.full(9, 3.0)) == 2  # flat
    assert _elbow(ks, np.linspace(100, 0, 9)) == 2  # straight line: no knee


def test_fixed_n_segments_bypasses_the_rule_but_keeps_the_sweep():
    frame, _ = blob_frame()
    scores = score_segmentations(frame, features=FEATURES, n_segments=6)
    assert scores["k"].tolist() == list(range(2, 11))
    assert scores.loc[scores["is_chosen"], "k"].item() == 6
    assert (scores["selection_rule"] == "fixed").all()
    outside = score_segmentations(frame, features=FEATURES, n_segments=12)
    assert outside["k"].tolist() == [*range(2, 11), 12]
    assert outside.loc[outside["is_chosen"], "k"].item() == 12
    segments = assign_segments(frame, features=FEATURES, n_segments=6)
    assert sorted(segments["segment_id"].unique()) == list(range(6))


# ----------------------------------------------------------------------------- assignments


def test_assignments_recover_planted_clusters():
    frame, truth = blob_frame()
    segments = assign_segments(frame, features=FEATURES)
    assert tuple(segments.columns) == SEGMENT_COLUMNS
    assert segments["customer_id"].tolist() == frame["customer_id"].tolist()
    assert segments["segment_id"].dtype == np.int64
    assert adjusted_rand_score(truth, segments["segment_id"]) == pytest.approx(1.0)


def test_segment_ids_ordered_by_size():
    x, _ = make_blobs(n_samples=[300, 50, 150], n_features=2, cluster_std=0.4, random_state=1)
    segments = assign_segments(frame_from(x), features=["f0", "f1"], n_segments=3)
    sizes = segments["segment_id"].value_counts().sort_index().tolist()
    assert sizes == [300, 150, 50]


def test_distance_to_centre_is_euclidean_to_segment_mean():
    frame, _ = blob_frame()
    segments = assign_segments(frame, features=FEATURES)
    x = build_feature_matrix(frame, FEATURES).matrix
    labels = segments["segment_id"].to_numpy()
    for s in np.unique(labels):
        members = x[labels == s]
        expected = np.linalg.norm(members - members.mean(axis=0), axis=1)
        np.testing.assert_allclose(segments.loc[labels == s, "distance_to_centre"], expected)


def test_pca_columns():
    frame, _ = blob_frame()
    segments = assign_segments(frame, features=FEATURES)
    r1 = segments["pca_1_explained_variance_ratio"]
    r2 = segments["pca_2_explained_variance_ratio"]
    assert (r1 == r1.iloc[0]).all()
    assert (r2 == r2.iloc[0]).all()
    assert 0 < r2.iloc[0] <= r1.iloc[0] <= 1
    assert r1.iloc[0] + r2.iloc[0] <= 1 + 1e-12
    assert segments["pca_1"].var() >= segments["pca_2"].var() > 0


def test_single_feature_has_zero_second_component():
    frame, _ = blob_frame()
    segments = assign_segments(frame, features=["f0"])
    assert (segments["pca_2"] == 0).all()
    assert (segments["pca_2_explained_variance_ratio"] == 0).all()
    assert segments["pca_1_explained_variance_ratio"].iloc[0] == pytest.approx(1.0)


def test_same_input_same_output_and_row_order_independent():
    frame, _ = blob_frame(std=1.2)
    first = run_segmentation(frame, features=FEATURES)
    second = run_segmentation(frame, features=FEATURES)
    shuffled = run_segmentation(frame.sample(frac=1.0, random_state=11), features=FEATURES)
    pd.testing.assert_frame_equal(first.sweep, second.sweep)
    pd.testing.assert_frame_equal(first.scores, second.scores)
    pd.testing.assert_frame_equal(first.assignments, second.assignments)
    pd.testing.assert_frame_equal(first.scores, shuffled.scores)
    pd.testing.assert_frame_equal(first.assignments, shuffled.assignments)


def test_assign_uses_the_k_that_scores_choose():
    frame, _ = blob_frame(std=1.5, centers=5)
    result = run_segmentation(frame, features=FEATURES, selection_rule="silhouette")
    chosen = result.scores.loc[result.scores["is_chosen"], "k"].item()
    segments = assign_segments(frame, features=FEATURES, selection_rule="silhouette")
    assert segments["segment_id"].nunique() == chosen
    pd.testing.assert_frame_equal(segments, result.assignments)


# ----------------------------------------------------------------------------- algorithms


@pytest.mark.parametrize("algorithm", ["agglomerative", "gaussian_mixture"])
def test_other_algorithms_find_planted_clusters(algorithm):
    frame, truth = blob_frame()
    result = run_segmentation(frame, features=FEATURES, algorithm=algorithm)
    assert (result.scores["algorithm"] == algorithm).all()
    assert result.scores.loc[result.scores["is_chosen"], "k"].item() == 4
    assert (result.assignments["algorithm"] == algorithm).all()
    assert adjusted_rand_score(truth, result.assignments["segment_id"]) == pytest.approx(1.0)


def test_agglomerative_above_the_limit_fits_a_sample_and_assigns_the_rest(monkeypatch):
    frame, truth = blob_frame(n=500)
    monkeypatch.setattr(segmentation, "MAX_AGGLOMERATIVE_CUSTOMERS", 120)
    result = run_segmentation(frame, features=FEATURES, algorithm="agglomerative")
    assert result.scores.loc[result.scores["is_chosen"], "k"].item() == 4
    assert adjusted_rand_score(truth, result.assignments["segment_id"]) == pytest.approx(1.0)
    again = run_segmentation(frame, features=FEATURES, algorithm="agglomerative")
    pd.testing.assert_frame_equal(result.assignments, again.assignments)


def test_dbscan_keeps_noise_out_of_segments():
    frame, truth = blob_frame(n=300, centers=3, std=0.3)
    outliers = frame_from(np.array([[40.0, 40.0, 40.0], [-40.0, 40.0, -40.0]]))
    outliers["customer_id"] = ["Z1", "Z2"]
    result = run_segmentation(
        pd.concat([frame, outliers], ignore_index=True),
        features=FEATURES,
        algorithm="dbscan",
        eps=0.5,
        min_samples=5,
    )
    assert len(result.scores) == 1
    row = result.scores.iloc[0]
    assert row["k"] == 3
    assert bool(row["is_chosen"])
    assert row["selection_rule"] == "dbscan"
    assert np.isfinite(row["silhouette"])
    segments = result.assignments.set_index("customer_id")
    assert (segments.loc[["Z1", "Z2"], "segment_id"] == -1).all()
    assert segments.loc[["Z1", "Z2"], "distance_to_centre"].isna().all()
    inliers = segments.drop(index=["Z1", "Z2"])
    assert adjusted_rand_score(truth, inliers["segment_id"]) == pytest.approx(1.0)
    assert inliers["distance_to_centre"].notna().all()


def test_dbscan_all_noise_gives_zero_segments():
    frame, _ = blob_frame(n=50)
    result = run_segmentation(frame, features=FEATURES, algorithm="dbscan", eps=1e-6, min_samples=3)
    assert result.scores["k"].tolist() == [0]
    assert (result.assignments["segment_id"] == -1).all()


# ----------------------------------------------------------------------------- degenerate


@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_customers_give_a_single_segment(n):
    frame = frame_from(np.arange(n * 2, dtype=float).reshape(n, 2))
    result = run_segmentation(frame, features=["f0", "f1"])
    assert result.scores["k"].tolist() == [1]
    assert result.scores["selection_rule"].tolist() == ["single_segment"]
    assert result.scores["is_chosen"].tolist() == [True]
    assert result.scores[["davies_bouldin", "silhouette", "calinski_harabasz"]].isna().all().all()
    assert (result.assignments["segment_id"] == 0).all()
    assert len(result.assignments) == n
    assert np.isfinite(result.assignments[["pca_1", "pca_2", "distance_to_centre"]]).all().all()


def test_identical_customers_give_a_single_segment():
    frame = frame_from(np.tile([[1.0, 2.0, 3.0]], (20, 1)))
    result = run_segmentation(frame, features=FEATURES)
    assert result.scores["k"].tolist() == [1]
    assert result.scores["inertia"].tolist() == [0.0]
    assert (result.assignments["segment_id"] == 0).all()
    assert (result.assignments["distance_to_centre"] == 0).all()
    assert (result.assignments[["pca_1", "pca_2"]] == 0).all().all()
    with pytest.raises(ValueError, match="segment_count=2 is not possible"):
        assign_segments(frame, features=FEATURES, n_segments=2)
    assert (assign_segments(frame, features=FEATURES, n_segments=1)["segment_id"] == 0).all()


def test_fewer_customers_than_k_drops_infeasible_k():
    frame, _ = blob_frame(n=5)
    scores = score_segmentations(frame, features=FEATURES)
    assert scores["k"].tolist() == [2, 3, 4]
    assert scores["is_chosen"].sum() == 1
    with pytest.raises(ValueError, match="segment_count=5 is not possible"):
        score_segmentations(frame, features=FEATURES, n_segments=5)


def test_few_distinct_customers_cap_k():
    x = np.repeat(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]), 10, axis=0)
    result = run_segmentation(frame_from(x), features=["f0", "f1"])
    assert result.scores["k"].tolist() == [2, 3]
    assert result.scores.loc[result.scores["is_chosen"], "k"].item() == 3
    np.testing.assert_allclose(result.assignments["distance_to_centre"], 0.0, atol=1e-12)


def test_zero_variance_feature_has_no_effect():
    frame, _ = blob_frame()
    with_constant = frame.assign(constant=7.5)
    a = run_segmentation(frame, features=FEATURES, k_max=6)
    b = run_segmentation(with_constant, features=[*FEATURES, "constant"], k_max=6)
    # Same geometry; only floating-point summation order may differ, so compare closely.
    pd.testing.assert_frame_equal(a.scores, b.scores, rtol=1e-9)
    pd.testing.assert_series_equal(a.assignments["segment_id"], b.assignments["segment_id"])
    assert np.isfinite(b.assignments.select_dtypes("number")).all().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "spectral"}, "unknown segment_algorithm"),
        ({"selection_rule": "gap"}, "unknown segment_selection_rule"),
        ({"segment_k_tolerance": 1.5}, "segment_k_tolerance"),
        ({"segment_bootstrap_resamples": 0}, "segment_bootstrap_resamples"),
        ({"k_min": 1}, "k_min"),
        ({"k_min": 5, "k_max": 4}, "k_min"),
        ({"algorithm": "dbscan", "n_segments": 3}, "dbscan"),
        ({"n_segments": 0}, "segment_count"),
        ({"n_init": 0}, "n_init"),
        ({"eps": 0.0}, "eps"),
    ],
)
def test_invalid_settings(kwargs, message):
    frame, _ = blob_frame(n=30)
    with pytest.raises(ValueError, match=message):
        run_segmentation(frame, features=FEATURES, **kwargs)


# ----------------------------------------------------------------------------- sweep, quality


def test_tolerance_prefers_fewer_segments_within_the_margin():
    frame = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "davies_bouldin": [1.10, 1.04, 1.00, 1.30],
            "silhouette": [0.30, 0.40, 0.41, 0.20],
            "calinski_harabasz": [np.nan] * 4,
            "inertia": [10.0, 5.0, 4.0, 3.0],
        }
    )
    assert _choose_k(frame, "davies_bouldin", 0.0) == 4
    assert _choose_k(frame, "davies_bouldin", 0.05) == 3  # 1.04 <= 1.00 * 1.05
    assert _choose_k(frame, "davies_bouldin", 0.10) == 2
    assert _choose_k(frame, "silhouette", 0.0) == 4
    assert _choose_k(frame, "silhouette", 0.03) == 3  # 0.40 >= 0.41 * 0.97


def test_each_k_is_fitted_once_and_assignments_reuse_the_sweep(monkeypatch):
    frame, _ = blob_frame()
    fitted: list[int] = []
    original = segmentation._Labeller.labels

    def counting(self: segmentation._Labeller, k: int) -> np.ndarray:
        fitted.append(k)
        return original(self, k)

    monkeypatch.setattr(segmentation._Labeller, "labels", counting)
    result = run_segmentation(frame, features=FEATURES)
    chosen = result.scores.loc[result.scores["is_chosen"], "k"].item()
    # the sweep fits every k once; after it, only the bootstrap refits the chosen k on
    # each resample -- the assignments refit nothing
    resamples = BASE_SETTINGS["segment_bootstrap_resamples"]
    assert fitted == [*range(2, 11), *[chosen] * resamples]
    np.testing.assert_array_equal(
        result.assignments["segment_id"], result.sweep[label_column(chosen)]
    )


def test_scores_come_from_the_stored_labels():
    frame, _ = blob_frame()
    result = run_segmentation(frame, features=FEATURES)
    tampered = result.sweep.copy()
    tampered[label_column(4)] = np.arange(len(frame)) % 4  # meaningless labels for k = 4
    settings = {
        name: value
        for name, value in BASE_SETTINGS.items()
        if name
        not in {
            "segment_k_min",
            "segment_k_max",
            "segment_fit_sample_size",
            "dbscan_eps",
            "dbscan_min_samples",
        }
    }
    scores = segmentation.score_segmentations(
        frame, tampered.sample(frac=1.0, random_state=3), segment_features=FEATURES, **settings
    )
    assert scores.loc[scores["k"] == 4, "silhouette"].item() < 0.05
    assert scores.loc[scores["is_chosen"], "k"].item() != 4


def test_bootstrap_stability_is_high_for_real_clusters_and_low_for_noise():
    frame, _ = blob_frame(n=300)
    clear = run_segmentation(frame, features=FEATURES, segment_bootstrap_resamples=5).scores
    row = clear[clear["is_chosen"]].iloc[0]
    assert row["bootstrap_stability"] == pytest.approx(1.0)
    assert row["bootstrap_resamples"] == 5
    assert row["bootstrap_sample_size"] == 300
    assert row["structure_strength"] == "well separated"
    assert clear.loc[~clear["is_chosen"], "bootstrap_stability"].isna().all()
    noise = frame_from(np.random.default_rng(0).uniform(size=(300, 3)))
    vague = run_segmentation(
        noise, features=FEATURES, n_segments=7, segment_bootstrap_resamples=5
    ).scores
    row = vague[vague["is_chosen"]].iloc[0]
    assert row["bootstrap_stability"] < 0.9
    assert row["structure_strength"] == "weak structure"
    again = run_segmentation(
        noise, features=FEATURES, n_segments=7, segment_bootstrap_resamples=5
    ).scores
    pd.testing.assert_frame_equal(vague, again)


def test_bootstrap_is_sampled_at_scale():
    frame, _ = blob_frame(n=600)
    scores = run_segmentation(
        frame, features=FEATURES, segment_bootstrap_sample_size=150, segment_bootstrap_resamples=2
    ).scores
    assert scores.loc[scores["is_chosen"], "bootstrap_sample_size"].item() == 150


@pytest.mark.parametrize(
    ("silhouette", "stability", "expected"),
    [
        (0.7, 0.95, "well separated"),
        (0.7, 0.85, "moderate structure"),
        (0.4, 0.85, "moderate structure"),
        (0.4, 0.70, "weak structure"),
        (0.2, 0.99, "weak structure"),
        (0.6, np.nan, "well separated"),
        (np.nan, np.nan, "single segment"),
    ],
)
def test_structure_strength_bands(silhouette, stability, expected):
    assert structure_strength(silhouette, stability) == expected


def test_progress_reports_every_k():
    frame, _ = blob_frame(n=100)
    lines: list[str] = []
    run_segmentation(frame, features=FEATURES, k_max=4, progress=lines.append)
    assert [line for line in lines if "fitted" in line] == [
        line for line in lines if line.startswith("segmentation sweep: k=")
    ]
    assert sum("k=" in line and "fitted on 100 customers" in line for line in lines) == 3


@pytest.mark.parametrize("algorithm", ["kmeans", "gaussian_mixture", "agglomerative"])
def test_above_the_fit_sample_size_a_sample_is_fitted_and_everyone_assigned(monkeypatch, algorithm):
    frame, truth = blob_frame(n=600)
    fits: list[int] = []
    real_fit = segmentation.KMeans.fit

    def counting_fit(self, x, *args, **kwargs):
        fits.append(x.shape[0])
        return real_fit(self, x, *args, **kwargs)

    monkeypatch.setattr(segmentation.KMeans, "fit", counting_fit)
    settings = {"features": FEATURES, "algorithm": algorithm, "segment_fit_sample_size": 150}
    result = run_segmentation(frame, segment_bootstrap_resamples=1, **settings)
    assert result.scores.loc[result.scores["is_chosen"], "k"].item() == 4
    assert adjusted_rand_score(truth, result.assignments["segment_id"]) == pytest.approx(1.0)
    if algorithm == "kmeans":
        # the sweep fits 150 rows per k (never all 600); the bootstrap fits its resample
        sweep_fits = fits[: 10 - 2 + 1]
        assert sweep_fits == [150] * 9
    # every customer is assigned to the nearest mean of its segment's sample members
    x = build_feature_matrix(frame, FEATURES).matrix
    labels = result.assignments["segment_id"].to_numpy()
    means = np.vstack([x[labels == s].mean(axis=0) for s in range(4)])
    nearest = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == labels).mean() == 1.0
    again = run_segmentation(frame, segment_bootstrap_resamples=1, **settings)
    pd.testing.assert_frame_equal(result.sweep, again.sweep)
    pd.testing.assert_frame_equal(result.scores, again.scores)


def test_pca_is_fitted_on_the_sample_and_projects_everyone():
    frame, _ = blob_frame(n=600)
    sweep = run_segmentation(
        frame, features=FEATURES, segment_fit_sample_size=200, segment_bootstrap_resamples=1
    ).sweep
    x = build_feature_matrix(frame, FEATURES).matrix
    rows = np.sort(np.random.default_rng(42).choice(600, size=200, replace=False))
    pca = PCA(n_components=2, random_state=0).fit(x[rows])
    expected = pca.transform(x)
    np.testing.assert_allclose(sweep[["pca_1", "pca_2"]].to_numpy(), expected, rtol=0, atol=1e-12)
    assert sweep["pca_1_explained_variance_ratio"].iloc[0] == pca.explained_variance_ratio_[0]


def test_min_stability_keeps_a_stable_choice_and_measures_only_it():
    frame, _ = blob_frame(n=300)
    plain = run_segmentation(frame, features=FEATURES, segment_bootstrap_resamples=3)
    gated = run_segmentation(
        frame, features=FEATURES, segment_bootstrap_resamples=3, segment_min_stability=0.9
    )
    pd.testing.assert_frame_equal(plain.scores, gated.scores)
    assert gated.scores.loc[gated.scores["is_chosen"], "k"].item() == 4
    assert gated.scores["bootstrap_stability"].notna().sum() == 1


def test_min_stability_tries_every_k_then_gives_one_segment():
    noise = frame_from(np.random.default_rng(0).uniform(size=(300, 3)))
    result = run_segmentation(
        noise, features=FEATURES, k_max=5, segment_bootstrap_resamples=3, segment_min_stability=0.99
    )
    scores = result.scores
    assert scores["k"].tolist() == [1, 2, 3, 4, 5]
    chosen = scores[scores["is_chosen"]].iloc[0]
    assert chosen["k"] == 1
    assert chosen["selection_rule"] == "no_stable_segments"
    assert chosen["structure_strength"] == "no stable segments"
    assert np.isnan(chosen["silhouette"])
    assert np.isnan(chosen["bootstrap_stability"])
    x = build_feature_matrix(noise, FEATURES).matrix
    assert chosen["inertia"] == pytest.approx(((x - x.mean(axis=0)) ** 2).sum(), rel=1e-12)
    tried = scores[scores["k"] >= 2]
    assert (tried["bootstrap_stability"] < 0.99).all()
    assert (tried["bootstrap_resamples"] == 3).all()
    assert result.assignments["segment_id"].eq(0).all()
    distance = np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=1))
    np.testing.assert_allclose(result.assignments["distance_to_centre"], distance, rtol=1e-12)


def test_min_stability_takes_the_best_scoring_stable_k(monkeypatch):
    frame, _ = blob_frame(n=300)
    settings = {"features": FEATURES, "segment_bootstrap_resamples": 3}
    scores = run_segmentation(frame, **settings).scores
    order = segmentation._preference_order(
        scores, "davies_bouldin", int(scores.loc[scores["is_chosen"], "k"].item())
    )
    # the two best-scoring k are made unstable: the third in the rule's order wins
    planted = {k: (0.5 if k in order[:2] else 0.95) for k in order}
    tried: list[int] = []

    def fake_stability(x, labels, k, **_: object) -> float:
        tried.append(k)
        return planted[k]

    monkeypatch.setattr(segmentation, "_bootstrap_stability", fake_stability)
    gated = run_segmentation(frame, segment_min_stability=0.9, **settings).scores
    assert gated.loc[gated["is_chosen"], "k"].item() == order[2]
    assert tried == order[:3]
    assert gated.set_index("k")["bootstrap_stability"].dropna().to_dict() == {
        k: planted[k] for k in order[:3]
    }


def test_preference_order_is_the_rule_choice_then_best_scores():
    frame = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "davies_bouldin": [0.9, 0.5, np.nan, 0.5],
            "silhouette": [0.1, 0.4, 0.3, np.nan],
            "calinski_harabasz": [1.0, 2.0, 3.0, 4.0],
            "inertia": [4.0, 3.0, 2.0, 1.0],
        }
    )
    assert segmentation._preference_order(frame, "davies_bouldin", 3) == [3, 5, 2, 4]
    assert segmentation._preference_order(frame, "davies_bouldin", 2) == [2, 3, 5, 4]
    assert segmentation._preference_order(frame, "silhouette", 3) == [3, 4, 2, 5]
    assert segmentation._preference_order(frame, "elbow", 4) == [4, 2, 3, 5]
