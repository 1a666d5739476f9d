"""Serve the marts to BI tools without ever sharing dbt's database file.

dbt holds a write lock on its DuckDB file while it builds, and BI tools (Power BI through the
DuckDB ODBC driver, Superset through duckdb-engine, notebooks) that open that file either block
the build or are blocked by it. So BI tools never read dbt's file. At the end of a plain
``dbt build`` whose every node passed (the on-run-end hook ``publish_after_build`` in
``macros/publish.sql`` calls `publish_from` through the dbt-duckdb plugin
`customer_analytics.dbt_plugin`):

* the published models are copied, with their YAML descriptions as table and column comments,
  into a new DuckDB file beside the published one (in DuckDB's 1.0 storage format, which every
  DuckDB and DuckDB ODBC driver since 1.0 reads) that is ``os.replace``\\ d into place. A
  reader holding the old file keeps its consistent old snapshot and never blocks a publish
  (POSIX; see docs/power-bi.md for Windows). A ``build_info`` table says which build it shows
  and ``published_tables`` how many rows each table has;
* one Parquet file per published model (and ``build_info.parquet``) is written to a temporary
  name in the export folder and renamed into place; files of models no longer published go.

Which models are published: those whose YAML says ``config: {meta: {publish: true}}``, read
from dbt's graph (the manifest), never from folder names. Before anything is written the
publish contract (`contract_problems`) is checked on each: every column described in YAML,
declared types matching the built ones (dbt enforces contracts on SQL models only, so this
is the contract of the Python models), and every type BI-safe (`bi_type_problem`: ENUM, BLOB
and the TIMESTAMP_S/_MS/_NS variants pass).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

PASSING_STATUSES: frozenset[str] = frozenset({"success", "pass", "warn", "no-op"})
"""run_results.json statuses of a node that did its job (warnings are fine)."""

DEFAULT_STORAGE_VERSION = "v1.0.0"
"""Storage format of the published file: readable by every DuckDB (and DuckDB ODBC driver) since
1.0, so a BI machine's driver need not match the DuckDB that dbt runs."""

_SOURCE_ALIAS = "dbt_build"
_TARGET_ALIAS = "customer_analytics_published"
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
    row_counts: list[tuple[str, str, int]] = field(default_factory=list)


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


def _export_file(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    target: Path,
    parameters: Sequence[object] | None = None,
) -> None:
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    _remove(temporary)
    try:
        connection.execute(
            f"copy ({query}) to {quote_literal(temporary)} (format parquet)", parameters
        )
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


# --- Which models are published -----------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredColumn:
    """A column as the model's YAML declares it."""

    name: str
    description: str
    data_type: str | None


@dataclass(frozen=True)
class PublishedModel:
    """A dbt model whose YAML says ``meta: {publish: true}``, with its declared columns."""

    name: str
    relation: Relation
    description: str
    columns: tuple[DeclaredColumn, ...]
    dynamic_columns: tuple[tuple[str, str], ...] = ()
    """Globs of data-dependent columns (``spend_share_*``) and their description, from
    ``meta.dynamic_columns``: a model with such columns cannot have a dbt contract."""

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> PublishedModel:
        """From a node of dbt's manifest (or of ``graph.nodes`` in a hook: the same shape)."""
        config = node.get("config") or {}
        meta = {**(node.get("meta") or {}), **(config.get("meta") or {})}
        columns = tuple(
            DeclaredColumn(
                name=str(column.get("name") or key),
                description=str(column.get("description") or "").strip(),
                data_type=column.get("data_type") or None,
            )
            for key, column in (node.get("columns") or {}).items()
        )
        dynamic = tuple(
            (str(pattern), str(description).strip())
            for pattern, description in (meta.get("dynamic_columns") or {}).items()
        )
        return cls(
            name=str(node["name"]),
            relation=Relation(str(node["schema"]), str(node.get("alias") or node["name"])),
            description=str(node.get("description") or "").strip(),
            columns=columns,
            dynamic_columns=dynamic,
        )

    def describe(self, column: str) -> str | None:
        """The description of an actual column: declared, or of the pattern it matches."""
        for declared in self.columns:
            if declared.name.lower() == column.lower():
                return declared.description or None
        for pattern, description in self.dynamic_columns:
            if fnmatch.fnmatchcase(column.lower(), pattern.lower()):
                return description or None
        return None


def is_published(node: Mapping[str, Any]) -> bool:
    """A model whose YAML sets ``meta: {publish: true}``."""
    if node.get("resource_type") != "model":
        return False
    meta = {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}
    return meta.get("publish") is True


def published_models(nodes: Iterable[Mapping[str, Any]]) -> list[PublishedModel]:
    """The published models among dbt nodes, sorted by relation."""
    models = [PublishedModel.from_node(node) for node in nodes if is_published(node)]
    return sorted(models, key=lambda model: model.relation)


def manifest_published_models(manifest_path: Path) -> list[PublishedModel]:
    """The published models of dbt's ``target/manifest.json``."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return published_models(manifest.get("nodes", {}).values())


_TYPE_ALIASES = {
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "SIGNED": "INTEGER",
    "INT8": "BIGINT",
    "LONG": "BIGINT",
    "INT2": "SMALLINT",
    "SHORT": "SMALLINT",
    "INT1": "TINYINT",
    "FLOAT8": "DOUBLE",
    "DOUBLE PRECISION": "DOUBLE",
    "FLOAT4": "FLOAT",
    "REAL": "FLOAT",
    "TEXT": "VARCHAR",
    "STRING": "VARCHAR",
    "CHAR": "VARCHAR",
    "BPCHAR": "VARCHAR",
    "BOOL": "BOOLEAN",
    "LOGICAL": "BOOLEAN",
    "DATETIME": "TIMESTAMP",
}


def normalize_type(data_type: str) -> str:
    """A DuckDB type name in one spelling: ``text`` -> ``VARCHAR``, ``decimal(18, 2)`` ->
    ``DECIMAL(18,2)``."""
    spelled = " ".join(data_type.strip().upper().split()).replace(", ", ",").replace(" (", "(")
    return _TYPE_ALIASES.get(spelled, spelled)


def _actual_columns(
    connection: duckdb.DuckDBPyConnection, catalog: str
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    rows = connection.execute(
        """
        select schema_name, table_name, column_name, data_type
        from duckdb_columns()
        where database_name = $catalog
        order by schema_name, table_name, column_index
        """,
        {"catalog": catalog},
    ).fetchall()
    tables: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        tables.setdefault(Relation(schema, table).key(), []).append((column, data_type))
    return tables


def contract_problems(
    connection: duckdb.DuckDBPyConnection, models: Sequence[PublishedModel], catalog: str
) -> list[str]:
    """Why the built tables of ``models`` (in ``catalog``) may not be published, one line each.

    The publish contract, checked on every published model (dbt enforces contracts on SQL
    models only; this is the same check for Python models and data-dependent columns): the
    table exists; every column is declared in YAML (or matches a ``meta.dynamic_columns``
    glob) with a description; every declared column exists with its declared ``data_type``;
    every type is BI-safe (`bi_type_problem`), and none is ``NULL`` (the type of a column of
    an empty pandas frame).
    """
    actual = _actual_columns(connection, catalog)
    problems = []
    for model in models:
        columns = actual.get(model.relation.key())
        if columns is None:
            problems.append(f"{model.relation}: table not found (did {model.name} build?)")
            continue
        if not model.description:
            problems.append(f"{model.relation}: the model has no description")
        types = {column.lower(): data_type for column, data_type in columns}
        for column, data_type in columns:
            if model.describe(column) is None:
                problems.append(f"{model.relation}.{column}: no description in the model's YAML")
            reason = bi_type_problem(data_type)
            if data_type.upper() == '"NULL"' or data_type.upper() == "NULL":
                reason = "NULL type (the model returned no rows and no types): cast the columns"
            if reason is not None:
                problems.append(f"{model.relation}.{column} ({data_type}): {reason}")
        for declared in model.columns:
            found = types.get(declared.name.lower())
            if found is None:
                problems.append(f"{model.relation}.{declared.name}: declared in YAML, not built")
            elif declared.data_type and normalize_type(declared.data_type) != normalize_type(found):
                problems.append(
                    f"{model.relation}.{declared.name}: built as {found}, YAML declares"
                    f" data_type {declared.data_type}"
                )
    return problems


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


# --- What was built -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildInfo:
    """Which build a published copy shows; written to its ``build_info`` table."""

    built_at: dt.datetime
    """When the build started, UTC (stored without time zone, as BI tools want)."""
    invocation_id: str
    input: str
    """``input_dir``, or ``bundled seeds``."""
    input_format: str
    vars_given: str
    """The ``--vars`` of the build as JSON (``{}`` for none)."""
    dbt_version: str

    def row(self) -> list[object]:
        """The values of :data:`BUILD_INFO_COLUMNS`, in order (the time without its zone)."""
        return [
            self.built_at.replace(tzinfo=None),
            self.invocation_id,
            self.input,
            self.input_format,
            self.vars_given,
            self.dbt_version,
        ]


BUILD_INFO_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("built_at", "timestamp", "When the build started (UTC)."),
    ("invocation_id", "varchar", "dbt's invocation id of the build."),
    ("input", "varchar", "The input_dir the build read, or `bundled seeds`."),
    ("input_format", "varchar", "csv or parquet."),
    ("vars_given", "varchar", "The --vars of the build, as JSON."),
    ("dbt_version", "varchar", "dbt-core version of the build."),
)
"""The ``build_info`` table (name, type, description): the published copy's and the Parquet
file's, in :meth:`BuildInfo.row` order."""


def _build_info_query() -> str:
    """One row of :data:`BUILD_INFO_COLUMNS` from bound parameters (names are constants)."""
    return "select " + ", ".join(
        f"?::{data_type} as {name}" for name, data_type, _ in BUILD_INFO_COLUMNS
    )


def _write_build_tables(
    connection: duckdb.DuckDBPyConnection,
    catalog: str,
    build: BuildInfo,
    row_counts: Sequence[tuple[str, str, int]],
) -> None:
    target = quote_identifier(catalog)
    connection.execute(
        f"create table {target}.main.build_info as {_build_info_query()}", build.row()
    )
    connection.execute(
        f"create table {target}.main.published_tables"
        " (schema_name varchar, table_name varchar, row_count bigint)"
    )
    connection.executemany(
        f"insert into {target}.main.published_tables values (?, ?, ?)", list(row_counts)
    )
    comments = {
        "build_info": "One row: the dbt build this published copy shows (written by the publish"
        " step, not a dbt model).",
        "published_tables": "One row per published table, with its row count in this build.",
    }
    column_comments = {
        **{("build_info", name): meaning for name, _, meaning in BUILD_INFO_COLUMNS},
        ("published_tables", "schema_name"): "Schema of the published table.",
        ("published_tables", "table_name"): "Name of the published table.",
        ("published_tables", "row_count"): "Rows in the table in this build.",
    }
    for table, comment in comments.items():
        connection.execute(f"comment on table {target}.main.{table} is {quote_literal(comment)}")
    for (table, column), comment in column_comments.items():
        connection.execute(
            f"comment on column {target}.main.{table}.{column} is {quote_literal(comment)}"
        )


_LOG = logging.getLogger(__name__)  # progress: one line per table copied or exported

BUILD_TABLES = (Relation("main", "build_info"), Relation("main", "published_tables"))
"""Tables the publish step adds beside the marts."""


# --- Publishing ---------------------------------------------------------------------------------


def _copy_into(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    target: str,
    models: Sequence[PublishedModel],
) -> list[tuple[str, str, int]]:
    """Copy the tables of ``models`` from catalog ``source`` to ``target`` with the YAML
    descriptions as comments; returns (schema, table, rows) of each."""
    counts = []
    for schema in sorted({model.relation.schema for model in models}):
        connection.execute(
            f"create schema if not exists {quote_identifier(target)}.{quote_identifier(schema)}"
        )
    for number, model in enumerate(models, start=1):
        relation = model.relation
        started = time.perf_counter()
        connection.execute(
            f"create table {relation.sql(target)} as select * from {relation.sql(source)}"
        )
        connection.execute(
            f"comment on table {relation.sql(target)} is {quote_literal(model.description)}"
        )
        columns = connection.execute(
            """
            select column_name from duckdb_columns()
            where database_name = $catalog and schema_name = $schema and table_name = $table
            order by column_index
            """,
            {"catalog": target, "schema": relation.schema, "table": relation.name},
        ).fetchall()
        for (column,) in columns:
            description = model.describe(column) or ""
            connection.execute(
                f"comment on column {relation.sql(target)}.{quote_identifier(column)}"
                f" is {quote_literal(description)}"
            )
        rows = connection.execute(f"select count(*) from {relation.sql(target)}").fetchone()
        counts.append((relation.schema, relation.name, int(rows[0]) if rows else 0))
        _LOG.info(
            "publish: [%d/%d] %s copied, %s rows in %.1f s",
            number,
            len(models),
            relation,
            f"{counts[-1][2]:,}",
            time.perf_counter() - started,
        )
    return counts


def publish_from(
    connection: duckdb.DuckDBPyConnection,
    source_catalog: str,
    models: Sequence[PublishedModel],
    *,
    published_path: Path | None,
    export_dir: Path | None,
    build: BuildInfo,
    storage_version: str | None = DEFAULT_STORAGE_VERSION,
    partition_by: Mapping[str, Sequence[str]] | None = None,
) -> PublishResult:
    """Publish the tables of ``models`` in ``source_catalog`` of ``connection``.

    ``connection`` is dbt's own (the on-run-end hook, through the plugin) or one that
    attached dbt's file read-only (`customer-analytics publish`). The published database is
    written to ``<published_path>.tmp-<pid>`` and ``os.replace``\\ d into place, so a failure
    at any step leaves the previous copy untouched; Parquet files are swapped in one by one
    after it. Refuses (`PublishError`, nothing written) when `contract_problems` finds any.
    """
    if published_path is None and export_dir is None:
        raise ValueError("nothing to publish to: give published_path, export_dir or both")
    if not models:
        raise PublishError("no model has meta: {publish: true} in its YAML: nothing to publish")
    problems = contract_problems(connection, models, source_catalog)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise PublishError(
            f"refusing to publish: {len(problems)} problem(s) with the published models:\n{listed}"
        )
    partition_by = dict(partition_by or {})
    relations = [model.relation for model in models]
    names = export_names([*relations, *BUILD_TABLES])
    unknown = sorted(set(partition_by) - set(names.values()))
    if unknown:
        raise PublishError(f"cannot partition {', '.join(unknown)}: no such mart")
    row_counts: list[tuple[str, str, int]] = []
    if published_path is not None:
        published_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = published_path.with_name(f"{published_path.name}.tmp-{os.getpid()}")
        temporary_wal = temporary.with_name(temporary.name + ".wal")
        _remove(temporary)
        _remove(temporary_wal)
        options = f" (storage_version {quote_literal(storage_version)})" if storage_version else ""
        try:
            connection.execute(f"attach {quote_literal(temporary)} as {_TARGET_ALIAS}{options}")
            try:
                row_counts = _copy_into(connection, source_catalog, _TARGET_ALIAS, models)
                _write_build_tables(connection, _TARGET_ALIAS, build, row_counts)
            finally:
                connection.execute(f"detach {_TARGET_ALIAS}")
            _fsync(temporary)
            # A write-ahead log left beside the published file (someone opened it read-write
            # and crashed) belongs to the old file and must not be replayed onto the new one.
            _remove(published_path.with_name(published_path.name + ".wal"))
            _replace(temporary, published_path)
            _fsync(published_path.parent)
        finally:
            _remove(temporary)
            _remove(temporary_wal)
    parquet = None
    if export_dir is not None:
        parquet = _export_parquet(
            connection, source_catalog, relations, export_dir, build, partition_by, names
        )
    return PublishResult(
        marts=relations, database=published_path, parquet=parquet, row_counts=row_counts
    )


def _export_parquet(
    connection: duckdb.DuckDBPyConnection,
    source_catalog: str,
    relations: Sequence[Relation],
    export_dir: Path,
    build: BuildInfo,
    partition_by: Mapping[str, Sequence[str]],
    names: Mapping[Relation, str],
) -> ParquetExport:
    export_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, relation in enumerate(relations, start=1):
        started = time.perf_counter()
        name = names[relation]
        query = f"select * from {relation.sql(source_catalog)}"
        if partition_by.get(name):
            target = export_dir / name
            _export_partitioned(connection, query, target, partition_by[name])
        else:
            target = export_dir / f"{name}.parquet"
            _export_file(connection, query, target)
        written.append(target)
        _LOG.info(
            "publish: [%d/%d] %s exported in %.1f s",
            number,
            len(relations),
            target.name,
            time.perf_counter() - started,
        )
    target = export_dir / "build_info.parquet"
    _export_file(connection, _build_info_query(), target, build.row())
    written.append(target)
    _fsync(export_dir)
    removed = _remove_stale_exports(export_dir, {path.name for path in written})
    return ParquetExport(written, removed)


def publish_database_file(
    database: Path,
    manifest_path: Path,
    *,
    published_path: Path | None,
    export_dir: Path | None,
    build: BuildInfo,
    storage_version: str | None = DEFAULT_STORAGE_VERSION,
    partition_by: Mapping[str, Sequence[str]] | None = None,
) -> PublishResult:
    """`publish_from` on dbt's database file, attached read-only (``customer-analytics
    publish``, re-publishing the last passing build)."""
    database = database.resolve()
    if not database.exists():
        raise PublishError(f"{database} does not exist: run `dbt build` first")
    if published_path is not None and published_path.resolve() == database:
        raise PublishError("the published database must not be dbt's own database file")
    if not manifest_path.exists():
        raise PublishError(f"{manifest_path} not found: run `dbt build` first")
    models = manifest_published_models(manifest_path)
    nodes = json.loads(manifest_path.read_text(encoding="utf-8")).get("nodes", {}).values()
    built_into = {str(node["database"]).lower() for node in nodes if is_published(node)}
    if built_into and not built_into & {database.stem.lower(), database.name.split(".")[0].lower()}:
        raise PublishError(
            f"{manifest_path} describes a build into database {sorted(built_into)}, not"
            f" {database}: set CUSTOMER_ANALYTICS_DB (or --database) to the file dbt built"
        )
    with duckdb.connect() as connection:
        try:
            connection.execute(f"attach {quote_literal(database)} as {_SOURCE_ALIAS} (read_only)")
        except duckdb.IOException as error:
            raise PublishError(
                f"cannot open {database} read-only (is dbt still writing it?): {error}"
            ) from error
        return publish_from(
            connection,
            _SOURCE_ALIAS,
            models,
            published_path=published_path,
            export_dir=export_dir,
            build=build,
            storage_version=storage_version,
            partition_by=partition_by,
        )


def read_build_info(published: Path) -> dict[str, Any]:
    """The ``build_info`` row of a published copy, with ``row_counts`` ({table: rows})."""
    with duckdb.connect(str(published), read_only=True) as connection:
        row = connection.execute("select * from build_info").fetchone()
        names = [column[0] for column in connection.description or []]
        counts = connection.execute(
            "select table_name, row_count from published_tables order by table_name"
        ).fetchall()
    if row is None:
        raise PublishError(f"{published} has an empty build_info table")
    info = dict(zip(names, row, strict=True))
    info["row_counts"] = dict(counts)
    return info


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
