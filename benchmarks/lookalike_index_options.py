"""faiss index options for the lookalike search, measured on a build's own feature matrix.

Not a test: it prints figures. The README's claim that no other faiss setting searches a
million customers faster at recall@3 >= 0.99 comes from this script::

    python benchmarks/lookalike_index_options.py --database bench.duckdb --queries 200000

It reads ``customer_features`` of a built database, builds the vectors the
``customer_lookalikes`` model searches (``lookalike_matrix`` with the project's settings, then
the model's own normalisation), and for each option prints the index build time, the time to
search ``--queries`` customers (x n / queries for all of them) and recall@3 against exact
brute force on ``--sample`` fixed-seed customers. Options: the model's ``IndexIVFFlat`` with
sqrt(n) or more cells and several probe counts (first the model's own path with its defaults,
then the exact k-d tree), an HNSW coarse quantizer, fp16 and 8-bit
scalar quantizers, and the vectors zero-padded to 16 dimensions. State the machine's load
(printed) next to any figure: timings of one run compare; runs on a shared machine do not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb
import faiss
import numpy as np

from customer_analytics import lookalikes
from customer_analytics.dbt_settings import load_settings
from customer_analytics.lookalikes import _prepare, lookalike_matrix, read_feature_columns

REPO_ROOT = Path(__file__).resolve().parents[1]
NEIGHBOURS = 7  # what the model retrieves: k = 3 plus its margin and the customer itself


def load() -> str:
    return "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def _vectors(database: str) -> np.ndarray:
    settings = load_settings(REPO_ROOT)
    features = settings["lookalike_features"].default
    with duckdb.connect(database, read_only=True) as connection:
        frame = read_feature_columns(connection.table("customer_features"), features)
    fm = lookalike_matrix(frame, features, settings["lookalike_log_features"].default)
    _, units = _prepare(fm.customer_ids, fm.matrix)
    return units


def _exact_top3(units: np.ndarray, sample: np.ndarray) -> list[set[int]]:
    truth = []
    for start in range(0, sample.size, 100):
        rows = sample[start : start + 100]
        sims = units[rows] @ units.T
        sims[np.arange(rows.size), rows] = -np.inf
        truth.extend(set(top.tolist()) for top in np.argpartition(-sims, 3, axis=1)[:, :3])
    return truth


def _ivf(d: int, cells: int, kind: str) -> tuple[faiss.IndexIVF, faiss.Index]:
    """(the index, its coarse quantizer -- the caller keeps it alive while the index lives)."""
    if kind == "hnsw":
        quantizer = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
    else:
        quantizer = faiss.IndexFlatIP(d)
    if kind in ("fp16", "sq8"):
        qtype = faiss.ScalarQuantizer.QT_fp16 if kind == "fp16" else faiss.ScalarQuantizer.QT_8bit
        scalar = faiss.IndexIVFScalarQuantizer(
            quantizer, d, cells, qtype, faiss.METRIC_INNER_PRODUCT, False
        )
        return scalar, quantizer
    return faiss.IndexIVFFlat(quantizer, d, cells, faiss.METRIC_INNER_PRODUCT), quantizer


def _model_path(units: np.ndarray, sample: np.ndarray, truth: list[set[int]], queries: int) -> None:
    """The model's own search (its index, probes found once, customers in cell order, exact
    rescoring) with its defaults, and the exact k-d tree, on the first ``queries`` customers."""
    n = units.shape[0]
    defaults = lookalikes.top_k_lookalikes.__kwdefaults__ or {}
    probes, seed = defaults["n_probe"], defaults["random_state"]
    for method in ("ivf", "exact"):
        started = time.perf_counter()
        index = lookalikes._Index(units, method, None, probes, seed)
        built = time.perf_counter() - started
        found = lookalikes._search_top_k(index, sample, 3)
        started = time.perf_counter()
        lookalikes._search_top_k(index, np.arange(queries), 3)
        searched = time.perf_counter() - started
        hits = [len(want & set(row.tolist())) for want, row in zip(truth, found, strict=True)]
        label = (
            f"model {method}: {lookalikes._CELLS_PER_SQRT_N:g} x sqrt(n) cells, {probes} probes"
            if method == "ivf"
            else "model exact: k-d tree"
        )
        print(
            f"{label:<44}         : build {built:5.1f} s, {queries:,} queries"
            f" {searched:5.1f} s (all {n:,}: ~{searched * n / queries:5.0f} s),"
            f" recall@3 {np.mean(hits) / 3:.4f}  [{load()}]",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a built DuckDB file")
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--sample", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model-only", action="store_true", help="only the model's own paths")
    args = parser.parse_args(argv)

    units = _vectors(args.database)
    n, d = units.shape
    sample = np.sort(np.random.default_rng(args.seed).choice(n, min(args.sample, n), replace=False))
    truth = _exact_top3(units, sample)
    queries = min(args.queries, n)
    print(f"{n:,} customers x {d} features; {queries:,} queries timed; {load()}")
    _model_path(units, sample, truth, queries)
    if args.model_only:
        return 0
    sqrt_cells = round(np.sqrt(n))
    options = [  # (label, cells, kind, dimensions, probes)
        ("IVFFlat sqrt(n) cells (the model before)", sqrt_cells, "flat", d, (6, 8)),
        ("IVFFlat 2 x sqrt(n) cells", 2 * sqrt_cells, "flat", d, (8, 10)),
        ("IVFFlat 3 x sqrt(n) cells", 3 * sqrt_cells, "flat", d, (10, 12)),
        ("IVFFlat 4 x sqrt(n) cells, HNSW quantizer", 4 * sqrt_cells, "hnsw", d, (8, 16)),
        ("IVF fp16 scalar quantizer", sqrt_cells, "fp16", d, (8,)),
        ("IVF 8-bit scalar quantizer", sqrt_cells, "sq8", d, (8,)),
        ("IVFFlat sqrt(n) cells, padded to 16 dims", sqrt_cells, "flat", 16, (8,)),
    ]
    rng = np.random.default_rng(42)
    for label, cells, kind, width, probes in options:
        x = np.zeros((n, width), dtype=np.float32)
        x[:, :d] = units
        index, _quantizer = _ivf(width, cells, kind)
        index.cp.seed = 42
        index.cp.min_points_per_centroid = 1
        started = time.perf_counter()
        training = x[np.sort(rng.choice(n, size=min(n, 64 * cells), replace=False))]
        index.train(training)
        index.add(x)
        built = time.perf_counter() - started
        for probe in probes:
            index.nprobe = probe
            if kind == "hnsw":
                faiss.downcast_index(index.quantizer).hnsw.efSearch = max(64, 2 * probe)
            _, found = index.search(x[sample], NEIGHBOURS)
            started = time.perf_counter()
            index.search(x[:queries], NEIGHBOURS)
            searched = time.perf_counter() - started
            hits = [
                len(want & set([j for j in row.tolist() if j != s][:3]))
                for want, row, s in zip(truth, found, sample.tolist(), strict=True)
            ]
            print(
                f"{label:<44} nprobe {probe:>2}: build {built:5.1f} s, {queries:,} queries"
                f" {searched:5.1f} s (all {n:,}: ~{searched * n / queries:5.0f} s),"
                f" recall@3 {np.mean(hits) / 3:.4f}  [{load()}]",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
