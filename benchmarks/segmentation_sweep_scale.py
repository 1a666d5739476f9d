"""Wall time of the segmentation (sweep, scores with bootstrap, assignment) at scale.

Builds an N-customer ``customer_features`` table by drawing rows (with replacement, fixed
seed) from the ``customer_features`` of a built database -- for example one built from
``customer-analytics generate --customers 30000`` -- and runs the three steps of
``customer_analytics.segmentation`` with the ``dbt_project.yml`` settings, printing the
progress lines (k, seconds) and the time of each step.

``--check-determinism`` runs the three steps a second time and fails unless every output
is identical to the last digit.

Usage::

    python benchmarks/segmentation_sweep_scale.py --database gen30k.duckdb --customers 1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from customer_analytics.segmentation import (
    assign_segments,
    score_segmentations,
    sweep_segmentations,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--check-determinism", action="store_true")
    args = parser.parse_args(argv)
    v = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
    with duckdb.connect(args.database, read_only=True) as connection:
        source = connection.sql("select * from customer_features order by customer_id").arrow()
        source = source.read_all() if hasattr(source, "read_all") else source
    rows = np.random.default_rng(0).choice(source.num_rows, size=args.customers, replace=True)
    table = source.take(pa.array(rows))
    ids = pa.array([f"C{i:08d}" for i in range(args.customers)])
    table = table.set_column(table.column_names.index("customer_id"), "customer_id", ids)
    print(f"{args.customers:,} customers drawn from {source.num_rows:,}", flush=True)

    def say(line: str) -> None:
        print(f"  {line}", flush=True)

    common = {
        "segment_features": v["segment_features"],
        "segment_log_features": v["segment_log_features"],
        "segment_algorithm": v["segment_algorithm"],
    }

    def run_once() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        started = time.perf_counter()
        sweep = sweep_segmentations(
            table,
            **common,
            segment_k_min=v["segment_k_min"],
            segment_k_max=v["segment_k_max"],
            segment_count=v["segment_count"],
            segment_n_init=v["segment_n_init"],
            segment_fit_sample_size=v["segment_fit_sample_size"],
            dbscan_eps=v["dbscan_eps"],
            dbscan_min_samples=v["dbscan_min_samples"],
            random_seed=v["random_seed"],
            progress=say,
        )
        swept = time.perf_counter()
        print(f"sweep: {swept - started:.1f} s", flush=True)
        scores = score_segmentations(
            table,
            sweep,
            **common,
            segment_selection_rule=v["segment_selection_rule"],
            segment_k_tolerance=v["segment_k_tolerance"],
            segment_min_stability=v["segment_min_stability"],
            segment_count=v["segment_count"],
            segment_n_init=v["segment_n_init"],
            silhouette_sample_size=v["silhouette_sample_size"],
            segment_bootstrap_resamples=v["segment_bootstrap_resamples"],
            segment_bootstrap_sample_size=v["segment_bootstrap_sample_size"],
            random_seed=v["random_seed"],
            progress=say,
        )
        scored = time.perf_counter()
        print(f"scores (incl. bootstrap): {scored - swept:.1f} s", flush=True)
        assignments = assign_segments(table, sweep, scores, **common)
        done = time.perf_counter()
        chosen = scores[scores["is_chosen"]].iloc[0]
        print(
            f"assignments: {done - scored:.1f} s; total {done - started:.1f} s;"
            f" k={int(chosen['k'])} stability={chosen['bootstrap_stability']:.3f}",
            flush=True,
        )
        return sweep, scores, assignments

    first = run_once()
    if args.check_determinism:
        print("second run (determinism check):", flush=True)
        for name, a, b in zip(("sweep", "scores", "assignments"), first, run_once(), strict=True):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
            print(f"  {name}: identical ({len(a):,} rows)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
