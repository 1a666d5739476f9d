"""Unit tests for customer_analytics.features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from customer_analytics.features import (
    BEHAVIOUR_FEATURES,
    DEFAULT_SEGMENT_FEATURES,
    build_feature_matrix,
    read_feature_columns,
    resolve_feature_columns,
)

#: Region one-hot and tenure first, then the behaviour list (tenure not repeated).
PROFILE_AND_BEHAVIOUR = (
    "region",
    "tenure_days",
    *(name for name in BEHAVIOUR_FEATURES if name != "tenure_days"),
)


def customer_features(n: int = 8, seed: int = 0) -> pd.DataFrame:
    """A small frame shaped like the customer_features mart."""
    rng = np.random.default_rng(seed)
    count = rng.integers(0, 6, n)
    has = count > 0
    revenue = np.where(has, rng.gamma(2.0, 50.0, n), 0.0)
    shares = rng.dirichlet(np.ones(3), n) * has[:, None]
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "region": rng.choice(["North", "South", "East", "West"], n),
            "signup_date": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in range(n)],
            "tenure_days": rng.integers(30, 900, n),
            "recency_days": np.where(has, rng.integers(0, 300, n), 0),
            "transaction_count": count,
            "total_revenue": revenue,
            "total_quantity": count * 2,
            "average_transaction_value": np.where(has, revenue / np.maximum(count, 1), 0.0),
            "average_basket_size": np.where(has, 2.0, 0.0),
            "distinct_products": count,
            "distinct_categories": np.minimum(count, 3),
            "spend_share_books": shares[:, 0],
            "spend_share_electronics": shares[:, 1],
            "spend_share_home_decor": shares[:, 2],
            "has_purchases": has,
        }
    )


def test_resolve_patterns_in_frame_order_and_deduplicated():
    columns = ["customer_id", "b", "spend_share_x", "a", "spend_share_y"]
    assert resolve_feature_columns(columns, ["a", "spend_share_*", "spend_share_x"]) == [
        "a",
        "spend_share_x",
        "spend_share_y",
    ]


def test_resolve_exact_name_wins_over_pattern_syntax():
    columns = ["customer_id", "weird[1]", "w"]
    assert resolve_feature_columns(columns, ["weird[1]"]) == ["weird[1]"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["nope"], "unknown feature column 'nope'"),
        (["missing_*"], "pattern 'missing_\\*' matches no column"),
        ([], "empty"),
    ],
)
def test_resolve_errors_name_the_entry(spec, message):
    with pytest.raises(ValueError, match=message):
        resolve_feature_columns(["a", "b"], spec)


def test_default_feature_lists_resolve_on_the_mart_shape():
    frame = customer_features()
    segment = build_feature_matrix(frame, DEFAULT_SEGMENT_FEATURES)
    assert segment.feature_names == [
        "recency_days",
        "transaction_count",
        "total_revenue",
        "average_transaction_value",
        "average_basket_size",
        "distinct_products",
        "tenure_days",
        "spend_share_books",
        "spend_share_electronics",
        "spend_share_home_decor",
    ]
    lookalike = build_feature_matrix(frame, PROFILE_AND_BEHAVIOUR)
    regions = sorted(frame["region"].unique())
    assert lookalike.feature_names[: len(regions)] == [f"region={r}" for r in regions]
    assert lookalike.feature_names[len(regions)] == "tenure_days"
    assert lookalike.feature_names.count("tenure_days") == 1
    assert set(segment.feature_names) <= set(lookalike.feature_names)


def test_matrix_is_standardized_float64_sorted_by_id():
    frame = customer_features(20)
    fm = build_feature_matrix(frame.sample(frac=1.0, random_state=3), ["total_revenue", "region"])
    assert fm.matrix.dtype == np.float64
    assert fm.matrix.shape == (20, 1 + frame["region"].nunique())
    assert list(fm.customer_ids) == sorted(frame["customer_id"])
    np.testing.assert_allclose(fm.matrix.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(fm.matrix.std(axis=0), 1.0)


def test_input_row_order_does_not_matter():
    frame = customer_features(30)
    a = build_feature_matrix(frame, PROFILE_AND_BEHAVIOUR)
    b = build_feature_matrix(frame.iloc[::-1], PROFILE_AND_BEHAVIOUR)
    np.testing.assert_array_equal(a.customer_ids, b.customer_ids)
    np.testing.assert_array_equal(a.matrix, b.matrix)


def test_one_hot_is_sorted_and_unstandardized_values_are_indicators():
    frame = pd.DataFrame({"customer_id": ["C2", "C1", "C3"], "region": ["West", "East", "West"]})
    fm = build_feature_matrix(frame, ["region"], standardize=False)
    assert fm.feature_names == ["region=East", "region=West"]
    np.testing.assert_array_equal(fm.matrix, [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])


def test_zero_variance_column_becomes_exact_zeros():
    frame = customer_features(10)
    frame["average_basket_size"] = 0.1
    fm = build_feature_matrix(frame, ["average_basket_size", "total_revenue"])
    assert np.all(fm.matrix[:, 0] == 0.0)
    assert np.isfinite(fm.matrix).all()


def test_bool_feature_is_numeric():
    fm = build_feature_matrix(customer_features(10), ["has_purchases"], standardize=False)
    assert set(np.unique(fm.matrix)) <= {0.0, 1.0}


def test_nan_names_column_and_first_customer_in_id_order():
    frame = customer_features(10)
    frame.loc[[7, 3], "total_revenue"] = np.nan
    with pytest.raises(ValueError, match=r"'total_revenue'.*'C0003'"):
        build_feature_matrix(frame.iloc[::-1], ["total_revenue"])


def test_nan_in_categorical_and_inf_are_rejected():
    frame = customer_features(5)
    frame.loc[2, "region"] = None
    with pytest.raises(ValueError, match=r"'region'.*'C0002'"):
        build_feature_matrix(frame, ["region"])
    frame = customer_features(5)
    frame.loc[4, "total_revenue"] = np.inf
    with pytest.raises(ValueError, match=r"non-finite.*'C0004'"):
        build_feature_matrix(frame, ["total_revenue"])


def test_invalid_frames_are_rejected():
    frame = customer_features(5)
    with pytest.raises(ValueError, match=r"date/time|unsupported"):
        build_feature_matrix(frame, ["signup_date"])
    with pytest.raises(ValueError, match="no customers"):
        build_feature_matrix(frame.iloc[:0], ["total_revenue"])
    with pytest.raises(ValueError, match="not unique"):
        build_feature_matrix(pd.concat([frame, frame.iloc[:1]]), ["total_revenue"])
    with pytest.raises(ValueError, match="no 'customer_id'"):
        build_feature_matrix(frame.drop(columns="customer_id"), ["total_revenue"])
    with pytest.raises(TypeError):
        build_feature_matrix(frame, "total_revenue")  # type: ignore[arg-type]


def test_datetime64_column_is_rejected():
    frame = customer_features(5)
    frame["signup_date"] = pd.to_datetime(frame["signup_date"])
    with pytest.raises(ValueError, match="date/time"):
        build_feature_matrix(frame, ["signup_date"])


def test_log_features_and_pattern_weights():
    frame = customer_features(n=40, seed=3)
    spec = ["total_revenue", "spend_share_*"]
    fm = build_feature_matrix(frame, spec, log_features=["total_revenue"], weigh_patterns=True)
    ordered = frame.sort_values("customer_id")
    revenue = np.log1p(ordered["total_revenue"].to_numpy())
    np.testing.assert_allclose(fm.matrix[:, 0], (revenue - revenue.mean()) / revenue.std())
    shares = ordered[["spend_share_books", "spend_share_electronics", "spend_share_home_decor"]]
    expected = (shares - shares.mean()) / shares.std(ddof=0) / np.sqrt(3)
    np.testing.assert_allclose(fm.matrix[:, 1:], expected.to_numpy())
    with pytest.raises(ValueError, match="not features"):
        build_feature_matrix(frame, ["total_revenue"], log_features=["tenure_days"])
    negative = frame.assign(total_revenue=-frame["total_revenue"] - 1)
    with pytest.raises(ValueError, match="negative"):
        build_feature_matrix(negative, ["total_revenue"], log_features=["total_revenue"])


def test_arrow_input_gives_the_same_matrix():
    import pyarrow as pa

    frame = customer_features(n=30, seed=5).sample(frac=1.0, random_state=2)
    spec = ["recency_days", "total_revenue", "spend_share_*"]
    from_pandas = build_feature_matrix(frame, spec, weigh_patterns=True)
    from_arrow = build_feature_matrix(pa.Table.from_pandas(frame), spec, weigh_patterns=True)
    np.testing.assert_array_equal(from_pandas.matrix, from_arrow.matrix)
    assert list(from_pandas.customer_ids) == list(from_arrow.customer_ids)


def test_read_feature_columns_reads_the_id_and_the_named_columns_only() -> None:
    table = pa.table(
        {
            "customer_id": ["C2", "C1"],
            "region": ["North", "South"],
            "spend_share_b": [0.5, 0.25],
            "recency_days": [3, 9],
            "spend_share_a": [0.5, 0.75],
        }
    )
    read = read_feature_columns(table, ["recency_days", "spend_share_*"])
    assert read.column_names == ["customer_id", "recency_days", "spend_share_b", "spend_share_a"]
    assert read.column("spend_share_a").to_pylist() == [0.5, 0.75]
    # the same matrix as from the whole table
    whole = build_feature_matrix(table, ["recency_days", "spend_share_*"])
    narrow = build_feature_matrix(read, ["recency_days", "spend_share_*"])
    np.testing.assert_array_equal(whole.matrix, narrow.matrix)
    assert whole.feature_names == narrow.feature_names
    with pytest.raises(ValueError, match="matches no column"):
        read_feature_columns(table, ["basket_*"])
