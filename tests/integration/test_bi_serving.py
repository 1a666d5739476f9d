"""BI tools read a published copy of the marts, never dbt's own database file.

One `dbt build` on the bundled seeds is shared by the module; the reader test rebuilds a copy
of it on the public Zeotap files through `customer-analytics build`, while a second process
holds the published file open.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import sqlalchemy

from customer_analytics import cli
from customer_analytics.publish import (
    ParquetExport,
    PublishError,
    Relation,
    bi_type_problem,
    build_passed,
    build_problems,
    export_parquet,
    find_marts,
    publish_database,
    unsafe_columns,
)

from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = pytest.mark.integration

SEED_REVENUE = 235128.48
ZEOTAP_REVENUE = 689995.56
REVENUE_SQL = "select round(sum(revenue), 2) from regional_sales"


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def failed_python_models(built: BuiltProject) -> list[str] | None:
    """The Python models to blame for a failed build, or None when anything else failed too.

    A failed model counts when it lives in python_models/; a failed test when every model it
    tests does. While the Python models' package functions are still being written, the BI
    tests then run on everything else instead of erroring.
    """
    manifest = json.loads((built.target_dir / "manifest.json").read_text())
    nodes = manifest["nodes"]
    python_models = {
        node_id
        for node_id, node in nodes.items()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("python_models/")
    }
    blamed: set[str] = set()
    for result in built.run_results():
        if result["status"] in ("success", "pass", "warn", "skipped", "no-op"):
            continue
        node_id = result["unique_id"]
        if node_id in python_models:
            blamed.add(node_id)
            continue
        tested = set(nodes.get(node_id, {}).get("depends_on", {}).get("nodes", []))
        if not node_id.startswith("test.") or not tested or not tested <= python_models:
            return None
        blamed |= tested
    return sorted(nodes[node_id]["name"] for node_id in blamed) or None


@pytest.fixture(scope="module")
def shared_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltProject, str | None]:
    """`dbt build` on the bundled seeds; if only Python models failed, again without them."""
    workdir = tmp_path_factory.mktemp("seeds")
    built = dbt_build(workdir, check=False)
    if built.returncode == 0:
        return built, None
    blamed = failed_python_models(built)
    if blamed is None:
        raise AssertionError(f"dbt build failed ({built.returncode}):\n{built.output[-6000:]}")
    exclude = " ".join(f"{name}+" for name in blamed)
    return dbt_build(workdir, exclude=exclude), exclude


@pytest.fixture(scope="module")
def built(shared_build: tuple[BuiltProject, str | None]) -> BuiltProject:
    return shared_build[0]


@pytest.fixture(scope="module")
def exclude(shared_build: tuple[BuiltProject, str | None]) -> str | None:
    """dbt --exclude selectors every build of this module needs (None once all models build)."""
    return shared_build[1]


@pytest.fixture(scope="module")
def manifest(built: BuiltProject) -> Path:
    return built.target_dir / "manifest.json"


@pytest.fixture(scope="module")
def marts(built: BuiltProject, manifest: Path) -> list[Relation]:
    with connect(built.database) as connection:
        return find_marts(connection, manifest, database=built.database)


@pytest.fixture(scope="module")
def published(
    built: BuiltProject, manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("published") / "customer_analytics.duckdb"
    publish_database(built.database, path, manifest_path=manifest)
    return path


# --- Which tables are marts, and their types ---------------------------------------------------


def test_marts_are_the_mart_and_quarantine_tables_that_exist(marts: list[Relation]) -> None:
    names = {str(mart) for mart in marts}
    assert {
        "main.customers",
        "main.products",
        "main.transactions",
        "main.regional_sales",
        "main.monthly_sales",
        "main.product_sales",
        "main.category_sales",
        "quarantine.quarantined_transactions",
        "quarantine.input_row_counts",
    } <= names
    # Intermediate tables, staging and seeds are not marts.
    assert not {name for name in names if name.split(".")[0] not in ("main", "quarantine")}
    assert not {name for name in names if name.startswith("main.int_")}


def test_every_mart_column_of_a_real_build_is_bi_safe(
    built: BuiltProject, marts: list[Relation]
) -> None:
    with connect(built.database) as connection:
        assert unsafe_columns(connection, ["main", "quarantine"], tables=marts) == []
        # Not only the marts: nothing in the two schemas BI users browse is unsafe either.
        assert unsafe_columns(connection, ["main", "quarantine"]) == []


UNSAFE_COLUMNS = [
    pytest.param("sum(x::bigint)", "HUGEINT", id="sum-of-bigint-is-hugeint"),
    pytest.param("x::decimal(38, 2)", "DECIMAL(38,2)", id="decimal-38"),
    pytest.param(
        "timestamptz '2024-01-01 10:00:00+00'", "TIMESTAMP WITH TIME ZONE", id="timestamptz"
    ),
    pytest.param("uuid()", "UUID", id="uuid"),
    pytest.param("x::utinyint", "UTINYINT", id="utinyint"),
    pytest.param("[x]", "BIGINT[]", id="list"),
    pytest.param("interval 1 day", "INTERVAL", id="interval"),
]


@pytest.mark.parametrize(("expression", "data_type"), UNSAFE_COLUMNS)
def test_unsafe_types_are_flagged_and_refused(
    tmp_path: Path, expression: str, data_type: str
) -> None:
    scratch = tmp_path / "scratch.duckdb"
    with duckdb.connect(str(scratch)) as connection:
        connection.execute(
            f"create table monthly_totals as select {expression} as bad_column,"
            " 1::bigint as fine_column from range(3) as numbers(x)"
        )
        findings = unsafe_columns(connection, ["main"])
    assert [(f.table, f.column, f.data_type) for f in findings] == [
        ("monthly_totals", "bad_column", data_type)
    ]
    assert findings[0].reason

    published = tmp_path / "published" / "customer_analytics.duckdb"
    with pytest.raises(PublishError, match=r"main\.monthly_totals\.bad_column"):
        publish_database(scratch, published)
    assert not published.parent.exists() or not list(published.parent.iterdir())
    with pytest.raises(PublishError, match="refusing to publish"):
        export_parquet(scratch, tmp_path / "exports")
    assert not list((tmp_path / "exports").iterdir())


@pytest.mark.parametrize(
    "data_type",
    [
        "HUGEINT",
        "UHUGEINT",
        "UBIGINT",
        "USMALLINT",
        "DECIMAL(19,4)",
        "TIMESTAMP WITH TIME ZONE",
        "TIME WITH TIME ZONE",
        "UUID",
        "INTERVAL",
        "VARCHAR[]",
        "INTEGER[3]",
        "STRUCT(a INTEGER, b VARCHAR)",
        "MAP(VARCHAR, INTEGER)",
        "UNION(num INTEGER, str VARCHAR)",
        "BIT",
        "BIGNUM",
    ],
)
def test_bi_type_problem_flags(data_type: str) -> None:
    assert bi_type_problem(data_type)


@pytest.mark.parametrize(
    "data_type",
    [
        "VARCHAR",
        "BOOLEAN",
        "INTEGER",
        "BIGINT",
        "DOUBLE",
        "DECIMAL(18,2)",
        "DATE",
        "TIMESTAMP",
        "TIMESTAMP_NS",
        "TIME",
        "BLOB",
        "ENUM('a', 'b')",
    ],
)
def test_bi_type_problem_passes(data_type: str) -> None:
    assert bi_type_problem(data_type) is None


# --- Publishing while a BI tool reads ----------------------------------------------------------

READER = textwrap.dedent(
    """
    import json, sys, duckdb
    connection = duckdb.connect(sys.argv[1], read_only=True)
    def snapshot():
        return connection.execute(
            "select (select round(sum(revenue), 2) from regional_sales),"
            " (select count(*) from transactions),"
            " (select round(sum(total_value), 2) from transactions),"
            " (select round(sum(total_revenue), 2) from customers)"
        ).fetchone()
    print(json.dumps(snapshot()), flush=True)
    for line in sys.stdin:
        print(json.dumps(snapshot()), flush=True)
    """
)


def test_publish_while_a_reader_holds_the_published_file(
    built: BuiltProject,
    manifest: Path,
    exclude: str | None,
    zeotap_dir: Path,
    tmp_path: Path,
) -> None:
    # dbt's working file: a copy of the seed build, rebuilt below on the Zeotap files.
    workdir = tmp_path / "dbt"
    workdir.mkdir()
    database = workdir / "warehouse.duckdb"
    shutil.copyfile(built.database, database)
    published = tmp_path / "published" / "customer_analytics.duckdb"
    exports = tmp_path / "exports"
    publish_database(database, published, manifest_path=manifest)

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before = json.loads(reader.stdout.readline() or "null")
        assert before is not None, reader.stderr.read()
        assert before[0] == pytest.approx(SEED_REVENUE)

        command = [
            sys.executable,
            "-m",
            "customer_analytics.cli",
            "build",
            "--target",
            "ci",
            "--project-dir",
            str(REPO_ROOT),
            "--profiles-dir",
            str(REPO_ROOT),
            "--target-path",
            str(workdir / "target"),
            "--log-path",
            str(workdir / "logs"),
            "--vars",
            json.dumps({"input_dir": str(zeotap_dir)}),
            "--published",
            str(published),
            "--export-dir",
            str(exports),
        ]
        if exclude:
            command += ["--exclude", *exclude.split()]
        environment = {
            **os.environ,
            "CUSTOMER_ANALYTICS_DB": str(database),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        completed = subprocess.run(
            command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=False
        )
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output[-6000:]
        assert f"wrote {published}" in output
        assert f"wrote {exports / 'customers.parquet'}" in output

        # The reader still holds the old file: the same, consistent old snapshot.
        reader.stdin.write("again\n")
        reader.stdin.flush()
        after = json.loads(reader.stdout.readline() or "null")
        assert after == before
    finally:
        # End the reader: EOF on its stdin, then collect what is left (closes every pipe).
        _, errors = reader.communicate(timeout=60)
    assert reader.returncode == 0, errors

    # A fresh reader sees the new build; dbt's file was never the one served.
    with connect(published) as connection:
        assert connection.execute(REVENUE_SQL).fetchone() == (ZEOTAP_REVENUE,)
    with connect(database) as connection:
        assert connection.execute(REVENUE_SQL).fetchone() == (ZEOTAP_REVENUE,)
    assert [path.name for path in published.parent.iterdir()] == [published.name]
    with duckdb.connect() as connection:
        revenue = connection.execute(
            "select round(sum(revenue), 2) from read_parquet($path)",
            {"path": str(exports / "regional_sales.parquet")},
        ).fetchone()
    assert revenue == (ZEOTAP_REVENUE,)


def test_a_second_publish_replaces_the_file_not_its_contents(
    built: BuiltProject, manifest: Path, tmp_path: Path
) -> None:
    published = tmp_path / "customer_analytics.duckdb"
    publish_database(built.database, published, manifest_path=manifest)
    first_inode = published.stat().st_ino
    with connect(published) as held_open:
        publish_database(built.database, published, manifest_path=manifest)
        assert held_open.execute(REVENUE_SQL).fetchone() == (SEED_REVENUE,)
    assert published.stat().st_ino != first_inode
    assert sorted(path.name for path in tmp_path.iterdir()) == [published.name]


def test_publish_refuses_a_build_into_another_database(
    built: BuiltProject, manifest: Path, tmp_path: Path
) -> None:
    other = tmp_path / "customer_analytics.duckdb"
    shutil.copyfile(built.database, other)
    with pytest.raises(PublishError, match="CUSTOMER_ANALYTICS_DB"):
        publish_database(other, tmp_path / "published.duckdb", manifest_path=manifest)


# --- Refusing to publish after a failed build --------------------------------------------------


def write_run_results(target_dir: Path, source: Path, **changes: str) -> Path:
    """A copy of ``source`` run_results.json with the statuses of some nodes changed."""
    payload = json.loads((source / "run_results.json").read_text())
    for result in payload["results"]:
        for fragment, status in changes.items():
            if fragment in result["unique_id"]:
                result["status"] = status
                result["message"] = f"simulated {status}"
    target_dir.mkdir(parents=True, exist_ok=True)
    (target_dir / "run_results.json").write_text(json.dumps(payload))
    shutil.copyfile(source / "manifest.json", target_dir / "manifest.json")
    return target_dir


def test_the_shared_build_passed(built: BuiltProject) -> None:
    assert build_problems(built.target_dir) == []
    assert build_passed(built.target_dir)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"model.customer_analytics.customers": "error"}, "model.customer_analytics.customers"),
        ({"not_null_customers_customer_id": "fail"}, "not_null_customers_customer_id"),
        ({"model.customer_analytics.regional_sales": "skipped"}, "skipped"),
    ],
    ids=["model-error", "test-fail", "model-skipped"],
)
def test_publish_is_refused_after_a_failed_build(
    built: BuiltProject,
    tmp_path: Path,
    changes: dict[str, str],
    problem: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = write_run_results(tmp_path / "target", built.target_dir, **changes)
    assert not build_passed(target)
    assert any(problem in line for line in build_problems(target))

    published = tmp_path / "published" / "customer_analytics.duckdb"
    exports = tmp_path / "exports"
    arguments = ["publish", "--database", str(built.database), "--target-path", str(target)]
    arguments += ["--published", str(published), "--export-dir", str(exports)]
    assert cli.main(arguments) == 1
    assert "refusing to publish" in capsys.readouterr().err
    assert not published.exists()
    assert not exports.exists()


def test_warnings_do_not_block_and_other_commands_do(built: BuiltProject, tmp_path: Path) -> None:
    warned = write_run_results(tmp_path / "warned", built.target_dir, not_null_customers="warn")
    assert build_passed(warned)

    ran = write_run_results(tmp_path / "ran", built.target_dir)
    payload = json.loads((ran / "run_results.json").read_text())
    payload["args"]["which"] = "run"
    (ran / "run_results.json").write_text(json.dumps(payload))
    assert build_problems(ran) == ["the last dbt invocation was `dbt run`, not `dbt build`"]

    assert not build_passed(tmp_path / "never-built")


def test_publish_command_after_a_passing_build(
    built: BuiltProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = tmp_path / "published" / "customer_analytics.duckdb"
    exports = tmp_path / "exports"
    arguments = ["publish", "--database", str(built.database)]
    arguments += ["--target-path", str(built.target_dir)]
    arguments += ["--published", str(published), "--export-dir", str(exports)]
    assert cli.main(arguments) == 0
    printed = capsys.readouterr().err
    assert f"wrote {published}" in printed
    assert f"wrote {exports / 'transactions.parquet'}" in printed
    with connect(published) as connection:
        assert connection.execute(REVENUE_SQL).fetchone() == (SEED_REVENUE,)


# --- Parquet -----------------------------------------------------------------------------------


def table_rows(database: Path, mart: Relation) -> int:
    with connect(database) as connection:
        return connection.execute(f"select count(*) from {mart.sql()}").fetchone()[0]


def parquet_rows(path: Path) -> int:
    if path.is_dir():
        return sum(pq.ParquetFile(part).metadata.num_rows for part in path.rglob("*.parquet"))
    return pq.ParquetFile(path).metadata.num_rows


def test_parquet_export_one_file_per_mart(
    built: BuiltProject, manifest: Path, marts: list[Relation], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    result = export_parquet(built.database, exports, manifest_path=manifest)
    assert result == ParquetExport(
        written=[exports / f"{mart.name}.parquet" for mart in marts], removed=[]
    )
    assert sorted(path.name for path in exports.iterdir()) == sorted(
        f"{mart.name}.parquet" for mart in marts
    )
    for mart in marts:
        assert parquet_rows(exports / f"{mart.name}.parquet") == table_rows(built.database, mart)


def test_parquet_export_replaces_files_and_removes_stale_ones(
    built: BuiltProject, manifest: Path, marts: list[Relation], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    export_parquet(built.database, exports, manifest_path=manifest)
    # An export of a mart that has since been dropped, and a file that is not an export.
    shutil.copyfile(exports / "customers.parquet", exports / "dropped_mart.parquet")
    (exports / "README.txt").write_text("not an export")
    customers = exports / "customers.parquet"
    first_inode = customers.stat().st_ino

    with customers.open("rb") as held_open:
        result = export_parquet(built.database, exports, manifest_path=manifest)
        # The old file is replaced, not rewritten: an open reader still reads it whole.
        assert pq.ParquetFile(held_open).metadata.num_rows == table_rows(
            built.database, Relation("main", "customers")
        )
    assert customers.stat().st_ino != first_inode
    assert result.removed == [exports / "dropped_mart.parquet"]
    assert sorted(path.name for path in exports.iterdir()) == sorted(
        [f"{mart.name}.parquet" for mart in marts] + ["README.txt"]
    )


def test_partitioned_export_swaps_whole_folders(
    built: BuiltProject, manifest: Path, tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    transactions = Relation("main", "transactions")
    expected_rows = table_rows(built.database, transactions)

    export_parquet(
        built.database, exports, manifest_path=manifest, partition_by={"transactions": ["region"]}
    )
    folder = exports / "transactions"
    assert sorted(path.name for path in folder.iterdir()) == [
        "region=Asia",
        "region=Europe",
        "region=North%20America",
        "region=South%20America",
    ]
    assert parquet_rows(folder) == expected_rows
    # Every part carries its partition column, so each file reads on its own.
    part = next(folder.rglob("*.parquet"))
    assert "region" in pq.ParquetFile(part).schema_arrow.names

    export_parquet(
        built.database, exports, manifest_path=manifest, partition_by={"transactions": ["region"]}
    )
    assert parquet_rows(folder) == expected_rows

    # Back to a single file: the folder goes, and no temporary or retired folder is left.
    export_parquet(built.database, exports, manifest_path=manifest)
    assert not folder.exists()
    assert parquet_rows(exports / "transactions.parquet") == expected_rows
    assert not [path for path in exports.iterdir() if path.name.startswith(".")]


def test_partitioning_an_unknown_mart_is_an_error(
    built: BuiltProject, manifest: Path, tmp_path: Path
) -> None:
    with pytest.raises(PublishError, match="no such mart"):
        export_parquet(
            built.database,
            tmp_path / "exports",
            manifest_path=manifest,
            partition_by={"no_such_table": ["region"]},
        )


# --- What BI tools see in the published file ---------------------------------------------------


def test_published_database_holds_exactly_the_marts(published: Path, marts: list[Relation]) -> None:
    with connect(published) as connection:
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() order by all"
        ).fetchall()
        (tags,) = connection.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchone()
    assert [Relation(*row) for row in tables] == sorted(marts)
    # Readable by any DuckDB ODBC driver since 1.0, not only by this project's DuckDB.
    assert tags == {"storage_version": "v1.0.0+"}


def test_column_descriptions_are_published(
    built: BuiltProject, published: Path, marts: list[Relation]
) -> None:
    query = """
        select schema_name, table_name, column_name, comment from duckdb_columns()
        where not internal and list_contains($schemas, schema_name)
        order by all
    """
    schemas = sorted({mart.schema for mart in marts})
    keys = {mart.key() for mart in marts}
    with connect(built.database) as connection:
        source = [
            row
            for row in connection.execute(query, {"schemas": schemas}).fetchall()
            if Relation(row[0], row[1]).key() in keys
        ]
    with connect(published) as connection:
        copied = connection.execute(query, {"schemas": schemas}).fetchall()
        customer_id = connection.execute(
            "select comment from duckdb_columns()"
            " where table_name = 'customers' and column_name = 'customer_id'"
        ).fetchone()
        table_comment = connection.execute(
            "select comment from duckdb_tables() where table_name = 'customers'"
        ).fetchone()
    assert copied == source
    assert customer_id is not None
    assert customer_id[0]
    assert table_comment is not None
    assert table_comment[0].startswith("One row per")


def test_sqlalchemy_front_door(published: Path, marts: list[Relation]) -> None:
    with connect(published) as connection:
        expected = [
            name
            for (name,) in connection.execute(
                "select column_name from duckdb_columns() where table_name = 'customers'"
                " order by column_index"
            ).fetchall()
        ]
    # duckdb-engine opens the file with its own settings: no other connection may be open.
    engine = sqlalchemy.create_engine(f"duckdb:///{published}", connect_args={"read_only": True})
    try:
        inspector = sqlalchemy.inspect(engine)
        # duckdb-engine lists the tables of every schema, and of one schema when asked.
        assert sorted(inspector.get_table_names()) == sorted(mart.name for mart in marts)
        assert sorted(inspector.get_table_names(schema="quarantine")) == sorted(
            mart.name for mart in marts if mart.schema == "quarantine"
        )
        # SQLAlchemy >= 2.0.45 reflects collations through pg_catalog.pg_collation, which
        # DuckDB does not fully provide (Mause/duckdb_engine#1379): pyproject pins 2.0.44.
        columns = inspector.get_columns("customers")
        assert [column["name"] for column in columns] == expected
        assert next(c for c in columns if c["name"] == "customer_id")["comment"]
    finally:
        engine.dispose()


# --- The command line --------------------------------------------------------------------------


def test_build_arguments_are_split_between_publishing_and_dbt() -> None:
    options, dbt_args = cli.split_build_arguments(
        [
            "--select",
            "+customers",
            "--published",
            "bi/customer_analytics.duckdb",
            "--vars",
            "{input_dir: data}",
            "--export-dir=bi/exports",
            "--partition",
            "transactions=region,category",
            "--target-path",
            "elsewhere",
            "--no-database",
        ]
    )
    assert dbt_args == [
        "--select",
        "+customers",
        "--vars",
        "{input_dir: data}",
        "--target-path",
        "elsewhere",
    ]
    assert options.published == Path("bi/customer_analytics.duckdb")
    assert options.export_dir == Path("bi/exports")
    assert options.partition == [("transactions", ["region", "category"])]
    assert options.no_database
    assert not options.no_publish
    assert cli.dbt_target_path(dbt_args) == Path("elsewhere")
