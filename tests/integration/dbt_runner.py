"""Run `dbt build` of this project into a scratch DuckDB file, as a user would from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BuiltProject:
    """A finished `dbt build`: its database file, its run results, and a query helper."""

    database: Path
    target_dir: Path
    returncode: int
    output: str

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.sql(sql).df()

    def scalar(self, sql: str) -> Any:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            rows = connection.sql(sql).fetchall()
        return rows[0][0]

    def run_results(self) -> list[dict[str, Any]]:
        payload = json.loads((self.target_dir / "run_results.json").read_text())
        return payload["results"]


def dbt_build(
    workdir: Path,
    dbt_vars: dict[str, Any] | None = None,
    select: str | None = None,
    check: bool = True,
    exclude: str | None = None,
) -> BuiltProject:
    """`dbt build` into ``workdir/warehouse.duckdb`` with its own target and log folders."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "warehouse.duckdb"
    target_dir = workdir / "target"
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "build",
        "--target",
        "ci",
        "--project-dir",
        str(REPO_ROOT),
        "--profiles-dir",
        str(REPO_ROOT),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(workdir / "logs"),
    ]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if select:
        # cautious: skip tests that also touch models outside the selection
        command += ["--select", select, "--indirect-selection", "cautious"]
    if exclude:
        # space-separated selectors, as on the command line: "a+ b+ c"
        command += ["--exclude", *exclude.split()]
    env = {
        **os.environ,
        "CUSTOMER_ANALYTICS_DB": str(database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    output = completed.stdout + completed.stderr
    if check and completed.returncode != 0:
        raise AssertionError(f"dbt build failed ({completed.returncode}):\n{output[-6000:]}")
    return BuiltProject(database, target_dir, completed.returncode, output)
