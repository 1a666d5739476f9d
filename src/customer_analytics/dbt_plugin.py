"""dbt-duckdb plugin: lets the project's hooks call the package (profiles.yml ``plugins:``).

dbt's Jinja cannot run Python, but dbt-duckdb hands each plugin the DuckDB connection dbt
builds with. This plugin registers two SQL functions on it, called by the hooks in
``macros/settings.sql`` and ``macros/publish.sql`` with one JSON argument each:

* ``customer_analytics_check_settings(json)`` -> '' or one line saying what is wrong
  (on-run-start, before any model runs): `customer_analytics.dbt_settings.settings_problem`.
* ``customer_analytics_publish(json)`` -> one line saying what was published (on-run-end,
  after a ``dbt build`` whose every node passed): `customer_analytics.publish.publish_from`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from customer_analytics import dbt_settings, publish
from customer_analytics.dbt_logging import forward_to_dbt

CHECK_FUNCTION = "customer_analytics_check_settings"
PUBLISH_FUNCTION = "customer_analytics_publish"

PUBLISHED_DB_ENV = "CUSTOMER_ANALYTICS_PUBLISHED_DB"
EXPORT_DIR_ENV = "CUSTOMER_ANALYTICS_EXPORT_DIR"
NO_PUBLISH_ENV = "CUSTOMER_ANALYTICS_NO_PUBLISH"


def default_published_paths(database: Path) -> tuple[Path, Path]:
    """Where a build into ``database`` publishes unless the environment says otherwise:
    ``<its folder>/published/<its name>`` and ``<its folder>/exports/``."""
    published = os.environ.get(PUBLISHED_DB_ENV) or str(
        database.parent / "published" / database.name
    )
    export_dir = os.environ.get(EXPORT_DIR_ENV) or str(database.parent / "exports")
    return Path(published), Path(export_dir)


def raw_customers_file(folder: Path, file_format: str | None) -> Path | None:
    """The raw customer file of an input folder: ``customers.<format>`` in any letter case
    (either format when ``file_format`` is None), or None when there is not exactly one."""
    suffixes = {f".{file_format}"} if file_format else {".csv", ".parquet"}
    if not folder.is_dir():
        return None
    found = [
        path
        for path in folder.iterdir()
        if path.is_file() and path.stem.lower() == "customers" and path.suffix.lower() in suffixes
    ]
    return found[0] if len(found) == 1 else None


def raw_customer_count(
    connection: duckdb.DuckDBPyConnection, folder: Path, file_format: str | None
) -> int | None:
    """Rows of the raw customer file (an upper bound on the customers segmented), or None
    when it cannot be read here (the input checks report that, naming the file)."""
    path = raw_customers_file(folder, file_format)
    if path is None:
        return None
    reader = (
        "read_parquet(?)"
        if path.suffix.lower() == ".parquet"
        else "read_csv(?, all_varchar = true)"
    )
    try:
        row = connection.execute(f"select count(*) from {reader}", [str(path)]).fetchone()
    except duckdb.Error:
        return None
    return None if row is None else int(row[0])


def check_settings(connection: duckdb.DuckDBPyConnection, payload: dict[str, Any]) -> str:
    """'' when the build's settings are fine, else one line naming the var."""
    settings = dbt_settings.load_settings(Path(payload.get("project_root") or "."))
    given = payload.get("cli_vars") or {}
    if isinstance(given, str):  # dbt hands over the raw --vars text in some versions
        import yaml

        given = yaml.safe_load(given) or {}
    values = payload["values"]
    file_format = values.get("input_format")
    count = raw_customer_count(
        connection,
        Path(str(payload.get("input_folder"))),
        str(file_format) if file_format else None,
    )
    problem = dbt_settings.settings_problem(
        settings,
        given=list(given),
        values=values,
        feature_columns=payload.get("feature_columns") or [],
        feature_patterns=payload.get("feature_patterns") or [],
        customer_count=count,
    )
    return problem or ""


def publish_build(connection: duckdb.DuckDBPyConnection, payload: dict[str, Any]) -> str:
    """Publish the build described by ``payload`` (see macros/publish.sql); one summary line."""
    database = Path(payload["database_path"])
    published, export_dir = default_published_paths(database)
    models = publish.published_models(payload["nodes"])
    values = payload.get("build") or {}
    build = publish.BuildInfo(
        built_at=dt.datetime.fromisoformat(str(values["built_at"])).astimezone(dt.UTC),
        invocation_id=str(values["invocation_id"]),
        input=str(values.get("input_dir") or "bundled seeds"),
        input_format=str(values.get("input_format") or "csv"),
        vars_given=json.dumps(values.get("vars_given") or {}, sort_keys=True, default=str),
        dbt_version=str(values.get("dbt_version")),
    )
    result = publish.publish_from(
        connection,
        str(payload["catalog"]),
        models,
        published_path=published,
        export_dir=export_dir,
        build=build,
    )
    return (
        f"published {len(result.marts)} tables of build {build.invocation_id} to {published}"
        f" (read-only copy) and {export_dir}/ (Parquet)"
    )


class Plugin(BasePlugin):
    """Registers the hooks' SQL functions on each DuckDB connection dbt opens."""

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        def check(text: str) -> str:
            cursor = conn.cursor()
            try:
                return check_settings(cursor, json.loads(text))
            except dbt_settings.SettingsError as error:
                return str(error)
            except OSError as error:
                return f"cannot read the settings' declaration: {error}"
            finally:
                cursor.close()

        def publish_udf(text: str) -> str:
            forward_to_dbt("customer_analytics.publish")  # a line per table at scale
            cursor = conn.cursor()
            try:
                return publish_build(cursor, json.loads(text))
            except publish.PublishError as error:
                return f"error: {error}"
            finally:
                cursor.close()

        varchar = duckdb.sqltype("VARCHAR")
        for name, function in ((CHECK_FUNCTION, check), (PUBLISH_FUNCTION, publish_udf)):
            conn.create_function(name, function, [varchar], varchar, side_effects=True)
