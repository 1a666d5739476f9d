"""The whole `dbt build` against the notebook way, on the same generated data, in one run.

Not a test: it prints figures. Example (the issue's two sizes)::

    python benchmarks/bench_build.py --sizes 100k:1M,1M:10M --workdir /tmp/bench

For every size (customers:transactions) it

1. generates the data once as Parquet (``customer-analytics generate``, reused when present);
2. times the whole ``dbt build`` (every model and test; ``input_dir`` + Parquet, into a
   temporary DuckDB file) in its own process tree, with its peak resident memory, the
   models that were running when the sampled resident size was highest, and the slowest
   steps from ``run_results.json``;
3. checks the lookalikes the build wrote against brute-force exact top-3 on a fixed sample
   of customers: recall@3, and the largest score difference where both have the same pair;
4. runs the notebook way, written as a notebook would (pandas ``read_parquet`` + ``merge``
   + ``groupby`` for the features and sales tables, scikit-learn ``StandardScaler`` +
   ``KMeans`` sweep k=2..10 with the Davies-Bouldin score, and
   ``NearestNeighbors(metric="cosine", algorithm="brute")`` for the top-3 lookalikes), in its
   own process, stage by stage. Above ``--notebook-max-customers`` it is not run: its time
   is extrapolated from the last size measured (in this run, else the stage times an earlier
   run left in the workdir; linear stages x n, brute-force neighbours x n^2) and marked
   ``extrapolated``.

Then it prints the ratios. Load average is printed next to every timing: on a shared machine
figures are noisy, compare figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOTEBOOK_STAGES = ("pandas", "kmeans_sweep", "nearest_neighbours")


def _size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def _load() -> str:
    return "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def _measured(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``command`` in a fresh process tree; wall seconds, peak RSS (GiB), its stdout."""
    # The child's peak RSS is the kernel's high-water mark (RUSAGE_CHILDREN); a sampler
    # beside it notes *when* the resident size was highest, so the build can name the
    # models that were running then.
    wrapper = (
        "import json, resource, subprocess, sys, threading, time\n"
        "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,"
        " text=True)\n"
        "top = [0, 0.0]\n"
        "def sample():\n"
        "    while child.poll() is None:\n"
        "        try:\n"
        "            with open(f'/proc/{child.pid}/status') as status:\n"
        "                kib = next(int(line.split()[1]) for line in status"
        " if line.startswith('VmRSS:'))\n"
        "        except (OSError, StopIteration):\n"
        "            break\n"
        "        if kib > top[0]:\n"
        "            top[:] = [kib, time.time()]\n"
        "        time.sleep(0.2)\n"
        "threading.Thread(target=sample, daemon=True).start()\n"
        "out, err = child.communicate()\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "sys.stderr.write(err[-4000:])\n"
        "print(json.dumps({'rc': child.returncode, 'peak_kib': peak, 'out': out,"
        " 'sampled_peak_kib': top[0], 'sampled_peak_at': top[1]}))\n"
    )
    load_before = _load()
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    stats = json.loads(completed.stdout.strip().splitlines()[-1])
    if stats["rc"] != 0:
        print(stats["out"][-3000:], completed.stderr[-3000:], sep="\n")
        raise SystemExit(f"failed (exit {stats['rc']}): {' '.join(command[:3])} ...")
    return {
        "seconds": seconds,
        "peak_gib": stats["peak_kib"] / 1024**2,
        "sampled_peak_gib": stats["sampled_peak_kib"] / 1024**2,
        "sampled_peak_at": stats["sampled_peak_at"],
        "out": stats["out"],
        "load": f"{load_before} -> {_load()}",
    }


# --------------------------------------------------------------------------- the build


def generate(data: Path, customers: int, transactions: int, products: int) -> None:
    if (data / "Transactions.parquet").exists():
        print(f"  data: reusing {data}")
        return
    command = [str(BIN / "customer-analytics"), "generate", "--out", str(data), "--quiet"]
    command += ["--customers", str(customers), "--transactions", str(transactions)]
    command += ["--products", str(products), "--format", "parquet"]
    result = _measured(command)
    print(f"  generate: {result['seconds']:.1f} s")


def dbt_build(data: Path, build: Path) -> dict[str, Any]:
    build.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CUSTOMER_ANALYTICS_DB": str(build / "bench.duckdb"),
        "DBT_PROFILES_DIR": str(ROOT),
    }
    dbt_vars = json.dumps({"input_dir": str(data), "input_format": "parquet"})
    command = [str(BIN / "dbt"), "build", "--target", "ci", "--vars", dbt_vars]
    command += ["--target-path", str(build / "target"), "--log-path", str(build / "logs")]
    result = _measured(command, env)
    results = json.loads((build / "target" / "run_results.json").read_text())["results"]
    result["steps"] = sorted(
        ((r["unique_id"].split(".")[-1], r["execution_time"]) for r in results),
        key=lambda step: -step[1],
    )
    result["running_at_peak"] = [
        r["unique_id"].split(".")[-1] for r in results if _ran_at(r, result["sampled_peak_at"])
    ]
    result["database"] = build / "bench.duckdb"
    return result


def _ran_at(result: dict[str, Any], moment: float) -> bool:
    """Whether a run_results entry was executing at ``moment`` (epoch seconds)."""
    for timing in result.get("timing", []):
        if timing["name"] == "execute" and timing.get("started_at"):
            started, completed = (
                datetime.fromisoformat(timing[key].replace("Z", "+00:00")).timestamp()
                for key in ("started_at", "completed_at")
            )
            return started <= moment <= completed
    return False


def lookalike_check(database: Path, sample_size: int, seed: int) -> dict[str, float]:
    """Recall@3 of the build's lookalikes against brute-force exact on a fixed sample."""
    import duckdb
    import numpy as np
    import yaml

    from customer_analytics.lookalikes import lookalike_matrix, read_feature_columns

    # The build's settings are the project defaults: the same vectors as the dbt model.
    project_vars = yaml.safe_load((ROOT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    features = project_vars["lookalike_features"]
    con = duckdb.connect(str(database), read_only=True)
    frame = read_feature_columns(con.table("main.customer_features"), features)
    fm = lookalike_matrix(frame, features, project_vars["lookalike_log_features"])
    built = con.sql(
        "select customer_id, lookalike_customer_id, similarity_score from main.customer_lookalikes"
    ).fetchnumpy()
    con.close()
    ids, x = fm.customer_ids, fm.matrix
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    zero = norms <= 1e-12 * norms.max()
    units = np.zeros_like(x)
    np.divide(x, norms[:, None], out=units, where=~zero[:, None])
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(ids.size, size=min(sample_size, ids.size), replace=False))
    position = {customer: row for row, customer in enumerate(ids.tolist())}
    got: dict[int, dict[int, float]] = {}
    wanted = set(sample.tolist())
    for customer, other, score in zip(
        built["customer_id"].tolist(),
        built["lookalike_customer_id"].tolist(),
        built["similarity_score"].tolist(),
        strict=True,
    ):
        row = position[customer]
        if row in wanted:
            got.setdefault(row, {})[position[other]] = score
    hits, total, worst = 0, 0, 0.0
    for start in range(0, sample.size, 16):
        rows = sample[start : start + 16]
        sims = units[rows] @ units.T
        sims[np.arange(rows.size), rows] = -np.inf
        for row, scores in zip(rows.tolist(), sims, strict=True):
            top = np.argpartition(-scores, 3)[:4]
            top = top[np.lexsort((top, -np.round(scores[top], 12)))][:3]
            found = got.get(row, {})
            hits += len(set(top.tolist()) & set(found))
            total += top.size
            for other in set(top.tolist()) & set(found):
                exact = float(np.einsum("i,i->", units[row], units[other]))
                worst = max(worst, abs(exact - found[other]))
    return {"recall_at_3": hits / max(total, 1), "max_score_difference": worst}


# --------------------------------------------------------------------------- the notebook way


def notebook_way(data: Path) -> dict[str, float]:
    """The analysis as a notebook writes it: pandas, then scikit-learn. Seconds per stage."""
    import numpy as np
    import pandas as pd
    from sklearn.cluster import KMeans
    from sklearn.metrics import davies_bouldin_score
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    customers = pd.read_parquet(data / "Customers.parquet")
    products = pd.read_parquet(data / "Products.parquet")
    transactions = pd.read_parquet(data / "Transactions.parquet")
    transactions["TransactionDate"] = pd.to_datetime(transactions["TransactionDate"])
    customers["SignupDate"] = pd.to_datetime(customers["SignupDate"])
    merged = transactions.merge(customers, on="CustomerID").merge(products, on="ProductID")
    merged["Month"] = merged["TransactionDate"].dt.to_period("M")
    # EDA tables
    merged.groupby("Month")["TotalValue"].agg(["sum", "count"])
    merged.pivot_table(index="Month", columns="Region", values="TotalValue", aggfunc="sum")
    merged.pivot_table(index="Month", columns="Category", values="TotalValue", aggfunc="sum")
    merged.groupby("Region").agg(revenue=("TotalValue", "sum"), buyers=("CustomerID", "nunique"))
    merged.groupby(["ProductID", "Region"])["TotalValue"].sum()
    # customer features
    as_of = merged["TransactionDate"].max()
    features = merged.groupby("CustomerID").agg(
        recency=("TransactionDate", lambda d: (as_of - d.max()).days),
        frequency=("TransactionID", "count"),
        monetary=("TotalValue", "sum"),
        basket=("Quantity", "mean"),
        products=("ProductID", "nunique"),
    )
    shares = merged.pivot_table(
        index="CustomerID", columns="Category", values="TotalValue", aggfunc="sum", fill_value=0
    )
    shares = shares.div(shares.sum(axis=1), axis=0)
    features = customers.set_index("CustomerID").join(features).join(shares).fillna(0)
    features["tenure"] = (as_of - features["SignupDate"]).dt.days
    features = pd.get_dummies(features.drop(columns=["CustomerName", "SignupDate"]))
    x = StandardScaler().fit_transform(features.astype(float))
    seconds["pandas"] = time.perf_counter() - start

    start = time.perf_counter()
    scores = {}
    for k in range(2, 11):
        labels = KMeans(n_clusters=k, n_init=10, random_state=42).fit_predict(x)
        scores[k] = davies_bouldin_score(x, labels)
    best = min(scores, key=scores.__getitem__)
    KMeans(n_clusters=best, n_init=10, random_state=42).fit_predict(x)
    seconds["kmeans_sweep"] = time.perf_counter() - start

    start = time.perf_counter()
    model = NearestNeighbors(n_neighbors=4, metric="cosine", algorithm="brute").fit(x)
    distances, indices = model.kneighbors(x)
    top3 = pd.DataFrame(indices[:, 1:], index=features.index)
    top3.shape  # noqa: B018 (a notebook cell's last line)
    seconds["nearest_neighbours"] = time.perf_counter() - start
    del distances
    return {**seconds, "rows": float(np.asarray(x).shape[0])}


# --------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100k:1M", help="customers:transactions, comma list")
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/customer-analytics-bench"))
    parser.add_argument("--notebook-max-customers", type=_size, default=_size("100k"))
    parser.add_argument("--recall-sample", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--notebook-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.notebook_only:  # the child process of the notebook measurement
        print(json.dumps(notebook_way(args.notebook_only)))
        return 0

    print(f"{os.cpu_count()} CPUs, {_load()} at start; python {sys.version.split()[0]}")
    measured_notebook: tuple[int, dict[str, float]] | None = None
    summary = []
    for spec in args.sizes.split(","):
        customers_text, transactions_text = spec.split(":")
        customers, transactions = _size(customers_text), _size(transactions_text)
        print(f"\n== {customers:,} customers / {transactions:,} transactions (Parquet)")
        data = args.workdir / f"data-{customers_text}-{transactions_text}"
        generate(data, customers, transactions, args.products)

        with tempfile.TemporaryDirectory(dir=args.workdir, prefix="build-") as build:
            build_result = dbt_build(data, Path(build))
            print(
                f"  dbt build (all models and tests): {build_result['seconds']:.1f} s, "
                f"peak RSS {build_result['peak_gib']:.2f} GiB  [{build_result['load']}]"
            )
            running = ", ".join(build_result["running_at_peak"]) or "no model (dbt or publish)"
            print(
                f"  highest sampled RSS {build_result['sampled_peak_gib']:.2f} GiB while: {running}"
            )
            for name, step_seconds in build_result["steps"][:8]:
                print(f"    {name:<44} {step_seconds:7.1f} s")
            check = lookalike_check(build_result["database"], args.recall_sample, args.seed)
            print(
                f"  lookalikes vs exact on {args.recall_sample:,} fixed-seed customers: "
                f"recall@3 {check['recall_at_3']:.4f}, "
                f"max |score difference| on shared pairs {check['max_score_difference']:.1e}"
            )

        if customers <= args.notebook_max_customers:
            command = [sys.executable, str(Path(__file__).resolve()), "--notebook-only", str(data)]
            result = _measured(command)
            stages = json.loads(result["out"].strip().splitlines()[-1])
            measured_notebook = (customers, stages)
            (args.workdir / "notebook-stages.json").write_text(
                json.dumps({"customers": customers, "stages": stages})
            )
            notebook_seconds, mark = result["seconds"], "measured"
            notebook_peak = f"{result['peak_gib']:.2f} GiB"
            load = result["load"]
        elif measured_notebook is not None or (args.workdir / "notebook-stages.json").exists():
            earlier = ""
            if measured_notebook is None:  # measured by an earlier run in the same workdir
                saved = json.loads((args.workdir / "notebook-stages.json").read_text())
                measured_notebook = (saved["customers"], saved["stages"])
                earlier = " in an earlier run"
            base, stages = measured_notebook
            factor = customers / base
            notebook_seconds = (stages["pandas"] + stages["kmeans_sweep"]) * factor + stages[
                "nearest_neighbours"
            ] * factor**2
            mark, notebook_peak, load = f"extrapolated from {base:,}{earlier}", "n/a", ""
        else:
            print("  notebook way: skipped (no smaller size measured in this run)")
            continue
        print(
            f"  notebook way: {notebook_seconds:.1f} s ({mark}), peak RSS {notebook_peak}"
            + (f"  [{load}]" if load else "")
        )
        if mark == "measured":
            for stage in NOTEBOOK_STAGES:
                print(f"    {stage:<44} {stages[stage]:7.1f} s")
        ratio = notebook_seconds / build_result["seconds"]
        print(f"  ratio notebook / dbt build: {ratio:.1f}x ({mark})")
        summary.append((customers, transactions, build_result, notebook_seconds, mark, check))

    print("\nsize | dbt build | peak RSS | notebook way | ratio | lookalike recall@3")
    for customers, transactions, build_result, notebook_seconds, mark, check in summary:
        print(
            f"{customers:,} / {transactions:,} | {build_result['seconds']:.0f} s | "
            f"{build_result['peak_gib']:.2f} GiB | {notebook_seconds:.0f} s ({mark}) | "
            f"{notebook_seconds / build_result['seconds']:.1f}x | {check['recall_at_3']:.4f}"
        )
    print(f"{_load()} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
