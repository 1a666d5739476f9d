"""Turn the ``customer_features`` mart into a standardized numeric matrix.

Everything downstream (segmentation, lookalikes) works on the output of
:func:`build_feature_matrix`: a float64 matrix with one row per customer, rows in
ascending ``customer_id`` order, so that no result ever depends on the order in which the
warehouse happened to return the rows.

Feature specs
-------------
A feature spec is a sequence of column names. An entry may be a glob pattern
(``"spend_share_*"``; ``*`` matches any run of characters and ``?`` one character, as in
the ``segment_features`` macro that resolves the same spec in SQL) that is expanded
against the frame's columns in the frame's column order. An entry that is also an exact
column name is taken literally. A column named twice (for example explicitly and through a
pattern) is used once, at its first position. An unknown name, or a pattern that matches
nothing, raises :class:`ValueError` naming it.

Column types
------------
* numeric and boolean columns are used as they are (booleans as 0/1);
* string / categorical columns (``region``) are one-hot encoded, one column per category
  in sorted order, named ``"<column>=<category>"``;
* date and datetime columns are rejected (use ``tenure_days`` / ``recency_days``).

Log scaling, standardization, pattern weights
---------------------------------------------
Columns named in ``log_features`` (exact names or patterns, resolved like ``features``;
they must be features and must not be negative) are replaced by ``log1p(value)`` first,
so a few big spenders do not stretch a money or count axis.

Every resolved column, one-hot columns included, is then standardized with scikit-learn's
``StandardScaler`` (mean 0, population standard deviation 1). A zero-variance column
(every customer has the same value) is left with scale 1 by ``StandardScaler``, so after
centring it is a column of exact zeros: it never produces NaN or inf and contributes
nothing to distances or similarities.

With ``weigh_patterns=True`` every entry of the feature spec carries the weight of one
feature: the ``m`` columns a pattern expands to (``spend_share_*``: shares that sum to 1)
are each multiplied by ``1 / sqrt(m)``, so together they add as much variance as one
column instead of ``m``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.preprocessing import StandardScaler

from customer_analytics.frames import column_names, read_columns

__all__ = [
    "BEHAVIOUR_FEATURES",
    "DEFAULT_SEGMENT_FEATURES",
    "ID_COLUMN",
    "FeatureMatrix",
    "build_feature_matrix",
    "resolve_feature_columns",
    "resolve_feature_entries",
]

ID_COLUMN = "customer_id"

#: Behaviour features: what a customer does (recency, frequency, monetary value, basket
#: shape, breadth, tenure) and where the money goes (one share per product category).
BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "recency_days",
    "transaction_count",
    "total_revenue",
    "average_transaction_value",
    "average_basket_size",
    "distinct_products",
    "tenure_days",
    "spend_share_*",
)

#: Default features for segmentation: behaviour only, so that segments describe how
#: customers buy, not where they live.
DEFAULT_SEGMENT_FEATURES: tuple[str, ...] = BEHAVIOUR_FEATURES

_GLOB_CHARS = frozenset("*?")


class FeatureMatrix(NamedTuple):
    """A standardized feature matrix and what its rows and columns are.

    ``customer_ids[i]`` is the customer of ``matrix[i]`` (ascending order) and
    ``feature_names[j]`` names ``matrix[:, j]`` (one-hot columns as ``"region=North"``).
    """

    customer_ids: np.ndarray
    matrix: np.ndarray
    feature_names: list[str]


def _is_pattern(name: str) -> bool:
    return any(char in _GLOB_CHARS for char in name)


def _matches(pattern: str, column: str) -> bool:
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, column) is not None


def resolve_feature_columns(columns: Sequence[str], features: Sequence[str]) -> list[str]:
    """Expand a feature spec against ``columns``; see the module docstring for the rules.

    >>> resolve_feature_columns(["a", "s_x", "s_y"], ["s_*", "a"])
    ['s_x', 's_y', 'a']
    """
    return [column for _, column in resolve_feature_entries(columns, features)]


def read_feature_columns(relation: object, features: Sequence[str]) -> pa.Table:
    """``customer_id`` and the columns ``features`` names (patterns expanded) of the feature
    mart (Arrow table, DuckDB relation or Spark DataFrame) as one Arrow table: a model reads
    the 8 columns it clusters on, not all 18 of a million rows."""
    wanted = resolve_feature_columns(column_names(relation), features)
    return read_columns(relation, [ID_COLUMN, *wanted], "customer_features")


def resolve_feature_entries(
    columns: Sequence[str], features: Sequence[str]
) -> list[tuple[int, str]]:
    """Like :func:`resolve_feature_columns`, with the index of the spec entry that brought
    in each column (its first mention)."""
    if isinstance(features, str):
        raise TypeError("features must be a sequence of column names, not a single string")
    available = [str(column) for column in columns]
    known = set(available)
    resolved: list[tuple[int, str]] = []
    seen: set[str] = set()
    for position, entry in enumerate(features):
        if entry in known:
            matches = [entry]
        elif _is_pattern(entry):
            matches = [column for column in available if _matches(entry, column)]
            if not matches:
                raise ValueError(f"feature pattern {entry!r} matches no column")
        else:
            raise ValueError(f"unknown feature column {entry!r}")
        for column in matches:
            if column not in seen:
                seen.add(column)
                resolved.append((position, column))
    if not resolved:
        raise ValueError("the feature list is empty")
    return resolved


def _first_bad_id(ids: np.ndarray, bad: np.ndarray) -> object:
    return ids[np.flatnonzero(bad)[0]]


def _is_categorical(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(series):
        return True
    if series.dtype == object:
        values = series.dropna()
        return bool(values.map(lambda value: isinstance(value, str)).all())
    return False


def _encode_column(name: str, series: pd.Series, ids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Return the numeric block (n x m) and the names for one resolved column."""
    missing = series.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"feature column {name!r} has missing values "
            f"(first customer_id: {_first_bad_id(ids, missing)!r})"
        )
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=np.float64).reshape(-1, 1), [name]
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        raise ValueError(f"feature column {name!r} is a date/time column; use a numeric one")
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValueError(
                f"feature column {name!r} has non-finite values "
                f"(first customer_id: {_first_bad_id(ids, bad)!r})"
            )
        return values.reshape(-1, 1), [name]
    if _is_categorical(series):
        values = series.astype(str).to_numpy()
        categories = np.unique(values)  # sorted
        block = (values[:, None] == categories[None, :]).astype(np.float64)
        return block, [f"{name}={category}" for category in categories]
    raise ValueError(f"feature column {name!r} has unsupported dtype {series.dtype}")


def build_feature_matrix(
    customer_features: pd.DataFrame | pa.Table,
    features: Sequence[str] = DEFAULT_SEGMENT_FEATURES,
    *,
    id_column: str = ID_COLUMN,
    standardize: bool = True,
    log_features: Sequence[str] = (),
    weigh_patterns: bool = False,
) -> FeatureMatrix:
    """Resolve ``features`` in ``customer_features`` and return the standardized matrix.

    ``customer_features`` is a pandas frame or an Arrow table; from an Arrow table only the
    id and the feature columns are converted. Rows are sorted by ``id_column`` ascending
    (customer ids must be present and unique), so the result does not depend on the input
    row order. With ``standardize=False`` the raw (one-hot encoded, log-scaled) values are
    returned instead. ``log_features`` and ``weigh_patterns``: see the module docstring.

    Raises ``ValueError`` for an empty frame, a missing/duplicated/null id, an unknown
    feature or pattern, a negative value in a log-scaled column, and for a missing or
    non-finite value (naming the column and the first offending customer id in ascending
    id order).
    """
    available = list(
        customer_features.column_names
        if isinstance(customer_features, pa.Table)
        else customer_features.columns
    )
    if id_column not in available:
        raise ValueError(f"the frame has no {id_column!r} column")
    entries = resolve_feature_entries(available, features)
    columns = [column for _, column in entries]
    if id_column in columns:
        raise ValueError(f"{id_column!r} cannot be a feature")
    logged = set(resolve_feature_columns(available, log_features)) if log_features else set()
    if not logged <= set(columns):
        raise ValueError(
            f"log-scaled columns that are not features: {sorted(logged - set(columns))}"
        )
    if isinstance(customer_features, pa.Table):
        customer_features = customer_features.select([id_column, *columns]).to_pandas()
    if len(customer_features) == 0:
        raise ValueError("the frame has no customers")
    id_series = customer_features[id_column]
    if id_series.isna().any():
        raise ValueError(f"{id_column!r} has missing values")
    order = np.argsort(id_series.to_numpy(), kind="stable")
    ids = id_series.to_numpy()[order]
    # sorted, so a duplicate sits next to its twin; the first one is the smallest
    duplicated = ids[1:] == ids[:-1]
    if duplicated.any():
        first = ids[1:][duplicated][0]
        raise ValueError(f"{id_column!r} is not unique (first duplicate: {first!r})")
    entry_sizes = np.bincount([position for position, _ in entries])
    blocks: list[np.ndarray] = []
    names: list[str] = []
    weights: list[float] = []
    for position, column in entries:
        series = customer_features[column].iloc[order].reset_index(drop=True)
        block, block_names = _encode_column(column, series, ids)
        if column in logged:
            negative = block[:, 0] < 0
            if negative.any():
                raise ValueError(
                    f"log-scaled feature column {column!r} has negative values "
                    f"(first customer_id: {_first_bad_id(ids, negative)!r})"
                )
            block = np.log1p(block)
        blocks.append(block)
        names.extend(block_names)
        weight = 1.0 / np.sqrt(entry_sizes[position]) if weigh_patterns else 1.0
        weights.extend([weight] * block.shape[1])
    matrix = np.hstack(blocks).astype(np.float64, copy=False)
    if standardize:
        matrix = StandardScaler().fit_transform(matrix)
        # Zero-variance columns are exactly zero after centring (scale_ is 1 for them);
        # make that exact even if the mean had a rounding error.
        constant = np.ptp(matrix, axis=0) == 0
        matrix[:, constant] = 0.0
    if weigh_patterns:
        matrix *= np.asarray(weights)
    return FeatureMatrix(customer_ids=ids, matrix=np.ascontiguousarray(matrix), feature_names=names)
