"""`to_pandas` gives the Python models the frame DuckDB's `.df()` gives, from Arrow too."""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from customer_analytics.frames import (
    arrow_columns,
    arrow_to_pandas,
    coded_columns,
    is_spark_frame,
    to_pandas,
)

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


# --------------------------------------------------------------------------- coded_columns

IDS = pa.array(["C1", "C2", "C3", "C4"])


def _ledger_table(rows: int) -> pa.Table:
    """``rows`` transactions over C1..C4, with decimal values and timestamps."""
    rng = np.random.default_rng(3)
    return pa.table(
        {
            "customer_id": pa.array([f"C{i}" for i in rng.integers(1, 5, rows)]),
            "bought_at": pa.array(
                [
                    dt.datetime(2024, 1, 1) + dt.timedelta(hours=int(h))
                    for h in rng.integers(0, 2000, rows)
                ],
                pa.timestamp("us"),
            ),
            "value": pa.array(
                [decimal.Decimal(int(c)) / 100 for c in rng.integers(1, 100_000, rows)],
                pa.decimal128(18, 2),
            ),
        }
    )


def _expected(table: pa.Table) -> dict[str, np.ndarray]:
    """The same columns computed row by row in plain Python (independent of Arrow compute)."""
    position = {value: i for i, value in enumerate(IDS.to_pylist())}
    epoch = dt.date(1970, 1, 1)
    return {
        "customer_id": np.array([position[v] for v in table["customer_id"].to_pylist()]),
        "bought_at": np.array([(v.date() - epoch).days for v in table["bought_at"].to_pylist()]),
        "value": np.array([float(v) for v in table["value"].to_pylist()]),
    }


def _code(relation: object, batch_rows: int) -> dict[str, np.ndarray]:
    return coded_columns(
        relation,
        ids={"customer_id": IDS},
        days=["bought_at"],
        values=["value"],
        what="purchases",
        batch_rows=batch_rows,
    )


@pytest.mark.parametrize("batch_rows", [7, 1000, 100_000])
def test_coded_columns_equal_a_row_by_row_coding_from_arrow_and_duckdb(batch_rows: int) -> None:
    table = _ledger_table(5000)
    expected = _expected(table)
    with duckdb.connect() as connection:
        relation = connection.from_arrow(table)
        from_duckdb = _code(relation, batch_rows)
    from_arrow = _code(table, batch_rows)
    for coded in (from_duckdb, from_arrow):
        assert coded["customer_id"].dtype == np.int32
        assert coded["bought_at"].dtype == np.int32
        assert coded["value"].dtype == np.float64
        for column, values in expected.items():
            np.testing.assert_array_equal(coded[column], values)  # same rows, same order


def test_coded_columns_read_spark_output() -> None:
    table = _ledger_table(50)
    spark_like = DataFrame(
        table.set_column(0, "customer_id", table["customer_id"].cast(pa.large_string()))
    )
    spark_like.columns = table.column_names  # type: ignore[attr-defined]
    coded = _code(spark_like, 16)
    for column, values in _expected(table).items():
        np.testing.assert_array_equal(coded[column], values)


def test_coded_columns_name_unknown_ids_missing_columns_and_null_days() -> None:
    table = _ledger_table(30)
    ids = table["customer_id"].to_pylist()
    ids[12], ids[25] = "Z9", "Z8"  # in two different batches
    bad = table.set_column(0, "customer_id", pa.array(ids))
    with pytest.raises(ValueError, match=r"purchases: 2 row\(s\) with a customer_id .* 'Z9'"):
        _code(bad, 10)
    with pytest.raises(ValueError, match=r"purchases lacks the column\(s\) value"):
        _code(table.drop_columns(["value"]), 10)
    days = table["bought_at"].to_pylist()
    days[3] = None
    with pytest.raises(ValueError, match="purchases: bought_at is null in 1 row"):
        _code(table.set_column(1, "bought_at", pa.array(days, pa.timestamp("us"))), 10)


def test_coded_columns_of_nothing_are_empty_typed_arrays() -> None:
    coded = _code(_ledger_table(0), 10)
    assert {k: (v.size, v.dtype) for k, v in coded.items()} == {
        "customer_id": (0, np.int32),
        "bought_at": (0, np.int32),
        "value": (0, np.float64),
    }


def test_columns_sharing_an_id_list_are_coded_together_and_named_apart() -> None:
    pairs = pa.table(
        {
            "customer_id": ["C2", "C1", "C4", "C3"],
            "other_id": ["C3", "C4", "C1", "C2"],
            "score": [0.5, 0.25, 0.125, 1.0],
        }
    )
    coded = coded_columns(
        pairs, ids={"customer_id": IDS, "other_id": IDS}, values=["score"], what="pairs"
    )
    np.testing.assert_array_equal(coded["customer_id"], [1, 0, 3, 2])
    np.testing.assert_array_equal(coded["other_id"], [2, 3, 0, 1])
    unknown = pairs.set_column(1, "other_id", pa.array(["C3", "X", "C1", "Y"]))
    with pytest.raises(ValueError, match=r"pairs: 2 row\(s\) with a other_id .* 'X'"):
        coded_columns(unknown, ids={"customer_id": IDS, "other_id": IDS}, what="pairs")
