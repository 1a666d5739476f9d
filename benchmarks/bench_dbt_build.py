"""Time `dbt build` end to end on generated data of a given size, with peak memory.

Not a test: it prints figures. Example (the issue's 10M-transaction Parquet check):

    python benchmarks/bench_dbt_build.py --customers 1000000 --transactions 10000000 \
        --format parquet --workdir /tmp/bench

Each step runs in its own process; peak memory is that process tree's maximum resident set
(`resource.getrusage(RUSAGE_CHILDREN)`), read after the step, so steps never mix their peaks.
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


def _measure(label: str, command: list[str], env: dict[str, str]) -> float:
    """Run ``command`` in a fresh process; print wall time and the child's peak RSS."""
    wrapper = (
        "import resource, subprocess, sys, json;"
        "rc = subprocess.run(sys.argv[1:]).returncode;"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
        "print(json.dumps({'rc': rc, 'peak_kib': peak}), file=sys.stderr)"
    )
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    stats = json.loads(completed.stderr.strip().splitlines()[-1])
    status = "ok" if stats["rc"] == 0 else f"FAILED (exit {stats['rc']})"
    print(f"{label:<34} {seconds:9.1f} s {stats['peak_kib'] / 1024**2:9.2f} GiB  {status}")
    if stats["rc"] != 0:
        raise SystemExit(stats["rc"])
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/customer-analytics-bench"))
    parser.add_argument(
        "--exclude", default="", help="dbt --exclude selector, e.g. to time the SQL models alone"
    )
    args = parser.parse_args(argv)

    data = args.workdir / "data"
    build = args.workdir / "build"
    build.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CUSTOMER_ANALYTICS_DB": str(build / "bench.duckdb")}
    print(
        f"{args.customers:,} customers, {args.products:,} products, "
        f"{args.transactions:,} transactions, {args.format}; {os.cpu_count()} CPUs"
    )
    print(f"{'step':<34} {'wall':>11} {'peak RSS':>13}")
    _measure(
        "generate",
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
        env,
    )
    dbt_vars = json.dumps({"input_dir": str(data), "input_format": args.format})
    command = [
        str(BIN / "dbt"),
        "build",
        "--target",
        "ci",
        "--target-path",
        str(build / "target"),
        "--log-path",
        str(build / "logs"),
        "--vars",
        dbt_vars,
    ]
    if args.exclude:
        command += ["--exclude", *args.exclude.split()]
    _measure("dbt build" + (f" (excluding {args.exclude})" if args.exclude else ""), command, env)
    timings = json.loads((build / "target" / "run_results.json").read_text())["results"]
    slowest = sorted(timings, key=lambda result: result["execution_time"], reverse=True)[:8]
    print("slowest nodes:")
    for result in slowest:
        print(f"  {result['unique_id'].split('.')[-1]:<40} {result['execution_time']:8.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
