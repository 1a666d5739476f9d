"""`to_pandas` gives the Python models the frame DuckDB's `.df()` gives, from Arrow too."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from customer_analytics.frames import arrow_to_pandas, is_spark_frame, to_pandas

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
