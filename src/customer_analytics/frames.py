"""What a dbt Python model's ``dbt.ref()`` returns, as pandas, the same on DuckDB and Spark.

dbt-duckdb hands a model a DuckDB relation (``.df()``); dbt-spark a Spark DataFrame (classic or
Spark Connect), which has no ``.df()``. :func:`to_pandas` gives the package one pandas frame
with the same columns and dtypes from both: DuckDB's own conversion, and on Spark the Arrow
batches (``DataFrame.toArrow``, no row-by-row collect) converted to DuckDB's conventions.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = ["arrow_columns", "arrow_to_pandas", "is_spark_frame", "to_arrow", "to_pandas"]


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
