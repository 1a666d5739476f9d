"""Time and memory of the Python models' logic at 10k / 100k / 1M customers.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_python_models.py --sizes 10k,100k,1M

Every measurement runs in its own subprocess, so peaks are never mixed. The subprocess
builds the synthetic data (clustered, ``--dims`` features, standardized), then resets the
kernel's peak-RSS counter (``/proc/self/clear_refs``; falls back to ``ru_maxrss``), runs
the one call and reports its wall time, the peak RSS above the data's baseline, and the
total peak RSS.

Tasks (``--tasks``):

* ``segmentation``: :func:`run_segmentation` -- feature matrix, k-means sweep k=2..10
  with all scores, the chosen k's assignment with PCA;
* ``lookalikes``: :func:`top_k_lookalikes` with ``method="auto"`` (k=3); above the exact
  limit the recall of the true top-3 is measured on 1,000 fixed-seed customers;
* ``lookalikes_exact``: ``method="exact"`` (skipped above ``--max-exact``, with an n^2
  extrapolated time);
* ``notebook_nn``: the notebook way, ``NearestNeighbors(metric="cosine",
  algorithm="brute").fit(X).kneighbors(X, 4)`` (skipped above ``--max-notebook``, with an
  n^2 extrapolation from the largest size measured in the same run);
* ``notebook_matrix``: the other notebook way, ``cosine_similarity(X)`` as a full n x n
  float64 matrix, skipped when it would not fit in available memory (the estimated bytes
  are printed instead).
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
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ALL_TASKS = ("segmentation", "lookalikes", "lookalikes_exact", "notebook_nn", "notebook_matrix")


# --------------------------------------------------------------------------- data


def synthetic_features(n: int, dims: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered customer-like features: 8 groups of unequal size and spread, standardized.

    Each group has its own centre and its own per-feature spread; a few features are
    correlated through a shared latent factor, like revenue and transaction counts.
    """
    rng = np.random.default_rng(seed)
    groups = 8
    weights = rng.dirichlet(np.full(groups, 2.0))
    labels = rng.choice(groups, size=n, p=weights)
    centres = rng.normal(0.0, 3.0, size=(groups, dims))
    spreads = rng.uniform(0.5, 2.0, size=(groups, dims))
    x = centres[labels] + rng.standard_normal((n, dims)) * spreads[labels]
    latent = rng.standard_normal(n)
    x[:, : min(4, dims)] += latent[:, None] * 1.5
    x -= x.mean(axis=0)
    x /= x.std(axis=0)
    ids = np.array([f"C{i:07d}" for i in range(n)], dtype=object)
    return ids, x


# --------------------------------------------------------------------------- memory


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_kib() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _available_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------- one task


def _recall(ids: np.ndarray, x: np.ndarray, result: Any, k: int, sample: int = 1000) -> float:
    """Recall of ``result``'s top-k against brute force on ``sample`` fixed-seed customers."""
    n = len(ids)
    rng = np.random.default_rng(123)
    rows = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    units = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    found = result["lookalike_customer_id"].to_numpy().reshape(n, k)
    hits = 0
    for start in range(0, rows.size, 100):
        part = rows[start : start + 100]
        sims = units[part] @ units.T
        sims[np.arange(part.size), part] = -np.inf
        truth = np.argpartition(-sims, k, axis=1)[:, : k + 1]
        for i, r in enumerate(part):
            best = truth[i][np.argsort(-sims[i, truth[i]])][:k]
            hits += len(set(ids[best]) & set(found[r]))
    return hits / (rows.size * k)


def run_task(task: str, n: int, dims: int) -> dict[str, Any]:
    """Run one measurement in this process and return its figures."""
    import pandas as pd

    from customer_analytics.lookalikes import top_k_lookalikes
    from customer_analytics.segmentation import run_segmentation

    ids, x = synthetic_features(n, dims)
    frame = None
    if task == "segmentation":
        frame = pd.DataFrame(x, columns=[f"f{j:02d}" for j in range(dims)])
        frame.insert(0, "customer_id", ids)
    baseline = _rss_kib()
    exact_peak = _reset_peak()
    note = ""
    start = time.perf_counter()
    if task == "segmentation":
        assert frame is not None
        result = run_segmentation(frame, features=list(frame.columns[1:]))
        elapsed = time.perf_counter() - start
        chosen = result.scores.loc[result.scores["is_chosen"]].iloc[0]
        note = f"chosen k={int(chosen['k'])}, silhouette={chosen['silhouette']:.3f}"
    elif task in ("lookalikes", "lookalikes_exact"):
        method = "auto" if task == "lookalikes" else "exact"
        result = top_k_lookalikes(ids, x, 3, method=method)
        elapsed = time.perf_counter() - start
        peak = _peak_kib()  # before the recall check, which has its own memory
        if n > 100_000 and method == "auto":
            note = f"method=ivf, recall@3={_recall(ids, x, result, 3):.4f} (1,000 customers)"
        else:
            note = "method=exact" if method == "exact" or n <= 100_000 else ""
    elif task == "notebook_nn":
        from sklearn.neighbors import NearestNeighbors

        model = NearestNeighbors(n_neighbors=4, metric="cosine", algorithm="brute").fit(x)
        model.kneighbors(x)
        elapsed = time.perf_counter() - start
    elif task == "notebook_matrix":
        from sklearn.metrics.pairwise import cosine_similarity

        cosine_similarity(x)
        elapsed = time.perf_counter() - start
    else:
        raise ValueError(task)
    if task not in ("lookalikes", "lookalikes_exact"):
        peak = _peak_kib()
    return {
        "seconds": elapsed,
        "peak_mib": (peak - baseline) / 1024 if exact_peak else None,
        "total_peak_mib": peak / 1024,
        "note": note,
    }


# --------------------------------------------------------------------------- driver


def _parse_size(text: str) -> int:
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * factor)


def _measure(task: str, n: int, dims: int, timeout: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", task, str(n), str(dims)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout} s"}
    if done.returncode != 0:
        return {"skipped": f"failed: {done.stderr.strip().splitlines()[-1:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt_row(n: int, task: str, figures: dict[str, Any]) -> str:
    if "skipped" in figures:
        return f"{n:>9,} | {task:<17} | {'-':>9} | {'-':>10} | {'-':>10} | {figures['skipped']}"
    peak = figures["peak_mib"]
    peak_text = f"{peak:10,.0f}" if peak is not None else f"{'n/a':>10}"
    return (
        f"{n:>9,} | {task:<17} | {figures['seconds']:9.1f} | {peak_text} | "
        f"{figures['total_peak_mib']:10,.0f} | {figures['note']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated, e.g. 10k,100k,1M")
    parser.add_argument("--dims", type=int, default=20)
    parser.add_argument("--tasks", default=",".join(ALL_TASKS))
    parser.add_argument("--max-exact", type=_parse_size, default=200_000)
    parser.add_argument("--max-notebook", type=_parse_size, default=100_000)
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per measurement")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        task, n, dims = args.child
        print(json.dumps(run_task(task, int(n), int(dims))))
        return 0

    sizes = [_parse_size(size) for size in args.sizes.split(",")]
    tasks = [task.strip() for task in args.tasks.split(",")]
    unknown = set(tasks) - set(ALL_TASKS)
    if unknown:
        parser.error(f"unknown tasks: {sorted(unknown)}")
    print(f"{os.cpu_count()} CPUs, {_available_bytes() / 2**30:.1f} GiB available, d={args.dims}")
    header = (
        f"{'customers':>9} | {'task':<17} | {'seconds':>9} | {'peak MiB':>10} | "
        f"{'total MiB':>10} | note"
    )
    print(header)
    print("-" * len(header))
    measured: dict[str, tuple[int, float]] = {}
    for n in sizes:
        for task in tasks:
            figures: dict[str, Any]
            if task == "notebook_matrix" and 8 * n * n > 0.8 * _available_bytes():
                figures = {
                    "skipped": f"skipped: the n x n float64 matrix needs {8 * n * n:,} bytes "
                    f"({8 * n * n / 2**30:,.0f} GiB)"
                }
            elif (task == "notebook_nn" and n > args.max_notebook) or (
                task == "lookalikes_exact" and n > args.max_exact
            ):
                estimate = ""
                if task in measured:
                    n0, seconds0 = measured[task]
                    estimate = f", est. {seconds0 * (n / n0) ** 2:,.0f} s by n^2 from n={n0:,}"
                limit = args.max_notebook if task == "notebook_nn" else args.max_exact
                figures = {"skipped": f"skipped (limit {limit:,}{estimate})"}
            else:
                figures = _measure(task, n, args.dims, args.timeout)
                if "seconds" in figures:
                    measured[task] = (n, figures["seconds"])
            print(_fmt_row(n, task, figures), flush=True)
    print(
        "peak MiB: peak RSS of the call above the RSS after building the data; "
        "total MiB: peak RSS of the whole subprocess."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
