"""The Spark runner: which builds it takes, and what plain dbt says without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from customer_analytics import cli, spark_runner

PROFILES = """
shop:
  target: local
  outputs:
    local: {type: duckdb, path: x.duckdb}
    cluster: {type: spark, method: session, host: local, schema: analytics}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop\n")
    (tmp_path / "profiles.yml").write_text(PROFILES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DBT_PROJECT_DIR", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    return tmp_path


def test_target_type_follows_dbt_target_selection(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert spark_runner.target_type([]) == "duckdb"
    assert spark_runner.target_type(["--target", "cluster"]) == "spark"
    assert spark_runner.target_type(["-t", "cluster", "--select", "x"]) == "spark"
    assert spark_runner.target_type(["--target=cluster"]) == "spark"
    monkeypatch.setenv("DBT_TARGET", "cluster")
    assert spark_runner.target_type([]) == "spark"
    assert spark_runner.target_type(["--target", "missing"]) is None


def test_target_type_reads_the_profiles_dir_argument(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("profiles")
    (elsewhere / "profiles.yml").write_text(PROFILES.replace("target: local", "target: cluster"))
    assert spark_runner.target_type(["--profiles-dir", str(elsewhere)]) == "spark"


def test_build_on_spark_goes_through_the_runner(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(spark_runner, "run_dbt", lambda arguments: calls.append(arguments) or 7)
    assert cli.main(["build", "--target", "cluster", "--select", "staging"]) == 7
    assert calls == [["build", "--target", "cluster", "--select", "staging"]]


def test_install_adds_the_session_method() -> None:
    pytest.importorskip("dbt.adapters.spark")
    from dbt.adapters.spark.impl import SparkAdapter

    spark_runner.install()
    try:
        helpers = SparkAdapter.python_submission_helpers.fget(None)
        assert helpers["session"] is spark_runner.SessionPythonJobHelper
        assert {"job_cluster", "all_purpose_cluster"} <= set(helpers)
        assert os.environ[spark_runner.RUNNER_ENV] == "session"
    finally:
        os.environ.pop(spark_runner.RUNNER_ENV, None)
        os.environ.pop("CUSTOMER_ANALYTICS_WORKING_DIR", None)
