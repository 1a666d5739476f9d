"""`to_pandas` gives the Python models the frame DuckDB's `.df()` gives, from Arrow too."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from customer_analytics.frames import arrow_columns, arrow_to_pandas, is_spark_frame, to_pandas

QUERY = """
    select * from (values
        ('C1', date '2024-01-31', timestamp '2024-01-31 10:00:00', 1.5::double, 3::bigint,
         12.34::decimal(18, 2), true, 7::integer),
        ('C2', null, null, null, null, null, null, null)
    ) as t(customer_id, signup_date, seen_at, score, n, price, flag, small)
"""


def test_arrow_conversion_matches_duckdb_df() -> None:
    with duckdb.connect() as connection:
        expected = connection.sql(QUERY).df()
        actual = arrow_to_pandas(connection.sql(QUERY).arrow().read_all())
    pd.testing.assert_frame_equal(actual, expected)


def test_spark_time_zone_timestamps_become_naive_utc() -> None:
    moment = dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.UTC)
    table = pa.table(
        {
            "seen_at": pa.array([moment], pa.timestamp("us", tz="Europe/Berlin")),
            "price": pa.array([decimal.Decimal("1.25")], pa.decimal128(10, 2)),
        }
    )
    frame = arrow_to_pandas(table)
    assert frame["seen_at"].dtype == "datetime64[us]"
    assert frame["seen_at"].iloc[0] == pd.Timestamp("2024-03-01 12:30")
    assert frame["price"].dtype == "float64"
    assert frame["price"].iloc[0] == 1.25


def test_to_pandas_reads_duckdb_relations_and_refuses_others() -> None:
    with duckdb.connect() as connection:
        relation = connection.sql("select 1 as x")
        assert not is_spark_frame(relation)
        assert to_pandas(relation)["x"].tolist() == [1]
    with pytest.raises(TypeError, match="DuckDB or Spark expected"):
        to_pandas([1, 2])


def test_arrow_columns_filters_and_projects_on_duckdb() -> None:
    with duckdb.connect() as connection:
        relation = connection.sql(
            "select * from (values ('a', 1.5, 2), ('b', 3.0, 4)) as t(method, weight, n)"
        )
        table = arrow_columns(relation, "weight, n", where="method = 'b'")
    assert table.column_names == ["weight", "n"]
    assert table.to_pylist() == [{"weight": decimal.Decimal("3.0"), "n": 4}]


class DataFrame:
    """Stands in for a Spark DataFrame: Spark's Arrow output (zoned timestamps, large strings)."""

    __module__ = "pyspark.sql.dataframe"

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def filter(self, condition: str) -> DataFrame:
        assert condition == "keep"
        return DataFrame(self.table.slice(0, 1))

    def selectExpr(self, *columns: str) -> DataFrame:  # noqa: N802 (Spark's name)
        return DataFrame(self.table.select(list(columns)))

    def toArrow(self) -> pa.Table:  # noqa: N802 (Spark's name)
        return self.table


def test_arrow_columns_gives_duckdb_conventions_for_spark_output() -> None:
    moment = dt.datetime(2024, 3, 1, 12, 30, tzinfo=dt.UTC)
    spark_like = DataFrame(
        pa.table(
            {
                "customer_id": pa.array(["C1", "C2"], pa.large_string()),
                "seen_at": pa.array([moment, moment], pa.timestamp("us", tz="Etc/GMT-2")),
                "unused": [1, 2],
            }
        )
    )
    table = arrow_columns(spark_like, "customer_id, seen_at", where="keep")
    expected = pa.schema([("customer_id", pa.string()), ("seen_at", pa.timestamp("us"))])
    assert table.schema == expected
    assert table.to_pylist() == [{"customer_id": "C1", "seen_at": dt.datetime(2024, 3, 1, 12, 30)}]
