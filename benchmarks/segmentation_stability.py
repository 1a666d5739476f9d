"""Stability and truth recovery of the default segmentation, as the README reports them.

Runs the package's segmentation (``run_segmentation``) with the settings of
``dbt_project.yml`` (the ``segment_*`` vars, overridable with ``--set name=yaml``) on the
``customer_features`` table of built DuckDB files and prints:

* for every ``--stability`` database: the chosen k, silhouette, the mean adjusted Rand
  index (ARI) against the full-data labels over 20 bootstrap resamples (customers drawn
  with replacement, seeds 0..19; the whole pipeline, k choice included, is rerun on each
  resample and compared on the resampled customers) and over KMeans seeds 0..4 (only
  ``random_seed`` changed);
* for every ``--truth DATABASE=TRUTH_CSV`` pair: the ARI of the segments against the
  planted archetypes of the generator's truth file.

Usage (after ``dbt build`` into each database)::

    python benchmarks/segmentation_stability.py --stability zeotap.duckdb \\
        --truth generated_3k.duckdb=gen3k/truth/customer_archetypes.csv
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import adjusted_rand_score

from customer_analytics.dbt_settings import load_settings
from customer_analytics.segmentation import run_segmentation

REPO_ROOT = Path(__file__).resolve().parents[1]
# The settings run_segmentation takes, named like the dbt vars (progress is not a setting).
SETTINGS = tuple(
    name
    for name, parameter in inspect.signature(run_segmentation).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "progress"
)


def project_settings(overrides: list[str]) -> dict[str, Any]:
    declared = load_settings(REPO_ROOT)
    settings = {name: declared[name].default for name in SETTINGS}
    for override in overrides:
        name, _, value = override.partition("=")
        if name not in settings:
            raise SystemExit(f"--set {override}: unknown setting {name!r}")
        settings[name] = yaml.safe_load(value)
    return settings


def features_of(database: str) -> pd.DataFrame:
    with duckdb.connect(database, read_only=True) as connection:
        return connection.sql("select * from customer_features order by customer_id").df()


def labels(
    frame: pd.DataFrame, settings: dict[str, Any], *, inner: bool = False
) -> tuple[pd.Series, pd.DataFrame]:
    # inner runs (other seeds, resamples) only need labels: skip their stored bootstrap,
    # unless it takes part in choosing k (segment_min_stability), where it must run as set
    cheap = inner and not settings["segment_min_stability"]
    result = run_segmentation(
        frame, **{**settings, **({"segment_bootstrap_resamples": 1} if cheap else {})}
    )
    assigned = result.assignments.set_index("customer_id")["segment_id"]
    return assigned, result.scores


def stability(database: str, settings: dict[str, Any], resamples: int, seeds: int) -> None:
    frame = features_of(database)
    started = time.perf_counter()
    full, scores = labels(frame, settings)
    chosen = scores[scores["is_chosen"]].iloc[0]
    seed_aris, seed_ks = [], []
    for seed in range(seeds):
        other, other_scores = labels(frame, {**settings, "random_seed": seed}, inner=True)
        seed_aris.append(adjusted_rand_score(full, other.reindex(full.index)))
        seed_ks.append(int(other_scores.loc[other_scores["is_chosen"], "k"].iloc[0]))
    boot_aris, boot_ks = [], []
    for resample in range(resamples):
        rows = np.random.default_rng(resample).choice(len(frame), size=len(frame), replace=True)
        drawn = frame.iloc[rows].reset_index(drop=True)
        original = drawn["customer_id"].to_numpy()
        drawn["customer_id"] = [f"{i:09d}" for i in range(len(drawn))]
        resampled, resampled_scores = labels(drawn, settings, inner=True)
        boot_ks.append(int(resampled_scores.loc[resampled_scores["is_chosen"], "k"].iloc[0]))
        boot_aris.append(adjusted_rand_score(full.loc[original], resampled.to_numpy()))
    print(
        f"{database}: k={int(chosen['k'])} silhouette={chosen['silhouette']:.3f}"
        f" stored_bootstrap_stability={chosen['bootstrap_stability']:.3f}"
        f" strength={chosen['structure_strength']!r}\n"
        f"  bootstrap ({resamples} resamples, k re-chosen): mean ARI"
        f" {np.mean(boot_aris):.3f} (min {np.min(boot_aris):.3f}),"
        f" k chosen {sorted(set(boot_ks))}\n"
        f"  KMeans seed change (seeds 0..{seeds - 1}): mean ARI {np.mean(seed_aris):.3f},"
        f" k chosen {seed_ks}   [{time.perf_counter() - started:.0f} s]",
        flush=True,
    )


def truth_recovery(pair: str, settings: dict[str, Any]) -> None:
    database, _, truth_csv = pair.partition("=")
    frame = features_of(database)
    assigned, scores = labels(frame, settings)
    truth = pd.read_csv(truth_csv).set_index("CustomerID")["Archetype"]
    chosen = scores[scores["is_chosen"]].iloc[0]
    recovered = adjusted_rand_score(truth.loc[assigned.index], assigned)
    print(
        f"{database}: {len(frame):,} customers, k={int(chosen['k'])},"
        f" ARI vs planted archetypes {recovered:.3f},"
        f" silhouette={chosen['silhouette']:.3f}"
        f" stability={chosen['bootstrap_stability']:.3f}"
        f" strength={chosen['structure_strength']!r}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stability", action="append", default=[], metavar="DATABASE")
    parser.add_argument("--truth", action="append", default=[], metavar="DATABASE=TRUTH_CSV")
    parser.add_argument("--resamples", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=YAML")
    args = parser.parse_args(argv)
    settings = project_settings(args.set)
    print(f"settings: {settings}")
    for database in args.stability:
        stability(database, settings, args.resamples, args.seeds)
    for pair in args.truth:
        truth_recovery(pair, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
