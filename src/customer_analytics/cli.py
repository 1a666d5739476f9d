"""`customer-analytics`: the project's command line.

    customer-analytics generate ...        synthetic data in the Zeotap layout
    customer-analytics build [dbt args]    dbt build, then publish for BI tools if it passed
    customer-analytics publish             publish the last build for BI tools, if it passed
    customer-analytics lookalikes-csv ...  the assignment's Lookalike.csv from the built tables
    customer-analytics report ...          charts and tables as one offline HTML file (reports/)

Publishing (see docs/power-bi.md) copies the marts of dbt's database (`CUSTOMER_ANALYTICS_DB`,
default customer_analytics.duckdb) to a database file BI tools open read-only and to one
Parquet file per mart; dbt never writes either. Where they go:

    --published PATH   or CUSTOMER_ANALYTICS_PUBLISHED_DB  (published/customer_analytics.duckdb)
    --export-dir DIR   or CUSTOMER_ANALYTICS_EXPORT_DIR    (exports)
    --partition TABLE=COLUMN[,COLUMN]   export that mart as a hive-partitioned folder (repeatable)
    --storage-version v1.0.0            oldest DuckDB/ODBC driver that must read the published file
    --no-publish (build only), --no-database, --no-export

`build` takes these options anywhere among the dbt arguments; everything else goes to dbt.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from customer_analytics import deliverables, generate, publish, spark_runner

DEFAULT_DATABASE = Path("customer_analytics.duckdb")
DEFAULT_PUBLISHED_DATABASE = Path("published") / "customer_analytics.duckdb"
DEFAULT_EXPORT_DIR = Path("exports")
DEFAULT_TARGET_PATH = Path("target")


def database_path() -> Path:
    """dbt's working database: the `CUSTOMER_ANALYTICS_DB` variable or the profile's default."""
    return Path(os.environ.get("CUSTOMER_ANALYTICS_DB", str(DEFAULT_DATABASE)))


def published_database_path() -> Path:
    """Where BI tools read: `CUSTOMER_ANALYTICS_PUBLISHED_DB` or the default under published/."""
    return Path(os.environ.get("CUSTOMER_ANALYTICS_PUBLISHED_DB", str(DEFAULT_PUBLISHED_DATABASE)))


def export_dir_path() -> Path:
    """Where the Parquet files go: `CUSTOMER_ANALYTICS_EXPORT_DIR` or exports/."""
    return Path(os.environ.get("CUSTOMER_ANALYTICS_EXPORT_DIR", str(DEFAULT_EXPORT_DIR)))


def _parse_partition(text: str) -> tuple[str, list[str]]:
    table, _, columns = text.partition("=")
    names = [column.strip() for column in columns.split(",") if column.strip()]
    if not table.strip() or not names:
        raise argparse.ArgumentTypeError(f"expected TABLE=COLUMN[,COLUMN], got {text!r}")
    return table.strip(), names


def add_publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--published",
        type=Path,
        default=None,
        help="published database file (default: $CUSTOMER_ANALYTICS_PUBLISHED_DB or"
        f" {DEFAULT_PUBLISHED_DATABASE})",
    )
    parser.add_argument(
        "--export-dir",
        type=Path,
        default=None,
        help=f"Parquet folder (default: $CUSTOMER_ANALYTICS_EXPORT_DIR or {DEFAULT_EXPORT_DIR})",
    )
    parser.add_argument(
        "--partition",
        type=_parse_partition,
        action="append",
        default=[],
        metavar="TABLE=COLUMN[,COLUMN]",
        help="export this mart as a hive-partitioned folder (repeatable)",
    )
    parser.add_argument(
        "--storage-version",
        default=publish.DEFAULT_STORAGE_VERSION,
        help="oldest DuckDB / DuckDB ODBC driver that must read the published file"
        f" (default {publish.DEFAULT_STORAGE_VERSION}; 'latest' for this DuckDB's own format)",
    )
    parser.add_argument("--no-database", action="store_true", help="skip the published database")
    parser.add_argument("--no-export", action="store_true", help="skip the Parquet export")


def _publish_options_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_publish_arguments(parser)
    parser.add_argument("--no-publish", action="store_true")
    return parser


_PUBLISH_FLAGS = {"--published", "--export-dir", "--partition", "--storage-version"}
_PUBLISH_SWITCHES = {"--no-database", "--no-export", "--no-publish"}


def split_build_arguments(arguments: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Separate the publish options from the arguments for `dbt build` (kept in order)."""
    ours: list[str] = []
    dbt_args: list[str] = []
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        name = argument.split("=", 1)[0]
        if name in _PUBLISH_FLAGS and "=" not in argument and index + 1 < len(arguments):
            ours += [argument, arguments[index + 1]]
            index += 2
            continue
        if name in _PUBLISH_FLAGS or argument in _PUBLISH_SWITCHES:
            ours.append(argument)
        else:
            dbt_args.append(argument)
        index += 1
    return _publish_options_parser().parse_args(ours), dbt_args


def dbt_target_path(dbt_args: Sequence[str]) -> Path:
    """dbt's target folder: ``--target-path`` among the dbt arguments, `DBT_TARGET_PATH`, or
    target/ (relative to the current directory, like dbt's)."""
    for index, argument in enumerate(dbt_args):
        if argument == "--target-path" and index + 1 < len(dbt_args):
            return Path(dbt_args[index + 1])
        if argument.startswith("--target-path="):
            return Path(argument.split("=", 1)[1])
    return Path(os.environ.get("DBT_TARGET_PATH", str(DEFAULT_TARGET_PATH)))


def _publish(args: argparse.Namespace, database: Path, target_path: Path) -> int:
    published = None if args.no_database else (args.published or published_database_path())
    export_dir = None if args.no_export else (args.export_dir or export_dir_path())
    if published is None and export_dir is None:
        print("nothing to publish: --no-database and --no-export both given", file=sys.stderr)
        return 2
    manifest = target_path / "manifest.json"
    if not manifest.exists():
        print(
            f"note: {manifest} not found, so the marts are the tables of"
            f" {' and '.join(publish.MART_SCHEMAS)} except int_*",
            file=sys.stderr,
        )
    try:
        result = publish.publish(
            database,
            published_path=published,
            export_dir=export_dir,
            manifest_path=manifest if manifest.exists() else None,
            partition_by=dict(args.partition),
            storage_version=None if args.storage_version == "latest" else args.storage_version,
        )
    except publish.PublishError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"published {len(result.marts)} marts from {database}:", file=sys.stderr)
    if result.database is not None:
        print(f"  wrote {result.database} (open it read-only)", file=sys.stderr)
    if result.parquet is not None:
        for path in result.parquet.written:
            print(f"  wrote {path}", file=sys.stderr)
        for path in result.parquet.removed:
            print(f"  removed {path} (its mart no longer exists)", file=sys.stderr)
    return 0


def _run_build(args: argparse.Namespace, dbt_args: Sequence[str]) -> int:
    if spark_runner.target_type(dbt_args) == "spark":
        # Spark (docs/spark.md): dbt in process with the Python-model runner; the marts stay
        # in the Spark catalog, so there is no DuckDB file to publish.
        print("==> dbt build " + " ".join(dbt_args) + " (Spark session runner)", file=sys.stderr)
        return spark_runner.run_dbt(["build", *dbt_args])
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", "build", *dbt_args]
    print("==> " + " ".join(command), file=sys.stderr)
    returncode = subprocess.run(command, check=False).returncode
    if returncode != 0:
        print(f"dbt build failed ({returncode}): nothing published", file=sys.stderr)
        return returncode
    if args.no_publish:
        return 0
    return _publish(args, database_path(), dbt_target_path(dbt_args))


def _run_publish(args: argparse.Namespace) -> int:
    problems = publish.build_problems(args.target_path)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        print(
            f"error: refusing to publish {args.database}: the last dbt invocation in"
            f" {args.target_path} is not a passing `dbt build`:\n{listed}{more}",
            file=sys.stderr,
        )
        return 1
    return _publish(args, args.database, args.target_path)


def _run_lookalikes_csv(args: argparse.Namespace) -> int:
    customer_ids = deliverables.expand_customer_ids(args.customers)
    frame = deliverables.write_lookalike_csv(args.database, customer_ids, args.output)
    print(f"wrote {len(frame)} customers to {args.output}", file=sys.stderr)
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from customer_analytics import report  # matplotlib loads only for this command

    try:
        page = report.render_report(args.database, args.output)
    except report.ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {page} and one PNG per chart in {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customer-analytics",
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generator = commands.add_parser(
        "generate", help="write synthetic Customers/Products/Transactions with planted archetypes"
    )
    generate.add_arguments(generator)

    commands.add_parser(
        "build",
        help="run `dbt build` (any further arguments go to dbt), then publish if it passed",
    )

    publisher = commands.add_parser(
        "publish",
        help="publish dbt's database for BI tools, if the last `dbt build` passed",
        description="Publish the marts of dbt's database for BI tools: a database file to open"
        " read-only and one Parquet file per mart. Refuses unless target/run_results.json"
        " records a `dbt build` whose every node passed.",
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
        default=dbt_target_path([]),
        help="dbt's target folder with run_results.json and manifest.json (default: target)",
    )
    add_publish_arguments(publisher)

    lookalikes = commands.add_parser(
        "lookalikes-csv", help="write the Zeotap assignment's Lookalike.csv from built tables"
    )
    lookalikes.add_argument(
        "--customers", default="C0001-C0020", help="ids and ranges, e.g. C0001-C0020,C0042"
    )
    lookalikes.add_argument("--database", type=Path, default=database_path())
    lookalikes.add_argument("--output", type=Path, default=Path("Lookalike.csv"))

    reporter = commands.add_parser(
        "report",
        help="render the built tables as charts and tables: report.html (offline) and PNGs",
    )
    reporter.add_argument(
        "--database",
        type=Path,
        default=database_path(),
        help="dbt's database, opened read-only"
        " (default: $CUSTOMER_ANALYTICS_DB or customer_analytics.duckdb)",
    )
    reporter.add_argument(
        "--output", type=Path, default=Path("reports"), help="output folder (default: reports)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["build"]:
        options, dbt_args = split_build_arguments(arguments[1:])
        return _run_build(options, dbt_args)
    args = build_parser().parse_args(arguments)
    if args.command == "generate":
        return generate.run(args)
    if args.command == "publish":
        return _run_publish(args)
    if args.command == "lookalikes-csv":
        return _run_lookalikes_csv(args)
    if args.command == "report":
        return _run_report(args)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
