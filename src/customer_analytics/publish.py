"""Serve the marts to BI tools without ever sharing dbt's database file.

dbt holds a write lock on its DuckDB file while it builds, and BI tools (Power BI through the
DuckDB ODBC driver, Superset through duckdb-engine, notebooks) that open that file either block
the build or are blocked by it. So BI tools never read dbt's file. After a build that passed:

* `publish_database` copies the marts, with their table and column comments (``persist_docs``),
  into a new DuckDB file beside the published one and ``os.replace``\\ s it into place. A reader
  that holds the old file open keeps its consistent old snapshot and never blocks a publish
  (POSIX; see docs/power-bi.md for Windows); a reader that reopens sees the new data.
* `export_parquet` writes one Parquet file per mart, each to a temporary name in the same
  folder and renamed into place, and removes the files of marts that no longer exist.

Which relations are marts: the tables of the dbt models under ``models/marts/``,
``models/quarantine/`` and ``python_models/``, read from dbt's ``target/manifest.json`` and kept
only where they exist in the database (a stale table of a deleted model is never published, a
model that failed to build is simply absent). Without a manifest, the fallback is every table
in the ``main`` and ``quarantine`` schemas except ``int_*`` (intermediate models, by the
project's naming convention).

Types BI tools read badly make a publish fail rather than reach a dashboard; see
`bi_type_problem` for the list and the reasons. ENUM is allowed (the ODBC driver, Parquet and
SQLAlchemy all read it as text), and so are BLOB and the TIMESTAMP_S/_MS/_NS variants.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

MART_SCHEMAS: tuple[str, ...] = ("main", "quarantine")
"""Schemas the marts live in (dbt target schema ``main``, and ``quarantine``)."""

MART_FOLDERS: tuple[str, ...] = ("models/marts/", "models/quarantine/", "python_models/")
"""dbt model folders whose tables are marts."""

MART_MATERIALIZATIONS: frozenset[str] = frozenset({"table", "incremental"})

PASSING_STATUSES: frozenset[str] = frozenset({"success", "pass", "warn", "no-op"})
"""run_results.json statuses of a node that did its job (warnings are fine)."""

DEFAULT_STORAGE_VERSION = "v1.0.0"
"""Storage format of the published file: readable by every DuckDB (and DuckDB ODBC driver) since
1.0, so a BI machine's driver need not match the DuckDB that dbt runs."""

_SOURCE_ALIAS = "dbt_build"
_UNSIGNED = frozenset({"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"})
_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")
_BI_SAFE_DECIMAL_DIGITS = 18


class PublishError(RuntimeError):
    """The marts cannot be published; the message says why and what to do."""


@dataclass(frozen=True, order=True)
class Relation:
    """A table, by schema and name (DuckDB compares identifiers case-insensitively)."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"

    def key(self) -> tuple[str, str]:
        return (self.schema.lower(), self.name.lower())

    def sql(self, catalog: str | None = None) -> str:
        parts = ([catalog] if catalog else []) + [self.schema, self.name]
        return ".".join(quote_identifier(part) for part in parts)


@dataclass(frozen=True)
class UnsafeColumn:
    """A column whose type BI tools read badly, and why."""

    schema: str
    table: str
    column: str
    data_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}.{self.column} ({self.data_type}): {self.reason}"


@dataclass(frozen=True)
class ParquetExport:
    """What `export_parquet` wrote (a file or, when partitioned, a folder per mart) and removed."""

    written: list[Path]
    removed: list[Path]


@dataclass(frozen=True)
class PublishResult:
    """What `publish` produced: the published database, its marts, the Parquet export."""

    marts: list[Relation]
    database: Path | None = None
    parquet: ParquetExport | None = None


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str | os.PathLike[str]) -> str:
    return "'" + str(text).replace("'", "''") + "'"


# --- Types ------------------------------------------------------------------------------------


def bi_type_problem(data_type: str) -> str | None:
    """Why a DuckDB type (as ``duckdb_columns().data_type`` spells it) is bad for BI, or None.

    Flagged: HUGEINT/UHUGEINT, unsigned integers, DECIMAL above 18 digits, TIMESTAMP and TIME
    WITH TIME ZONE, UUID, INTERVAL, nested types (LIST, ARRAY, STRUCT, MAP, UNION), BIT and
    BIGNUM (VARINT). ENUM, BLOB and the TIMESTAMP_S/_MS/_NS variants pass.
    """
    spelled = " ".join(data_type.strip().upper().split())
    if spelled.endswith("]") or spelled.startswith(("STRUCT(", "MAP(", "UNION(")):
        return (
            "nested type (LIST/ARRAY/STRUCT/MAP/UNION): Power BI, ODBC and most BI tools read"
            " scalar columns only; unnest it into rows or a child table"
        )
    if spelled in {"HUGEINT", "INT128", "UHUGEINT", "UINT128"}:
        return (
            "128-bit integer (what SUM() of an integer column returns): the ODBC driver and"
            " Power BI have no 128-bit integer type; cast to BIGINT (or DOUBLE) in the model"
        )
    if spelled in _UNSIGNED:
        return (
            "unsigned integer: ODBC and Power BI have signed integers only and read it as"
            " another type or as text; cast to a signed integer one size up"
        )
    decimal = _DECIMAL.match(spelled)
    if decimal and int(decimal.group(1)) > _BI_SAFE_DECIMAL_DIGITS:
        return (
            f"DECIMAL with {decimal.group(1)} digits is stored as a 128-bit integer; Power BI's"
            " fixed decimal holds 19 digits (4 after the point) and ODBC hands it over as text;"
            " cast to DECIMAL(18, s) or DOUBLE (round(sum(x), 2) of a DECIMAL widens it to 38)"
        )
    if spelled in {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}:
        return (
            "TIMESTAMP WITH TIME ZONE is shown in each reader's TimeZone setting, so Power BI,"
            " ODBC and Parquet readers see different clock times; store a TIMESTAMP in UTC"
        )
    if spelled in {"TIME WITH TIME ZONE", "TIMETZ"}:
        return "TIME WITH TIME ZONE has no Power BI or ODBC type; store a TIME in UTC"
    if spelled == "UUID":
        return (
            "UUID is a 128-bit type that ODBC and Parquet readers return as binary or text"
            " inconsistently; cast to VARCHAR"
        )
    if spelled == "INTERVAL":
        return (
            "INTERVAL (months, days and microseconds) has no Power BI type; store a number of"
            " days or seconds"
        )
    if spelled in {"BIT", "BITSTRING"}:
        return "BIT string has no BI type; store VARCHAR or integer flags"
    if spelled in {"BIGNUM", "VARINT"}:
        return (
            "arbitrary-precision integer has no BI type; cast to BIGINT, DECIMAL(18, 0) or DOUBLE"
        )
    return None


def unsafe_columns(
    connection: duckdb.DuckDBPyConnection,
    schemas: Iterable[str],
    *,
    tables: Iterable[Relation] | None = None,
    catalog: str | None = None,
) -> list[UnsafeColumn]:
    """Every column in ``schemas`` (of ``catalog``, default the current database) whose type BI
    tools read badly, in catalog order. ``tables`` restricts the scan to those relations."""
    wanted_schemas = sorted({schema.lower() for schema in schemas})
    wanted_tables = None if tables is None else {table.key() for table in tables}
    rows = connection.execute(
        """
        select schema_name, table_name, column_name, data_type
        from duckdb_columns()
        where database_name = coalesce($catalog, current_database())
            and list_contains($schemas, lower(schema_name))
        order by schema_name, table_name, column_index
        """,
        {"catalog": catalog, "schemas": wanted_schemas},
    ).fetchall()
    findings = []
    for schema, table, column, data_type in rows:
        if wanted_tables is not None and Relation(schema, table).key() not in wanted_tables:
            continue
        reason = bi_type_problem(data_type)
        if reason is not None:
            findings.append(UnsafeColumn(schema, table, column, data_type, reason))
    return findings


def require_bi_safe(
    connection: duckdb.DuckDBPyConnection,
    marts: Sequence[Relation],
    *,
    catalog: str | None = None,
) -> None:
    """Raise `PublishError` listing every mart column `unsafe_columns` flags."""
    findings = unsafe_columns(
        connection, {mart.schema for mart in marts}, tables=marts, catalog=catalog
    )
    if findings:
        listed = "\n".join(f"  - {finding}" for finding in findings)
        raise PublishError(
            f"refusing to publish: {len(findings)} mart column(s) have types BI tools read"
            f" badly. Cast them in the models:\n{listed}"
        )


# --- Which tables are marts -------------------------------------------------------------------


def manifest_marts(manifest_path: Path) -> tuple[set[Relation], set[str]]:
    """The mart relations a dbt manifest declares, and the database names it builds them in."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    relations: set[Relation] = set()
    databases: set[str] = set()
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        if node.get("config", {}).get("materialized") not in MART_MATERIALIZATIONS:
            continue
        path = str(node.get("original_file_path", "")).replace("\\", "/")
        if not path.startswith(MART_FOLDERS):
            continue
        relations.add(Relation(node["schema"], node.get("alias") or node["name"]))
        if node.get("database"):
            databases.add(str(node["database"]))
    return relations, databases


def _database_names(database: Path) -> set[str]:
    """Names dbt-duckdb or DuckDB may give the catalog of ``database``."""
    return {database.stem.lower(), database.name.split(".")[0].lower()}


def find_marts(
    connection: duckdb.DuckDBPyConnection,
    manifest_path: Path | None = None,
    *,
    catalog: str | None = None,
    database: Path | None = None,
) -> list[Relation]:
    """The marts that exist in ``catalog`` (default the current database), sorted.

    With a manifest: its models under `MART_FOLDERS` that are tables in the database. When
    ``database`` is given, the manifest must have been built into that file (its models'
    database is the file's name), so a build into another target is never published by
    mistake. Without a manifest: the tables of `MART_SCHEMAS`, except ``int_*``.
    """
    existing = [
        Relation(schema, name)
        for schema, name in connection.execute(
            """
            select schema_name, table_name
            from duckdb_tables()
            where database_name = coalesce($catalog, current_database())
                and not internal and not temporary
            order by schema_name, table_name
            """,
            {"catalog": catalog},
        ).fetchall()
    ]
    if manifest_path is not None and manifest_path.exists():
        declared, databases = manifest_marts(manifest_path)
        if database is not None and databases and not databases & _database_names(database):
            raise PublishError(
                f"{manifest_path} describes a build into database {sorted(databases)}, not"
                f" {database}: set CUSTOMER_ANALYTICS_DB (or --database) to the file dbt built"
            )
        keys = {relation.key() for relation in declared}
        return [relation for relation in existing if relation.key() in keys]
    return [
        relation
        for relation in existing
        if relation.schema.lower() in MART_SCHEMAS and not relation.name.lower().startswith("int_")
    ]


def export_names(marts: Sequence[Relation]) -> dict[Relation, str]:
    """The export name of each mart: its table name; two marts of one name are an error."""
    names: dict[str, Relation] = {}
    for mart in marts:
        clash = names.get(mart.name.lower())
        if clash is not None:
            raise PublishError(
                f"marts {clash} and {mart} would both export to {mart.name}.parquet: rename one"
            )
        names[mart.name.lower()] = mart
    return {mart: mart.name for mart in marts}


# --- Parquet ----------------------------------------------------------------------------------


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or on POSIX a folder) to disk before it is renamed or relied on."""
    if path.is_dir() and os.name == "nt":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _replace(source: Path, target: Path, attempts: int = 20, delay_s: float = 0.25) -> None:
    """``os.replace``, retried for a few seconds on Windows, where a reader's open handle makes
    the rename fail for a moment (POSIX renames over open files)."""
    for attempt in range(attempts):
        try:
            os.replace(source, target)
            return
        except PermissionError as error:
            if os.name != "nt" or attempt == attempts - 1:
                raise PublishError(
                    f"cannot replace {target}: another program holds it open ({error}). On"
                    " Windows, close the BI tool's connection to it and publish again, or"
                    " read the Parquet export instead (docs/power-bi.md)"
                ) from error
            time.sleep(delay_s)


def _is_partitioned_export(folder: Path) -> bool:
    """True for a folder `export_parquet` wrote: only ``key=value`` folders and Parquet files."""
    entries = list(folder.rglob("*"))
    files = [entry for entry in entries if entry.is_file()]
    folders = [entry for entry in entries if entry.is_dir()]
    return (
        bool(files)
        and all(entry.suffix == ".parquet" for entry in files)
        and all("=" in entry.name for entry in folders)
    )


def _export_file(connection: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    _remove(temporary)
    try:
        connection.execute(f"copy ({query}) to {quote_literal(temporary)} (format parquet)")
        _fsync(temporary)
        _replace(temporary, target)
    finally:
        _remove(temporary)


def _export_partitioned(
    connection: duckdb.DuckDBPyConnection, query: str, target: Path, columns: Sequence[str]
) -> None:
    """Write the whole partitioned folder under a temporary name, then swap folders: the old
    one is renamed aside, the new one renamed in, the old one deleted. A reader sees either all
    old or all new partitions (and, for the instant between the renames, no folder)."""
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    _remove(temporary)
    _remove(retired)
    partition = ", ".join(quote_identifier(column) for column in columns)
    try:
        connection.execute(
            f"copy ({query}) to {quote_literal(temporary)}"
            f" (format parquet, partition_by ({partition}), write_partition_columns true)"
        )
        for written in temporary.rglob("*.parquet"):
            _fsync(written)
        if target.exists() and not target.is_dir():
            raise PublishError(f"{target} exists and is not a partitioned export: remove it")
        moved_aside = target.is_dir()
        if moved_aside:
            _replace(target, retired)
        try:
            _replace(temporary, target)
        except BaseException:
            if moved_aside and not target.exists():
                os.replace(retired, target)  # put the old partitions back
            raise
        _fsync(target.parent)
    finally:
        _remove(temporary)
        _remove(retired)


def _remove_stale_exports(export_dir: Path, keep: set[str]) -> list[Path]:
    """Remove the exports of marts that no longer exist (``*.parquet`` files and partitioned
    folders); hidden files (in-flight temporaries) and anything else are left alone."""
    removed = []
    for entry in sorted(export_dir.iterdir()):
        if entry.name.startswith(".") or entry.name in keep:
            continue
        stale_file = entry.is_file() and entry.suffix == ".parquet"
        if stale_file or (entry.is_dir() and _is_partitioned_export(entry)):
            _remove(entry)
            removed.append(entry)
    return removed


def export_parquet(
    database: Path,
    export_dir: Path,
    *,
    manifest_path: Path | None = None,
    partition_by: Mapping[str, Sequence[str]] | None = None,
) -> ParquetExport:
    """Every mart of ``database`` to ``export_dir/<table>.parquet``, replaced atomically.

    ``partition_by`` maps a mart to the columns to partition it by (hive layout): it is
    written to the folder ``export_dir/<table>/`` instead, swapped in whole. Exports of marts
    that no longer exist are removed. Refuses (`PublishError`) when a mart has a BI-unsafe type.
    """
    partition_by = dict(partition_by or {})
    export_dir.mkdir(parents=True, exist_ok=True)
    with _open_read_only(database) as connection:
        marts = find_marts(connection, manifest_path, database=database)
        if not marts:
            raise PublishError(f"no marts found in {database}: has `dbt build` run?")
        require_bi_safe(connection, marts)
        names = export_names(marts)
        unknown = sorted(set(partition_by) - set(names.values()))
        if unknown:
            raise PublishError(f"cannot partition {', '.join(unknown)}: no such mart")
        written = []
        for mart in marts:
            name = names[mart]
            query = f"select * from {mart.sql()}"
            if partition_by.get(name):
                target = export_dir / name
                _export_partitioned(connection, query, target, partition_by[name])
            else:
                target = export_dir / f"{name}.parquet"
                _export_file(connection, query, target)
            written.append(target)
    _fsync(export_dir)
    removed = _remove_stale_exports(export_dir, {path.name for path in written})
    return ParquetExport(written, removed)


# --- Published database -----------------------------------------------------------------------


def _open_read_only(database: Path) -> duckdb.DuckDBPyConnection:
    if not database.exists():
        raise PublishError(f"{database} does not exist: run `dbt build` first")
    try:
        return duckdb.connect(str(database), read_only=True)
    except duckdb.IOException as error:
        raise PublishError(
            f"cannot open {database} read-only (is dbt still writing it?): {error}"
        ) from error


def _copy_comments(connection: duckdb.DuckDBPyConnection, marts: Sequence[Relation]) -> int:
    """Re-create the source's table and column comments on the copies; returns how many."""
    keys = {mart.key() for mart in marts}
    copied = 0
    table_comments = connection.execute(
        """
        select schema_name, table_name, comment from duckdb_tables()
        where database_name = $source and comment is not null
        """,
        {"source": _SOURCE_ALIAS},
    ).fetchall()
    for schema, table, comment in table_comments:
        relation = Relation(schema, table)
        if relation.key() in keys:
            connection.execute(f"comment on table {relation.sql()} is {quote_literal(comment)}")
            copied += 1
    column_comments = connection.execute(
        """
        select schema_name, table_name, column_name, comment from duckdb_columns()
        where database_name = $source and comment is not null
        """,
        {"source": _SOURCE_ALIAS},
    ).fetchall()
    for schema, table, column, comment in column_comments:
        relation = Relation(schema, table)
        if relation.key() in keys:
            target = f"{relation.sql()}.{quote_identifier(column)}"
            connection.execute(f"comment on column {target} is {quote_literal(comment)}")
            copied += 1
    return copied


def publish_database(
    database: Path,
    published_path: Path,
    *,
    manifest_path: Path | None = None,
    storage_version: str | None = DEFAULT_STORAGE_VERSION,
) -> list[Relation]:
    """Copy the marts of ``database`` (dbt's file) with their comments into a new DuckDB file
    ``<published_path>.tmp-<pid>`` and ``os.replace`` it over ``published_path``.

    Readers of the published file open it read-only; one that holds the old file open keeps
    reading its old snapshot. Refuses (`PublishError`) when a mart has a BI-unsafe type.
    ``storage_version`` is the oldest DuckDB (ODBC driver) release that must read the file
    (None: this DuckDB's own format). Returns the marts published.
    """
    database = database.resolve()
    if not database.exists():
        raise PublishError(f"{database} does not exist: run `dbt build` first")
    published_path.parent.mkdir(parents=True, exist_ok=True)
    if published_path.resolve() == database:
        raise PublishError("the published database must not be dbt's own database file")
    temporary = published_path.with_name(f"{published_path.name}.tmp-{os.getpid()}")
    temporary_wal = temporary.with_name(temporary.name + ".wal")
    _remove(temporary)
    _remove(temporary_wal)
    try:
        config = {"storage_compatibility_version": storage_version} if storage_version else {}
        with duckdb.connect(str(temporary), config=config) as connection:
            try:
                connection.execute(
                    f"attach {quote_literal(database)} as {_SOURCE_ALIAS} (read_only)"
                )
            except duckdb.IOException as error:
                raise PublishError(
                    f"cannot open {database} read-only (is dbt still writing it?): {error}"
                ) from error
            marts = find_marts(connection, manifest_path, catalog=_SOURCE_ALIAS, database=database)
            if not marts:
                raise PublishError(f"no marts found in {database}: has `dbt build` run?")
            require_bi_safe(connection, marts, catalog=_SOURCE_ALIAS)
            for schema in sorted({mart.schema for mart in marts}):
                connection.execute(f"create schema if not exists {quote_identifier(schema)}")
            for mart in marts:
                connection.execute(
                    f"create table {mart.sql()} as select * from {mart.sql(_SOURCE_ALIAS)}"
                )
            _copy_comments(connection, marts)
            connection.execute(f"detach {_SOURCE_ALIAS}")
            connection.execute("checkpoint")
        _fsync(temporary)
        # A write-ahead log left beside the published file (someone opened it read-write and
        # crashed) belongs to the old file and must not be replayed onto the new one.
        _remove(published_path.with_name(published_path.name + ".wal"))
        _replace(temporary, published_path)
        _fsync(published_path.parent)
    finally:
        _remove(temporary)
        _remove(temporary_wal)
    return marts


# --- Did the build pass? ----------------------------------------------------------------------


def build_problems(target_dir: Path) -> list[str]:
    """Why the last dbt invocation recorded in ``target_dir/run_results.json`` is not a passing
    ``dbt build``: empty when it was one (warnings are fine), else one line per problem."""
    path = target_dir / "run_results.json"
    if not path.exists():
        return [f"{path} not found: run `dbt build` first"]
    try:
        payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        return [f"{path} is not valid JSON ({error})"]
    problems = []
    command = payload.get("args", {}).get("which")
    if command != "build":
        problems.append(f"the last dbt invocation was `dbt {command}`, not `dbt build`")
    results = payload.get("results") or []
    if not results:
        problems.append("the last dbt invocation ran no nodes")
    # Errors and failures first; the nodes they made dbt skip after them.
    for result in sorted(results, key=lambda result: result.get("status") == "skipped"):
        status = str(result.get("status"))
        if status not in PASSING_STATUSES:
            message = (result.get("message") or "").strip().splitlines()
            detail = f": {message[0]}" if message else ""
            problems.append(f"{result.get('unique_id')} {status}{detail}")
    return problems


def build_passed(target_dir: Path) -> bool:
    """Whether ``target_dir/run_results.json`` records a ``dbt build`` whose every node passed."""
    return not build_problems(target_dir)


# --- Both at once -----------------------------------------------------------------------------


def publish(
    database: Path,
    *,
    published_path: Path | None,
    export_dir: Path | None,
    manifest_path: Path | None = None,
    partition_by: Mapping[str, Sequence[str]] | None = None,
    storage_version: str | None = DEFAULT_STORAGE_VERSION,
) -> PublishResult:
    """Publish ``database`` to ``published_path`` and to ``export_dir`` (None skips either).

    The database goes first: when a mart has a BI-unsafe type, nothing is written at all.
    """
    if published_path is None and export_dir is None:
        raise ValueError("nothing to publish to: give published_path, export_dir or both")
    marts: list[Relation] = []
    if published_path is not None:
        marts = publish_database(
            database, published_path, manifest_path=manifest_path, storage_version=storage_version
        )
    parquet = None
    if export_dir is not None:
        parquet = export_parquet(
            database, export_dir, manifest_path=manifest_path, partition_by=partition_by
        )
        if not marts:
            with _open_read_only(database) as connection:
                marts = find_marts(connection, manifest_path, database=database)
    return PublishResult(marts=marts, database=published_path, parquet=parquet)
