"""Share of lookalikes that share the customer's planted archetype, as the README reports it.

Runs the package's lookalikes (``lookalikes_from_features``) with the settings of
``dbt_project.yml`` (``lookalike_features``, ``lookalike_log_features``,
``lookalikes_per_customer``; overridable with ``--set name=yaml``) on the
``customer_features`` table of built DuckDB files, and prints for every
``DATABASE=TRUTH_CSV`` pair the share of (customer, lookalike) pairs whose planted archetypes
(the generator's truth file, or data/demo_truth for the bundled seeds) are equal.

Usage (after ``dbt build`` into each database)::

    python benchmarks/lookalike_archetypes.py \\
        bundled.duckdb=data/demo_truth/customer_archetypes.csv \\
        gen3k.duckdb=gen3k/truth/customer_archetypes.csv \\
        --set 'lookalike_features=[region, tenure_days, recency_days]'
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from customer_analytics.lookalikes import lookalikes_from_features, read_feature_columns

REPO_ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # package parameter: dbt var
    "features": "lookalike_features",
    "log_features": "lookalike_log_features",
    "k": "lookalikes_per_customer",
}


def project_settings(overrides: list[str]) -> dict[str, Any]:
    project_vars = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]
    values = {var: project_vars[var] for var in SETTINGS.values()}
    for override in overrides:
        name, _, value = override.partition("=")
        if name not in values:
            raise SystemExit(f"--set {override}: unknown setting {name!r}")
        values[name] = yaml.safe_load(value)
    return {parameter: values[var] for parameter, var in SETTINGS.items()}


def sharing_archetype(pair: str, settings: dict[str, Any]) -> None:
    database, _, truth_csv = pair.partition("=")
    if not truth_csv:
        raise SystemExit(f"{pair}: expected DATABASE=TRUTH_CSV")
    started = time.perf_counter()
    with duckdb.connect(database, read_only=True) as connection:
        frame = read_feature_columns(connection.table("customer_features"), settings["features"])
    lookalikes = lookalikes_from_features(frame, **settings)
    truth = pd.read_csv(truth_csv).set_index("CustomerID")["Archetype"]
    missing = sorted(set(frame["customer_id"]) - set(truth.index))
    if missing:
        raise SystemExit(f"{truth_csv}: no archetype for customer {missing[0]!r}")
    same = lookalikes["customer_id"].map(truth) == lookalikes["lookalike_customer_id"].map(truth)
    print(
        f"{database}: {len(frame)} customers, lookalikes sharing the archetype"
        f" {same.mean():.4f} ({time.perf_counter() - started:.1f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", metavar="DATABASE=TRUTH_CSV")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=YAML")
    args = parser.parse_args(argv)
    settings = project_settings(args.set)
    print(f"settings: {settings}")
    for pair in args.pairs:
        sharing_archetype(pair, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
