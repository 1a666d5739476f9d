"""Time and peak memory of the recommendation and lifetime-value functions at scale.

Runs each step in a fresh process on Parquet files from the generator (planted taste and
churn), with segments = the planted archetypes and three random lookalikes per customer,
or (``--db``) on the tables of a built DuckDB file (its segments, lookalikes and the weights
its recommendation_backtest chose; handed over as DuckDB relations, as dbt does, under the
build's memory_limit 1GB and 2 threads), and prints per step: wall and CPU seconds, peak RSS, the
RSS with only the inputs loaded (the step's own share is the difference), the load average,
and the backtest figures. Not a test: figures only.

    python benchmarks/bench_recommendations_churn.py --customers 1000000 --transactions 10000000
    python benchmarks/bench_recommendations_churn.py --db /tmp/reco/1m.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

STEPS = ("recommendation_backtest", "product_recommendations", "churn_backtest", "lifetime_value")


def _inputs(data: Path) -> dict[str, pa.Table]:
    tx = pq.read_table(data / "Transactions.parquet")
    truth = pacsv.read_csv(data / "truth" / "customer_archetypes.csv")
    products = pq.read_table(data / "Products.parquet")
    segment = pc.index_in(truth["Archetype"], value_set=pc.unique(truth["Archetype"]))
    ids = truth["CustomerID"]
    rng = np.random.default_rng(0)
    n = len(ids)
    others = (np.arange(n)[:, None] + rng.integers(1, n, (n, 3))) % n
    return {
        "transactions": pa.table(
            {
                "customer_id": tx["CustomerID"],
                "product_id": tx["ProductID"],
                "transaction_date": pc.cast(tx["TransactionDate"], pa.date32()),
                "total_value": tx["TotalValue"],
            }
        ),
        "customers": pa.table({"customer_id": ids, "segment_id": segment}),
        "products": pa.table(
            {
                "product_id": products["ProductID"],
                "product_name": products["ProductName"],
                "category": products["Category"],
                "price": products["Price"],
            }
        ),
        "lookalikes": pa.table(
            {
                "customer_id": pc.take(ids, pa.array(np.repeat(np.arange(n), 3))),
                "lookalike_customer_id": pc.take(ids, pa.array(others.ravel())),
                "similarity_score": pa.array(rng.uniform(0.5, 1.0, 3 * n)),
            }
        ),
    }


def _db_inputs(db: Path) -> tuple[dict[str, object], list[float]]:
    """The build's own tables (read only) as DuckDB relations, as the dbt models get them
    (the models read them in batches), on a connection with the build's memory limit and
    threads, and the weights its backtest chose."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    con.execute("set memory_limit = '1GB'")
    con.execute("set threads = 2")
    tables: dict[str, object] = {
        "transactions": con.table("transactions"),
        "customers": con.table("customer_segments"),
        "products": con.table("products"),
        "lookalikes": con.table("customer_lookalikes"),
    }
    weights = (
        con.sql(
            "select weight_item_similarity, weight_lookalike, weight_segment_popularity,"
            " weight_overall_popularity from recommendation_backtest"
            " where method = 'blended_recommender'"
        )
        .to_arrow_table()
        .to_pylist()[0]
    )
    return tables, list(weights.values())


def _step(name: str, data: Path, db: Path | None) -> dict[str, object]:
    from customer_analytics import lifetime_value, recommendations

    t: dict[str, object]
    if db is not None:
        t, chosen = _db_inputs(db)
    else:
        t, chosen = dict(_inputs(data)), [10.0, 0.1, 3.0, 1.0]
    inputs_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_started = time.process_time()
    reco = {
        "recommendations_per_customer": 5,
        "recommendation_item_neighbours": 50,
        "as_of_date": None,
    }
    clv = {
        "purchase_forecast_days": 90,
        "churn_risk_high_below": 0.3,
        "churn_risk_low_from": 0.7,
        "lifetime_value_fit_sample_size": 5000,
        "random_seed": 42,
        "as_of_date": None,
    }
    started = time.perf_counter()
    figures: dict[str, object] = {}
    if name == "recommendation_backtest":
        out = recommendations.recommendation_backtest(
            t["transactions"], t["customers"], t["products"], t["lookalikes"],
            recommendation_holdout_days=60, recommendation_tuning_sample_size=5000,
            recommendation_backtest_sample_size=100000,
            random_seed=42, **reco,
        )  # fmt: skip
        figures = {row["method"]: round(row["hit_rate"], 4) for row in out.to_pylist()} | {
            "weights": [out.to_pylist()[0][c] for c in out.column_names if c.startswith("weight_")]
        }
    elif name == "product_recommendations":
        weights = recommendations.Weights(*chosen)
        out = recommendations.recommend_products(
            t["transactions"], t["customers"], t["products"], t["lookalikes"], weights, **reco
        )
        figures = {"rows": out.num_rows}
    elif name == "churn_backtest":
        out = lifetime_value.churn_backtest(t["transactions"], t["customers"], **clv)
        figures = {
            r["method"]: (r["auc_bought_again"], r["mae_purchases"]) for r in out.to_pylist()
        }
    else:
        out = lifetime_value.customer_lifetime_value(t["transactions"], t["customers"], **clv)
        figures = {"rows": out.num_rows}
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "step": name,
        "seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_rss_mib": round(peak_mib),
        "inputs_rss_mib": round(inputs_mib),
        "load_1min": round(os.getloadavg()[0], 1),
        **figures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench_reco"))
    parser.add_argument("--db", type=Path, help="a built DuckDB file to read instead (read only)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=STEPS, nargs="+", default=list(STEPS))
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_step(args.step, args.data, args.db)))
        return 0
    if args.db is None and not (args.data / "Transactions.parquet").exists():
        from customer_analytics import generate

        generate.main(
            [
                "--customers", str(args.customers), "--products", str(args.products),
                "--transactions", str(args.transactions), "--format", "parquet",
                "--taste-share", "0.5", "--churn-share", "0.2", "--out", str(args.data),
            ]
        )  # fmt: skip
    if args.db is None:
        print(f"{args.customers:,} customers, {args.transactions:,} transactions ({args.data})")
    else:
        print(f"tables of {args.db}")
    for step in args.only:
        where = ["--db", str(args.db)] if args.db else ["--data", str(args.data)]
        result = subprocess.run(
            [sys.executable, __file__, *where, "--step", step],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(result.stdout.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
