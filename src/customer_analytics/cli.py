"""`customer-analytics`: the project's command line.

    customer-analytics generate ...        synthetic data in the Zeotap layout
    customer-analytics build [dbt args]    dbt build, then publish for BI tools if it passed
    customer-analytics lookalikes-csv ...  the assignment's Lookalike.csv from the built tables
    customer-analytics report ...          charts and tables as one offline HTML file (reports/)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from customer_analytics import deliverables, generate

DEFAULT_DATABASE = Path("customer_analytics.duckdb")


def database_path() -> Path:
    """dbt's working database: the `CUSTOMER_ANALYTICS_DB` variable or the profile's default."""
    return Path(os.environ.get("CUSTOMER_ANALYTICS_DB", str(DEFAULT_DATABASE)))


def _run_build(args: argparse.Namespace, dbt_args: Sequence[str]) -> int:
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt) if dbt.exists() else "dbt", "build", *dbt_args]
    print("==> " + " ".join(command), file=sys.stderr)
    return subprocess.run(command, check=False).returncode


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
    parser = argparse.ArgumentParser(prog="customer-analytics", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    generator = commands.add_parser(
        "generate", help="write synthetic Customers/Products/Transactions with planted archetypes"
    )
    generate.add_arguments(generator)

    commands.add_parser(
        "build",
        help="run `dbt build` (any further arguments go to dbt), then publish if it passed",
    )

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
        return _run_build(argparse.Namespace(), arguments[1:])
    args = build_parser().parse_args(arguments)
    if args.command == "generate":
        return generate.run(args)
    if args.command == "lookalikes-csv":
        return _run_lookalikes_csv(args)
    if args.command == "report":
        return _run_report(args)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
