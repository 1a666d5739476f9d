"""`customer-analytics`: the project's command line.

    customer-analytics build [options] [dbt build args]   dbt build (which publishes if it passed)
    customer-analytics publish ...         re-publish the last passing build for BI tools
    customer-analytics lookalikes-csv ...  the assignment's Lookalike.csv from the published copy
    customer-analytics report ...          charts and tables as one offline HTML file (reports/)
    customer-analytics settings ...        the settings table (name, default, allowed, meaning)
    customer-analytics generate ...        synthetic data in the Zeotap layout

Plain `dbt build` publishes by itself (the project's on-run-end hook): after a build whose
every node passed, a read-only copy of the published models goes to
published/customer_analytics.duckdb and one Parquet file per model to exports/
(CUSTOMER_ANALYTICS_PUBLISHED_DB and CUSTOMER_ANALYTICS_EXPORT_DIR move them). `report` and
`lookalikes-csv` read that copy. Each command's --help lists its options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import yaml

from customer_analytics import (
    dbt_plugin,
    dbt_settings,
    deliverables,
    generate,
    publish,
    spark_runner,
)

DEFAULT_DATABASE = Path("customer_analytics.duckdb")
DEFAULT_TARGET_PATH = Path("target")
PROJECT_DIR = Path.cwd


class CommandError(Exception):
    """An expected failure: printed as one line, exit status 1."""


def database_path() -> Path:
    """dbt's working database: the `CUSTOMER_ANALYTICS_DB` variable or the profile's default."""
    return Path(os.environ.get("CUSTOMER_ANALYTICS_DB", str(DEFAULT_DATABASE)))


def published_database_path() -> Path:
    """Where BI tools, the report and lookalikes-csv read (see `dbt_plugin`)."""
    return dbt_plugin.default_published_paths(database_path())[0]


def export_dir_path() -> Path:
    """Where the Parquet files go (see `dbt_plugin`)."""
    return dbt_plugin.default_published_paths(database_path())[1]


def _parse_partition(text: str) -> tuple[str, list[str]]:
    table, _, columns = text.partition("=")
    names = [column.strip() for column in columns.split(",") if column.strip()]
    if not table.strip() or not names:
        raise argparse.ArgumentTypeError(f"expected TABLE=COLUMN[,COLUMN], got {text!r}")
    return table.strip(), names


def _add_destinations(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--published",
        type=Path,
        default=None,
        help="published database file (default: $CUSTOMER_ANALYTICS_PUBLISHED_DB or"
        " published/<dbt's database file name> beside dbt's database)",
    )
    parser.add_argument(
        "--export-dir",
        type=Path,
        default=None,
        help="Parquet folder (default: $CUSTOMER_ANALYTICS_EXPORT_DIR or exports/ beside"
        " dbt's database)",
    )


# --- build --------------------------------------------------------------------------------------


def check_vars_argument(dbt_args: Sequence[str]) -> None:
    """Fail with one line when ``--vars`` is not YAML dbt can read (dbt itself prints a
    traceback for, e.g., an unquoted 2025-13-01, which YAML takes for a date)."""
    for index, argument in enumerate(dbt_args):
        if argument == "--vars" and index + 1 < len(dbt_args):
            text = dbt_args[index + 1]
        elif argument.startswith("--vars="):
            text = argument.split("=", 1)[1]
        else:
            continue
        try:
            value = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError) as error:
            reason = " ".join(str(error).split())
            raise CommandError(
                f"--vars {text!r} is not valid YAML ({reason}); quote dates and text,"
                " e.g. --vars '{as_of_date: \"2025-01-31\"}'"
            ) from error
        if value is not None and not isinstance(value, Mapping):
            raise CommandError(f"--vars {text!r} must be a mapping, e.g. '{{segment_count: 4}}'")


@contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, leave) environment variables for the duration of a build."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is not None:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_dbt_build(dbt_args: Sequence[str]) -> int:
    """`dbt build` in this process through dbt's programmatic runner; its exit status."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["build", *dbt_args])
    if result.exception is not None:
        first = str(result.exception).strip().splitlines()
        raise CommandError(f"dbt build could not run: {first[0] if first else result.exception}")
    return 0 if result.success else 1


BuildRunner = Callable[[Sequence[str]], int]


def choose_build_runner(dbt_args: Sequence[str]) -> BuildRunner:
    """The runner for these dbt arguments. The seam for other engines: a target that dbt
    cannot build with DuckDB alone (``--target spark``) gets its own runner here."""
    if spark_runner.target_type(dbt_args) == "spark":
        # dbt in process with the runner for dbt Python models on Spark (docs/spark.md).
        return spark_runner.run_dbt_build
    return run_dbt_build


def _run_build(args: argparse.Namespace, dbt_args: Sequence[str]) -> int:
    check_vars_argument(dbt_args)
    environment = {
        dbt_plugin.PUBLISHED_DB_ENV: str(args.published) if args.published else None,
        dbt_plugin.EXPORT_DIR_ENV: str(args.export_dir) if args.export_dir else None,
        dbt_plugin.NO_PUBLISH_ENV: "1" if args.no_publish else None,
    }
    with _environment(environment):
        status = choose_build_runner(dbt_args)(dbt_args)
    if status != 0:
        print(
            "error: dbt build did not pass (see the lines above): nothing was published, the"
            " previous published copy is unchanged",
            file=sys.stderr,
        )
    return status


# --- publish ------------------------------------------------------------------------------------


def _build_info_from_run_results(target_path: Path) -> publish.BuildInfo:
    payload = json.loads((target_path / "run_results.json").read_text(encoding="utf-8"))
    metadata = payload.get("metadata") or {}
    given = (payload.get("args") or {}).get("vars") or {}
    if isinstance(given, str):
        given = yaml.safe_load(given) or {}
    started = str(metadata.get("invocation_started_at") or metadata.get("generated_at"))
    return publish.BuildInfo(
        built_at=dt.datetime.fromisoformat(started.replace("Z", "+00:00")).astimezone(dt.UTC),
        invocation_id=str(metadata.get("invocation_id")),
        input=str(given.get("input_dir") or "bundled seeds"),
        input_format=str(given.get("input_format") or "csv"),
        vars_given=json.dumps(given, sort_keys=True, default=str),
        dbt_version=str(metadata.get("dbt_version")),
    )


def _run_publish(args: argparse.Namespace) -> int:
    problems = publish.build_problems(args.target_path)
    if problems:
        raise CommandError(
            f"refusing to publish {args.database}: the last dbt invocation in"
            f" {args.target_path} is not a passing full `dbt build` ({problems[0]}"
            + (f"; and {len(problems) - 1} more" if len(problems) > 1 else "")
            + ")"
        )
    published = None if args.no_database else (args.published or published_database_path())
    export_dir = None if args.no_export else (args.export_dir or export_dir_path())
    if published is None and export_dir is None:
        raise CommandError("nothing to publish: --no-database and --no-export both given")
    try:
        result = publish.publish_database_file(
            args.database,
            args.target_path / "manifest.json",
            published_path=published,
            export_dir=export_dir,
            build=_build_info_from_run_results(args.target_path),
            partition_by=dict(args.partition),
            storage_version=None if args.storage_version == "latest" else args.storage_version,
        )
    except publish.PublishError as error:
        raise CommandError(str(error)) from error
    print(f"published {len(result.marts)} tables from {args.database}:", file=sys.stderr)
    if result.database is not None:
        print(f"  wrote {result.database} (open it read-only)", file=sys.stderr)
    if result.parquet is not None:
        for path in result.parquet.written:
            print(f"  wrote {path}", file=sys.stderr)
        for path in result.parquet.removed:
            print(f"  removed {path} (no longer published)", file=sys.stderr)
    return 0


# --- deliverables -------------------------------------------------------------------------------


def _build_line(database: Path) -> str:
    try:
        info = publish.read_build_info(database)
    except (duckdb.Error, publish.PublishError):
        return f"from {database} (not a published copy: the build it holds is unknown)"
    counts = info["row_counts"]
    built_at = info["built_at"].strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"from the build of {built_at} UTC on {info['input']} ({info['input_format']}):"
        f" {counts.get('customers', 0):,} customers, {counts.get('transactions', 0):,}"
        " transactions"
    )


def _run_lookalikes_csv(args: argparse.Namespace) -> int:
    try:
        customer_ids = (
            None if args.customers is None else deliverables.expand_customer_ids(args.customers)
        )
        frame = deliverables.write_lookalike_csv(args.database, customer_ids, args.output)
    except deliverables.DeliverableError as error:
        raise CommandError(str(error)) from error
    print(
        f"wrote {len(frame)} customers to {args.output} {_build_line(args.database)}",
        file=sys.stderr,
    )
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from customer_analytics import report  # matplotlib loads only for this command

    try:
        page = report.render_report(args.database, args.output)
    except report.ReportError as error:
        raise CommandError(str(error)) from error
    print(
        f"wrote {page} and one PNG per chart in {args.output} {_build_line(args.database)}",
        file=sys.stderr,
    )
    return 0


def _run_settings(args: argparse.Namespace) -> int:
    try:
        settings = dbt_settings.load_settings(args.project_dir)
    except (OSError, dbt_settings.SettingsError) as error:
        raise CommandError(f"cannot read the settings of {args.project_dir}: {error}") from error
    table = dbt_settings.settings_table(settings)
    if args.update_readme is None and args.check_readme is None:
        print(table)
        return 0
    readme: Path = args.update_readme or args.check_readme
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot read {readme}: {error.strerror or error}") from error
    if args.check_readme is not None:
        if dbt_settings.readme_settings_table(text) != table:
            raise CommandError(
                f"the settings table in {readme} is out of date:"
                f" run `customer-analytics settings --update-readme {readme}`"
            )
        print(f"{readme}: the settings table matches dbt_project.yml", file=sys.stderr)
        return 0
    try:
        readme.write_text(dbt_settings.update_readme(text, table), encoding="utf-8")
    except dbt_settings.SettingsError as error:
        raise CommandError(str(error)) from error
    print(f"updated the settings table in {readme}", file=sys.stderr)
    return 0


# --- The parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customer-analytics",
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generator = commands.add_parser(
        "generate",
        help="write synthetic Customers/Products/Transactions with planted archetypes",
        description="Write synthetic Customers/Products/Transactions in the Zeotap layout.",
    )
    generate.add_arguments(generator)

    builder = commands.add_parser(
        "build",
        help="run `dbt build` (further arguments go to dbt); it publishes if every node passed",
        description="Run `dbt build` in this process (dbt's programmatic runner). Every"
        " argument not listed here goes to dbt unchanged, e.g. --vars '{segment_count: 4}',"
        " --select, --target (see `dbt build --help`). The build checks the settings before"
        " any model runs and publishes for BI tools when every node passed; a failed or"
        " partial build leaves the published copy as it was.",
        allow_abbrev=False,
    )
    _add_destinations(builder)
    builder.add_argument(
        "--no-publish", action="store_true", help="build only; leave the published copy as it is"
    )

    publisher = commands.add_parser(
        "publish",
        help="re-publish the last passing `dbt build` for BI tools",
        description="Publish the models of dbt's database whose YAML says meta: {publish: true}"
        " again (plain `dbt build` already does): a database file to open read-only and one"
        " Parquet file per model. Refuses unless target/run_results.json records a full"
        " `dbt build` whose every node passed.",
    )
    publisher.add_argument(
        "--database",
        type=Path,
        default=database_path(),
        help="dbt's database (default: $CUSTOMER_ANALYTICS_DB or customer_analytics.duckdb)",
    )
    publisher.add_argument(
        "--target-path",
        type=Path,
        default=Path(os.environ.get("DBT_TARGET_PATH", str(DEFAULT_TARGET_PATH))),
        help="dbt's target folder with run_results.json and manifest.json (default: target)",
    )
    _add_destinations(publisher)
    publisher.add_argument(
        "--partition",
        type=_parse_partition,
        action="append",
        default=[],
        metavar="TABLE=COLUMN[,COLUMN]",
        help="export this model as a hive-partitioned folder (repeatable)",
    )
    publisher.add_argument(
        "--storage-version",
        default=publish.DEFAULT_STORAGE_VERSION,
        help="oldest DuckDB / DuckDB ODBC driver that must read the published file"
        f" (default {publish.DEFAULT_STORAGE_VERSION}; 'latest' for this DuckDB's own format)",
    )
    publisher.add_argument("--no-database", action="store_true", help="skip the database file")
    publisher.add_argument("--no-export", action="store_true", help="skip the Parquet export")

    lookalikes = commands.add_parser(
        "lookalikes-csv",
        help="write the Zeotap assignment's Lookalike.csv from the published copy",
        description="Write Lookalike.csv: each customer's top lookalikes with scores, read from"
        " the customer_lookalikes table of the published copy.",
    )
    lookalikes.add_argument(
        "--customers",
        default=None,
        help="ids and ranges, e.g. C0001-C0020,C0042 (default: the first"
        f" {deliverables.DEFAULT_CUSTOMER_COUNT} customers of the data, by id)",
    )
    lookalikes.add_argument(
        "--database",
        type=Path,
        default=published_database_path(),
        help=f"database to read (default: the published copy, {published_database_path()})",
    )
    lookalikes.add_argument(
        "--output", type=Path, default=Path("Lookalike.csv"), help="default: Lookalike.csv"
    )

    reporter = commands.add_parser(
        "report",
        help="render the published tables as charts and tables: report.html (offline) and PNGs",
        description="Render the published copy as one offline HTML file and one PNG per chart;"
        " the page names the build (time, input, row counts) it shows.",
    )
    reporter.add_argument(
        "--database",
        type=Path,
        default=published_database_path(),
        help=f"database to read, read-only (default: the published copy,"
        f" {published_database_path()})",
    )
    reporter.add_argument(
        "--output", type=Path, default=Path("reports"), help="output folder (default: reports)"
    )

    settings = commands.add_parser(
        "settings",
        help="print the settings table (from dbt_project.yml), or check / update the README's",
        description="Print every setting (dbt var) with its default, allowed values and"
        " meaning, as declared once in dbt_project.yml.",
    )
    settings.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR(), help="dbt project (default: .)"
    )
    target = settings.add_mutually_exclusive_group()
    target.add_argument("--check-readme", type=Path, metavar="README", help="fail if stale")
    target.add_argument("--update-readme", type=Path, metavar="README", help="rewrite it")
    return parser


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "generate": generate.run,
    "publish": _run_publish,
    "lookalikes-csv": _run_lookalikes_csv,
    "report": _run_report,
    "settings": _run_settings,
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if arguments[:1] == ["build"]:
            args, dbt_args = parser.parse_known_args(arguments)
            return _run_build(args, dbt_args)
        args = parser.parse_args(arguments)
        return _COMMANDS[args.command](args)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a file that cannot be read or written: say which, not where
        where = f" {error.filename}" if error.filename else ""
        print(f"error: cannot use{where}: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
