"""Time the whole build on DuckDB and on local Spark, on the same generated files.

Not a test: it prints figures for the capacity table in docs/spark.md. Example:

    python benchmarks/bench_engines.py --customers 100000 --transactions 1000000

Each build runs in its own process (Spark: `customer-analytics build --target spark`, with a
scratch warehouse); the slowest nodes of each are listed from dbt's run_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(label: str, command: list[str], env: dict[str, str], target: Path) -> None:
    start = time.perf_counter()
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    status = "ok" if completed.returncode == 0 else f"FAILED (exit {completed.returncode})"
    print(f"{label:<28} {seconds:9.1f} s  {status}  (load {os.getloadavg()[0]:.1f})", flush=True)
    if completed.returncode != 0:
        print((completed.stdout + completed.stderr)[-4000:])
        raise SystemExit(completed.returncode)
    results = json.loads((target / "run_results.json").read_text())["results"]
    for result in sorted(results, key=lambda r: r["execution_time"], reverse=True)[:6]:
        print(f"    {result['unique_id'].split('.')[-1]:<40} {result['execution_time']:8.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/customer-analytics-engines"))
    parser.add_argument("--engines", default="duckdb,spark")
    args = parser.parse_args(argv)

    data = args.workdir / "data"
    print(
        f"{args.customers:,} customers, {args.transactions:,} transactions, {args.format};"
        f" {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if not (data / f"Transactions.{args.format}").exists():
        subprocess.run(
            [
                str(BIN / "customer-analytics"),
                "generate",
                "--customers",
                str(args.customers),
                "--products",
                str(args.products),
                "--transactions",
                str(args.transactions),
                "--format",
                args.format,
                "--out",
                str(data),
                "--quiet",
            ],
            check=True,
        )
    dbt_vars = json.dumps({"input_dir": str(data), "input_format": args.format})
    for engine in args.engines.split(","):
        build = args.workdir / engine
        common = [
            "--target-path",
            str(build / "target"),
            "--log-path",
            str(build / "logs"),
            "--vars",
            dbt_vars,
        ]
        env = {
            **os.environ,
            "CUSTOMER_ANALYTICS_DB": str(build / "bench.duckdb"),
            "CUSTOMER_ANALYTICS_SPARK_WAREHOUSE": str(build / "warehouse"),
        }
        if engine == "spark":
            command = [str(BIN / "customer-analytics"), "build", "--target", "spark", *common]
        else:
            command = [str(BIN / "dbt"), "build", "--target", "ci", *common]
        _run(f"{engine} build", command, env, build / "target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
