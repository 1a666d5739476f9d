"""Same input, same output to the last digit: two full builds give identical tables.

Every table of the database is compared row for row (EXCEPT ALL both ways, so doubles must
match exactly), marts, quarantine and the ML outputs (segments, PCA, lookalikes,
recommendations) included.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from .dbt_runner import dbt_build

pytestmark = pytest.mark.integration


def differing_tables(first: Path, second: Path) -> dict[str, tuple[int, int]]:
    """Tables whose rows differ: name -> (rows only in first, rows only in second)."""
    with duckdb.connect() as connection:
        connection.execute(f"attach '{first}' as first_build (read_only)")
        connection.execute(f"attach '{second}' as second_build (read_only)")
        tables = connection.sql(
            "select schema_name, table_name from duckdb_tables()"
            " where database_name = 'first_build' order by all"
        ).fetchall()
        other = connection.sql(
            "select schema_name, table_name from duckdb_tables()"
            " where database_name = 'second_build' order by all"
        ).fetchall()
        assert tables == other
        assert len(tables) > 20
        differences = {}
        for schema, table in tables:
            name = f'"{schema}"."{table}"'
            only = [
                connection.sql(
                    f"select count(*) from (select * from {a}.{name}"
                    f" except all select * from {b}.{name})"
                ).fetchall()[0][0]
                for a, b in (("first_build", "second_build"), ("second_build", "first_build"))
            ]
            if any(only):
                differences[f"{schema}.{table}"] = (only[0], only[1])
        return differences


@pytest.mark.parametrize("data", ["bundled", "zeotap"])
def test_two_builds_give_identical_tables(
    tmp_path: Path, data: str, request: pytest.FixtureRequest
) -> None:
    dbt_vars = (
        {} if data == "bundled" else {"input_dir": str(request.getfixturevalue("zeotap_dir"))}
    )
    first = dbt_build(tmp_path / "first", dbt_vars)
    second = dbt_build(tmp_path / "second", dbt_vars)
    assert differing_tables(first.database, second.database) == {}
