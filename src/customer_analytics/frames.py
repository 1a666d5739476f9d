"""What a dbt Python model's ``dbt.ref()`` returns, as pandas, the same on DuckDB and Spark.

dbt-duckdb hands a model a DuckDB relation (``.df()``); dbt-spark a Spark DataFrame (classic or
Spark Connect), which has no ``.df()``. :func:`to_pandas` gives the package one pandas frame
with the same columns and dtypes from both: DuckDB's own conversion, and on Spark the Arrow
batches (``DataFrame.toArrow``, no row-by-row collect) converted to DuckDB's conventions.

:func:`coded_columns` reads a large relation (the transactions) in Arrow batches and keeps only
compact numpy arrays (int32 codes of ids against a sorted id list, int32 day numbers, float64
values), so no table of millions of strings is held while a model runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "BATCH_ROWS",
    "arrow_batches",
    "arrow_columns",
    "arrow_to_pandas",
    "coded_columns",
    "column_names",
    "is_spark_frame",
    "read_columns",
    "sorted_ids",
    "to_arrow",
    "to_pandas",
]

BATCH_ROWS = 2_000_000
"""Rows :func:`coded_columns` codes at once: a few tens of MB of strings per batch, and few
enough batches that rebuilding the id lookup (a hash of every id, per batch) costs little."""


def is_spark_frame(relation: Any) -> bool:
    """True for a Spark DataFrame (classic or Spark Connect), without importing pyspark."""
    return any(
        cls.__module__.startswith("pyspark.") and cls.__name__ == "DataFrame"
        for cls in type(relation).__mro__
    )


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas the way DuckDB's ``.df()`` converts it.

    Dates and timestamps become ``datetime64[us]`` (time-zone-aware timestamps, which Spark
    returns for its session-local TIMESTAMP, in UTC without the zone); decimals become float64;
    integer and boolean columns holding nulls become pandas' nullable ``Int64``/``boolean``
    (not float64 / object).
    """
    frame = table.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=False)
    for field in table.schema:
        column = frame[field.name]
        if pa.types.is_date(field.type):
            frame[field.name] = column.astype("datetime64[us]")
        elif pa.types.is_timestamp(field.type):
            if field.type.tz is not None:
                column = column.dt.tz_convert("UTC").dt.tz_localize(None)
            frame[field.name] = column.astype("datetime64[us]")
        elif pa.types.is_decimal(field.type):
            frame[field.name] = column.astype("float64")
        elif table.column(field.name).null_count and pa.types.is_integer(field.type):
            frame[field.name] = column.astype(f"Int{field.type.bit_width}")
        elif table.column(field.name).null_count and pa.types.is_boolean(field.type):
            frame[field.name] = column.astype("boolean")
    return frame


def to_pandas(relation: Any) -> pd.DataFrame:
    """The relation ``dbt.ref()`` / ``dbt.source()`` returned, as one pandas frame."""
    if is_spark_frame(relation):
        return arrow_to_pandas(relation.toArrow())
    if hasattr(relation, "df"):
        return relation.df()
    raise TypeError(f"cannot read a {type(relation).__name__} as pandas (DuckDB or Spark expected)")


def arrow_columns(relation: Any, columns: str, where: str | None = None) -> pa.Table:
    """``columns`` (``"a, b"``) of the relation ``dbt.ref()`` returned, as one Arrow table.

    DuckDB: ``relation.filter(where).project(columns)``; Spark: the same through ``filter`` and
    ``selectExpr``, with Spark's Arrow conventions turned into DuckDB's (time-zone-aware
    timestamps to naive UTC, large strings to strings), so the package sees one schema.
    ``where`` and ``columns`` are the model's own SQL text, never data.
    """
    if is_spark_frame(relation):
        frame = relation.filter(where) if where else relation
        return _spark_arrow(frame.selectExpr(*(part.strip() for part in columns.split(","))))
    filtered = relation.filter(where) if where else relation
    return filtered.project(columns).to_arrow_table()


def to_arrow(relation: Any) -> pa.Table:
    """The whole relation ``dbt.ref()`` returned as one Arrow table (DuckDB's
    ``fetch_arrow_table``; on Spark ``toArrow`` in DuckDB's conventions)."""
    if is_spark_frame(relation):
        return _spark_arrow(relation)
    return relation.fetch_arrow_table()


def _spark_arrow(frame: Any) -> pa.Table:
    """A Spark DataFrame as Arrow, zoned timestamps as naive UTC and large strings as strings."""
    table = frame.toArrow()
    for position, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(position).cast(pa.timestamp(field.type.unit))
            table = table.set_column(position, field.name, naive)
        elif pa.types.is_large_string(field.type):
            text = table.column(position).cast(pa.string())
            table = table.set_column(position, field.name, text)
    return table


def column_names(relation: Any) -> list[str]:
    """Column names of an Arrow table, a DuckDB relation or a Spark DataFrame."""
    if isinstance(relation, pa.Table):
        return list(relation.column_names)
    return list(relation.columns)


def _require(relation: Any, columns: Sequence[str], what: str) -> None:
    have = set(column_names(relation))
    missing = [column for column in columns if column not in have]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {', '.join(missing)}")


def read_columns(relation: Any, columns: Sequence[str], what: str) -> pa.Table:
    """``columns`` of an Arrow table, DuckDB relation or Spark DataFrame as one Arrow table
    (for the small inputs: customers, products); a missing column is an error naming it."""
    _require(relation, columns, what)
    if isinstance(relation, pa.Table):
        return relation.select(list(columns))
    return arrow_columns(relation, ", ".join(columns))


def arrow_batches(relation: Any, columns: Sequence[str], batch_rows: int) -> Iterator[pa.Table]:
    """``columns`` of the relation as Arrow tables of about ``batch_rows`` rows, in its order.

    DuckDB: the relation's record-batch reader (DuckDB's small batches gathered to
    ``batch_rows``); an Arrow table: slices of it (no copy). Spark: ``toArrow`` collects the
    projected columns to the driver at once (Spark has no ordered Arrow stream), sliced the
    same way, so the caller codes it batch by batch all the same.
    """
    if isinstance(relation, pa.Table):
        table = relation.select(list(columns))
    elif is_spark_frame(relation):
        table = _spark_arrow(relation.selectExpr(*columns))
    else:
        projected = relation.project(", ".join(columns))
        reader = projected.to_arrow_reader(batch_rows)
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= batch_rows:
                yield pa.Table.from_batches(pending, schema=reader.schema)
                pending, rows = [], 0
        if pending:
            yield pa.Table.from_batches(pending, schema=reader.schema)
        return
    for start in range(0, table.num_rows, batch_rows):
        yield table.slice(start, batch_rows)


def sorted_ids(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The distinct values of an id column, sorted: the list ids are coded against."""
    values = pc.unique(column)
    values = values.take(pc.sort_indices(values))
    pa.default_memory_pool().release_unused()  # the hash table's memory, kept by Arrow
    return values


def coded_columns(
    relation: Any,
    *,
    ids: Mapping[str, pa.Array],
    days: Sequence[str] = (),
    values: Sequence[str] = (),
    what: str,
    batch_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Read the relation batch by batch into compact numpy columns, in its row order.

    ``ids``: column -> sorted distinct ids (:func:`sorted_ids`); each value becomes its int32
    position there, and a value not there (or null) is an error naming ``what``, the column,
    the number of such rows and the first of them. ``days``: date or timestamp columns as
    int32 days since 1970-01-01. ``values``: numeric (decimal too) columns as float64, each
    the double nearest the value.
    Works on Arrow tables, DuckDB relations and Spark DataFrames alike; ``batch_rows``:
    :data:`BATCH_ROWS` unless given.
    """
    columns = [*ids, *days, *values]
    _require(relation, columns, what)
    parts: dict[str, list[np.ndarray]] = {column: [] for column in columns}
    unknown: dict[str, list[Any]] = {}  # column -> [rows, first value]

    def code(batch: pa.Table) -> None:
        # Columns coded against the same id list are looked up in one call: each call hashes
        # every id of the list, which costs about as much as the lookups of a batch.
        groups: dict[tuple[int, pa.DataType], list[str]] = {}
        for column, universe in ids.items():
            groups.setdefault((id(universe), batch.schema.field(column).type), []).append(column)
        for members in groups.values():
            chunks = [chunk for column in members for chunk in batch[column].chunks]
            codes = pc.index_in(
                pa.chunked_array(chunks, type=batch.schema.field(members[0]).type),
                value_set=ids[members[0]],
            )
            codes = codes.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
            for position, column in enumerate(members):
                own = codes[position * batch.num_rows : (position + 1) * batch.num_rows]
                parts[column].append(own)
                missing = own < 0
                if missing.any():
                    seen = unknown.setdefault(column, [0, None])
                    if seen[0] == 0:
                        seen[1] = batch[column][int(np.argmax(missing))].as_py()
                    seen[0] += int(missing.sum())
        for column in days:
            day = pc.cast(pc.cast(batch[column], pa.date32()), pa.int32())
            if day.null_count:
                raise ValueError(f"{what}: {column} is null in {day.null_count} row(s)")
            parts[column].append(day.to_numpy(zero_copy_only=False))
        for column in values:
            number = batch[column]
            if pa.types.is_decimal(number.type):
                # through text: Arrow's decimal -> float cast is not correctly rounded, its
                # text -> float parse is (so 0.1 is the double nearest 0.1, as float(Decimal))
                number = pc.cast(number, pa.string())
            number = pc.cast(number, pa.float64())
            if number.null_count:
                raise ValueError(f"{what}: {column} is null in {number.null_count} row(s)")
            parts[column].append(number.to_numpy(zero_copy_only=False).copy())

    for batch in arrow_batches(relation, columns, batch_rows or BATCH_ROWS):
        code(batch)
        del batch  # (the last batch too, before the allocator is trimmed)
    # Arrow's allocator keeps freed memory for reuse; hand back what the batches used
    pa.default_memory_pool().release_unused()
    if unknown:
        column, (rows, first) = next(iter(unknown.items()))
        raise ValueError(
            f"{what}: {rows} row(s) with a {column} missing from the list of known ids,"
            f" first {first!r}"
        )
    empty = {**dict.fromkeys(ids, np.int32), **dict.fromkeys(days, np.int32)}
    out: dict[str, np.ndarray] = {}
    for column in columns:  # one column at a time: its parts are freed as it is joined
        pieces = parts.pop(column)
        dtype = empty.get(column, np.float64)
        out[column] = (
            np.concatenate(pieces).astype(dtype, copy=False) if pieces else np.zeros(0, dtype)
        )
        del pieces
    return out
