"""BI tools read a published copy of the marts, never dbt's own database file.

One plain `dbt build` on the bundled seeds is shared by the module (it publishes by itself);
the reader test rebuilds a copy of it on the public Zeotap files through
`customer-analytics build` while a second process holds the published file open, and one
test shows that partial and failed builds leave the published copy untouched.
"""

from __future__ import annotations

import datetime as dt
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
    BUILD_TABLES,
    BuildInfo,
    ParquetExport,
    PublishedModel,
    PublishError,
    Relation,
    bi_type_problem,
    build_passed,
    build_problems,
    contract_problems,
    manifest_published_models,
    publish_database_file,
    publish_from,
    unsafe_columns,
)

from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = pytest.mark.integration

SEED_REVENUE = 235128.48
ZEOTAP_REVENUE = 689995.56
REVENUE_SQL = "select round(sum(revenue), 2) from regional_sales"


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    """`dbt build` on the bundled seeds; it publishes by itself (on-run-end)."""
    return dbt_build(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(scope="module")
def manifest(built: BuiltProject) -> Path:
    return built.target_dir / "manifest.json"


@pytest.fixture(scope="module")
def models(manifest: Path) -> list[PublishedModel]:
    return manifest_published_models(manifest)


@pytest.fixture(scope="module")
def marts(models: list[PublishedModel]) -> list[Relation]:
    return [model.relation for model in models]


@pytest.fixture(scope="module")
def published(built: BuiltProject) -> Path:
    """The copy the build published: published/<dbt's file name> beside dbt's file."""
    return built.database.parent / "published" / built.database.name


@pytest.fixture(scope="module")
def exports(built: BuiltProject) -> Path:
    return built.database.parent / "exports"


def invocation_id(target_dir: Path) -> str:
    return json.loads((target_dir / "run_results.json").read_text())["metadata"]["invocation_id"]


def published_invocation(published: Path) -> str:
    with connect(published) as connection:
        return connection.execute("select invocation_id from build_info").fetchone()[0]


def republish(built: BuiltProject, published: Path | None, exports: Path | None, **options):
    """`customer-analytics publish`'s code path: dbt's file attached read-only."""
    return publish_database_file(
        built.database,
        built.target_dir / "manifest.json",
        published_path=published,
        export_dir=exports,
        build=BUILD,
        **options,
    )


BUILD = BuildInfo(
    built_at=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    invocation_id="test-invocation",
    input="bundled seeds",
    input_format="csv",
    vars_given="{}",
    dbt_version="test",
)


# --- Which tables are published, and their types -------------------------------------------


def test_published_models_are_those_with_meta_publish(
    manifest: Path, marts: list[Relation]
) -> None:
    nodes = json.loads(manifest.read_text())["nodes"].values()
    flagged = {
        (node["schema"], node["alias"])
        for node in nodes
        if node["resource_type"] == "model" and node["config"]["meta"].get("publish") is True
    }
    assert {(mart.schema, mart.name) for mart in marts} == flagged
    names = {str(mart) for mart in marts}
    assert {
        "main.customers",
        "main.products",
        "main.transactions",
        "main.regional_sales",
        "main.monthly_sales",
        "main.product_sales",
        "main.category_sales",
        "main.customer_lookalikes",
        "main.audience_expansion",
        "quarantine.quarantined_transactions",
        "quarantine.input_row_counts",
    } <= names
    # Intermediate tables, staging and seeds are not published.
    assert not {name for name in names if name.split(".")[0] not in ("main", "quarantine")}
    assert not {name for name in names if name.startswith("main.int_")}


def test_published_sql_marts_enforce_their_contract(manifest: Path) -> None:
    """Every published SQL model of models/marts has an enforced dbt contract; Python models
    and models with data-dependent columns are checked by the publish step instead."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    without = sorted(
        node["name"]
        for node in nodes
        if node["resource_type"] == "model"
        and node["config"]["meta"].get("publish") is True
        and node["language"] == "sql"
        and node["original_file_path"].startswith("models/marts/")
        and not node["config"]["meta"].get("dynamic_columns")
        and not node["config"]["contract"]["enforced"]
    )
    assert without == []


def test_every_published_mart_has_a_key_test(manifest: Path) -> None:
    """unique (with not_null) on the key, or a unique-combination test, on every published
    mart. The quarantine tables' YAML belongs to the input checks (issue 9): not yet keyed."""
    nodes = json.loads(manifest.read_text())["nodes"]
    keyed = {
        dependency
        for node in nodes.values()
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name") in {"unique", "unique_combination"}
        for dependency in node["depends_on"]["nodes"]
    }
    unkeyed = sorted(
        node["name"]
        for node_id, node in nodes.items()
        if node["resource_type"] == "model"
        and node["config"]["meta"].get("publish") is True
        and node["schema"] != "quarantine"
        and node_id not in keyed
    )
    assert unkeyed == []


def test_every_published_column_is_described_and_bi_safe(
    built: BuiltProject, models: list[PublishedModel]
) -> None:
    with connect(built.database) as connection:
        assert (
            contract_problems(
                connection, models, connection.execute("select current_database()").fetchone()[0]
            )
            == []
        )
        assert (
            unsafe_columns(connection, ["main", "quarantine"], tables=[m.relation for m in models])
            == []
        )
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


def scratch_model(name: str, *columns: str, dynamic: dict[str, str] | None = None):
    return PublishedModel.from_node(
        {
            "name": name,
            "schema": "main",
            "alias": name,
            "description": f"One row per {name}.",
            "columns": {column: {"name": column, "description": "described"} for column in columns},
            "config": {"meta": {"publish": True, "dynamic_columns": dynamic or {}}},
        }
    )


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

    model = scratch_model("monthly_totals", "bad_column", "fine_column")
    published = tmp_path / "published" / "customer_analytics.duckdb"
    with (
        duckdb.connect(str(scratch)) as connection,
        pytest.raises(PublishError, match=r"main\.monthly_totals\.bad_column"),
    ):
        publish_from(
            connection,
            "scratch",
            [model],
            published_path=published,
            export_dir=tmp_path / "exports",
            build=BUILD,
        )
    assert not published.parent.exists() or not list(published.parent.iterdir())
    assert not (tmp_path / "exports").exists()


def test_contract_problems_name_every_column_that_breaks_the_contract(tmp_path: Path) -> None:
    """The publish contract of Python models and data-dependent columns: described, declared
    types as built, no NULL-typed column (an empty pandas frame's)."""
    with duckdb.connect(str(tmp_path / "scratch.duckdb")) as connection:
        connection.execute(
            "create table audience as select 'C1' as customer_id, null as nearest_seed,"
            " 1::bigint as audience_rank, 0.5::double as spend_share_books,"
            " 'x' as undocumented limit 0"
        )
        model = PublishedModel.from_node(
            {
                "name": "audience",
                "schema": "main",
                "alias": "audience",
                "description": "One row per audience member.",
                "columns": {
                    "customer_id": {
                        "name": "customer_id",
                        "description": "Id.",
                        "data_type": "text",
                    },
                    "nearest_seed": {"name": "nearest_seed", "description": "Seed."},
                    "audience_rank": {
                        "name": "audience_rank",
                        "description": "Rank.",
                        "data_type": "integer",
                    },
                    "gone": {"name": "gone", "description": "Never built."},
                },
                "config": {
                    "meta": {"publish": True, "dynamic_columns": {"spend_share_*": "Share."}}
                },
            }
        )
        problems = contract_problems(connection, [model], "scratch")
    assert problems == [
        'main.audience.nearest_seed ("NULL"): NULL type (the model returned no rows and no'
        " types): cast the columns",
        "main.audience.undocumented: no description in the model's YAML",
        "main.audience.audience_rank: built as BIGINT, YAML declares data_type integer",
        "main.audience.gone: declared in YAML, not built",
    ]


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


def test_plain_dbt_build_published_this_build(
    built: BuiltProject, published: Path, exports: Path, marts: list[Relation]
) -> None:
    assert "published " in built.output
    assert published_invocation(published) == invocation_id(built.target_dir)
    with connect(published) as connection:
        assert connection.execute(REVENUE_SQL).fetchone() == (SEED_REVENUE,)
        counts = dict(
            connection.execute("select table_name, row_count from published_tables").fetchall()
        )
        (built_input,) = connection.execute("select input from build_info").fetchone()
    assert built_input == "bundled seeds"
    for mart in marts:
        assert counts[mart.name] == table_rows(built.database, mart)
        assert parquet_rows(exports / f"{mart.name}.parquet") == counts[mart.name]
    build_info = pq.read_table(exports / "build_info.parquet").to_pylist()
    assert build_info[0]["invocation_id"] == invocation_id(built.target_dir)


def test_failed_and_partial_builds_leave_the_published_copy_untouched(
    built: BuiltProject, tmp_path: Path
) -> None:
    workdir = tmp_path / "dbt"
    workdir.mkdir()
    shutil.copyfile(built.database, workdir / "warehouse.duckdb")
    first = dbt_build(workdir, select="customers")  # partial: never published
    assert "not published: a partial build (--select)" in first.output
    assert not (workdir / "published").exists()

    whole = dbt_build(workdir)
    passed_invocation = invocation_id(whole.target_dir)
    published = workdir / "published" / "warehouse.duckdb"
    assert published_invocation(published) == passed_invocation
    before = published.read_bytes()
    before_inode = published.stat().st_ino
    exported = {path.name: path.read_bytes() for path in (workdir / "exports").iterdir()}

    # An id the data lacks, given in the var, fails audience_expansion (a Python model).
    failed = dbt_build(workdir, {"audience_seed_customer_ids": ["NO_SUCH_CUSTOMER"]}, check=False)
    assert failed.returncode != 0
    assert "not published (" in failed.output
    assert published.read_bytes() == before
    assert published.stat().st_ino == before_inode
    assert published_invocation(published) == passed_invocation
    assert invocation_id(failed.target_dir) != passed_invocation
    assert {path.name: path.read_bytes() for path in (workdir / "exports").iterdir()} == exported


def test_publish_while_a_reader_holds_the_published_file(
    built: BuiltProject, zeotap_dir: Path, tmp_path: Path
) -> None:
    # dbt's working file: a copy of the seed build, rebuilt below on the Zeotap files.
    workdir = tmp_path / "dbt"
    workdir.mkdir()
    database = workdir / "warehouse.duckdb"
    shutil.copyfile(built.database, database)
    published = tmp_path / "bi" / "customer_analytics.duckdb"
    exports = tmp_path / "bi" / "exports"
    republish(built, published, None)

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
        assert f"to {published} (read-only copy) and {exports}/ (Parquet)" in output

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
        (built_input,) = connection.execute("select input from build_info").fetchone()
    assert built_input == str(zeotap_dir)
    with connect(database) as connection:
        assert connection.execute(REVENUE_SQL).fetchone() == (ZEOTAP_REVENUE,)
    assert sorted(path.name for path in published.parent.iterdir()) == sorted(
        [published.name, "exports"]
    )
    with duckdb.connect() as connection:
        revenue = connection.execute(
            "select round(sum(revenue), 2) from read_parquet($path)",
            {"path": str(exports / "regional_sales.parquet")},
        ).fetchone()
    assert revenue == (ZEOTAP_REVENUE,)


def test_a_second_publish_replaces_the_file_not_its_contents(
    built: BuiltProject, tmp_path: Path
) -> None:
    published = tmp_path / "customer_analytics.duckdb"
    republish(built, published, None)
    first_inode = published.stat().st_ino
    with connect(published) as held_open:
        republish(built, published, None)
        assert held_open.execute(REVENUE_SQL).fetchone() == (SEED_REVENUE,)
    assert published.stat().st_ino != first_inode
    assert sorted(path.name for path in tmp_path.iterdir()) == [published.name]


def test_publish_refuses_a_build_into_another_database(built: BuiltProject, tmp_path: Path) -> None:
    other = tmp_path / "customer_analytics.duckdb"
    shutil.copyfile(built.database, other)
    with pytest.raises(PublishError, match="CUSTOMER_ANALYTICS_DB"):
        publish_database_file(
            other,
            built.target_dir / "manifest.json",
            published_path=tmp_path / "published.duckdb",
            export_dir=None,
            build=BUILD,
        )


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
    printed = capsys.readouterr().err
    assert "refusing to publish" in printed
    assert len(printed.strip().splitlines()) == 1
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
    assert published_invocation(published) == invocation_id(built.target_dir)


# --- Parquet -----------------------------------------------------------------------------------


def table_rows(database: Path, mart: Relation) -> int:
    with connect(database) as connection:
        return connection.execute(f"select count(*) from {mart.sql()}").fetchone()[0]


def parquet_rows(path: Path) -> int:
    if path.is_dir():
        return sum(pq.ParquetFile(part).metadata.num_rows for part in path.rglob("*.parquet"))
    return pq.ParquetFile(path).metadata.num_rows


def test_parquet_export_one_file_per_mart(
    built: BuiltProject, marts: list[Relation], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    result = republish(built, None, exports)
    assert result.parquet == ParquetExport(
        written=[exports / f"{mart.name}.parquet" for mart in marts]
        + [exports / "build_info.parquet"],
        removed=[],
    )
    assert sorted(path.name for path in exports.iterdir()) == sorted(
        [f"{mart.name}.parquet" for mart in marts] + ["build_info.parquet"]
    )
    for mart in marts:
        assert parquet_rows(exports / f"{mart.name}.parquet") == table_rows(built.database, mart)


def test_parquet_export_replaces_files_and_removes_stale_ones(
    built: BuiltProject, marts: list[Relation], tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    republish(built, None, exports)
    # An export of a mart that has since been dropped, and a file that is not an export.
    shutil.copyfile(exports / "customers.parquet", exports / "dropped_mart.parquet")
    (exports / "README.txt").write_text("not an export")
    customers = exports / "customers.parquet"
    first_inode = customers.stat().st_ino

    with customers.open("rb") as held_open:
        result = republish(built, None, exports)
        # The old file is replaced, not rewritten: an open reader still reads it whole.
        assert pq.ParquetFile(held_open).metadata.num_rows == table_rows(
            built.database, Relation("main", "customers")
        )
    assert customers.stat().st_ino != first_inode
    assert result.parquet is not None
    assert result.parquet.removed == [exports / "dropped_mart.parquet"]
    assert sorted(path.name for path in exports.iterdir()) == sorted(
        [f"{mart.name}.parquet" for mart in marts] + ["README.txt", "build_info.parquet"]
    )


def test_partitioned_export_swaps_whole_folders(built: BuiltProject, tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    transactions = Relation("main", "transactions")
    expected_rows = table_rows(built.database, transactions)

    republish(built, None, exports, partition_by={"transactions": ["region"]})
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

    republish(built, None, exports, partition_by={"transactions": ["region"]})
    assert parquet_rows(folder) == expected_rows

    # Back to a single file: the folder goes, and no temporary or retired folder is left.
    republish(built, None, exports)
    assert not folder.exists()
    assert parquet_rows(exports / "transactions.parquet") == expected_rows
    assert not [path for path in exports.iterdir() if path.name.startswith(".")]


def test_partitioning_an_unknown_mart_is_an_error(built: BuiltProject, tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="no such mart"):
        republish(built, None, tmp_path / "exports", partition_by={"no_such_table": ["region"]})


# --- What BI tools see in the published file ---------------------------------------------------


def test_published_database_holds_exactly_the_marts(published: Path, marts: list[Relation]) -> None:
    with connect(published) as connection:
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() order by all"
        ).fetchall()
        (tags,) = connection.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchone()
    assert [Relation(*row) for row in tables] == sorted([*marts, *BUILD_TABLES])
    # Readable by any DuckDB ODBC driver since 1.0, not only by this project's DuckDB.
    assert tags == {"storage_version": "v1.0.0+"}


def test_every_published_column_has_its_yaml_description(
    published: Path, models: list[PublishedModel]
) -> None:
    with connect(published) as connection:
        columns = connection.execute(
            "select schema_name, table_name, column_name, comment from duckdb_columns()"
            " where not internal and schema_name in ('main', 'quarantine')"
        ).fetchall()
        tables = connection.execute(
            "select table_name, comment from duckdb_tables() where not internal"
        ).fetchall()
    assert not [row for row in columns if not row[3]]
    assert not [row for row in tables if not row[1]]
    by_relation = {model.relation.key(): model for model in models}
    for schema, table, column, comment in columns:
        model = by_relation.get(Relation(schema, table).key())
        if model is not None:
            assert comment == model.describe(column)
    comments = {(row[1], row[2]): row[3] for row in columns}
    # Rendered doc blocks, and the pattern description of data-dependent columns.
    assert "customer" in comments[("customers", "customer_id")].lower()
    assert comments[("customer_features", "spend_share_books")].startswith("Share of the")


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
        assert sorted(inspector.get_table_names()) == sorted(
            [mart.name for mart in marts] + [table.name for table in BUILD_TABLES]
        )
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


# --- The DuckDB that BI tools embed --------------------------------------------------------------

OLD_DUCKDB = "1.4.2"
"""The DuckDB line of the ODBC driver the Power BI connector documents."""
OLD_DUCKDB_PYTHON = "CUSTOMER_ANALYTICS_OLD_DUCKDB_PYTHON"
"""A Python with duckdb==OLD_DUCKDB installed (.ci/run provides it)."""

OLD_READER = textwrap.dedent(
    """
    import json, sys, duckdb
    connection = duckdb.connect(sys.argv[1], read_only=True)
    listed = connection.execute(
        "select schema_name, table_name, row_count from published_tables order by all"
    ).fetchall()
    tables = {}
    for schema, table, expected in listed:
        name = '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'
        rows = connection.execute("select * from " + name).fetchall()
        tables[schema + "." + table] = [len(rows), expected]
    build = connection.execute("select count(*) from build_info").fetchone()[0]
    print(json.dumps({"version": duckdb.__version__, "tables": tables, "build_rows": build}))
    """
)


@pytest.fixture(scope="module")
def old_duckdb_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(OLD_DUCKDB_PYTHON)
    if given:
        return Path(given)
    venv = tmp_path_factory.mktemp("old-duckdb") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"duckdb=={OLD_DUCKDB}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.returncode != 0:
        pytest.skip(
            f"cannot install duckdb=={OLD_DUCKDB} here; .ci/run provides it through"
            f" {OLD_DUCKDB_PYTHON}: {installed.stderr.strip()[-300:]}"
        )
    return python


def test_duckdb_1_4_opens_the_published_copy_and_reads_every_mart(
    published: Path, marts: list[Relation], old_duckdb_python: Path
) -> None:
    completed = subprocess.run(
        [str(old_duckdb_python), "-c", OLD_READER, str(published)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    assert result["version"] == OLD_DUCKDB
    assert result["build_rows"] == 1
    assert sorted(result["tables"]) == sorted(str(mart) for mart in marts)
    for name, (read, expected) in result["tables"].items():
        assert read == expected, name
    assert sum(read for read, _ in result["tables"].values()) > 0
