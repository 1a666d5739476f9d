"""Data whose customer ids are not the bundled demo's: an empty audience is a warning with
its reason and typed columns; the CLI's deliverable takes the data's own first customers.
Plus the CLI's one-line errors and per-command help."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from customer_analytics import cli

from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = pytest.mark.integration


def copy_with_other_ids(target: Path) -> Path:
    """The bundled seeds with every customer id C<n> renamed K<n>, as input files."""
    target.mkdir(parents=True)
    for name in ("Customers", "Products", "Transactions"):
        with (REPO_ROOT / "seeds" / "shop" / f"{name}.csv").open(newline="") as source:
            rows = list(csv.reader(source))
        header = rows[0]
        if "CustomerID" in header:
            index = header.index("CustomerID")
            for row in rows[1:]:
                row[index] = "K" + row[index][1:]
        with (target / f"{name}.csv").open("w", newline="") as out:
            csv.writer(out).writerows(rows)
    return target


@pytest.fixture(scope="module")
def other_ids(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    workdir = tmp_path_factory.mktemp("other_ids")
    inputs = copy_with_other_ids(workdir / "input")
    return dbt_build(workdir / "dbt", {"input_dir": str(inputs)})


def test_an_empty_audience_is_a_warning_with_its_reason(other_ids: BuiltProject) -> None:
    assert (
        "audience_expansion is empty: none of the 5 seed customer(s) of the seed file"
        " seeds/config/audience_seed_customers.csv is a customer of this data"
    ) in other_ids.output.replace("\n", " ")
    types = other_ids.query(
        "select column_name, data_type from duckdb_columns()"
        " where table_name = 'audience_expansion' order by column_index"
    )
    assert list(zip(types["column_name"], types["data_type"], strict=True)) == [
        ("customer_id", "VARCHAR"),
        ("audience_rank", "BIGINT"),
        ("similarity_score", "DOUBLE"),
        ("nearest_seed_customer_id", "VARCHAR"),
    ]
    published = other_ids.database.parent / "published" / other_ids.database.name
    assert published.exists()


def test_lookalikes_csv_defaults_to_the_first_20_customers_of_the_data(
    other_ids: BuiltProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = other_ids.database.parent / "published" / other_ids.database.name
    output = tmp_path / "Lookalike.csv"
    assert cli.main(["lookalikes-csv", "--database", str(published), "--output", str(output)]) == 0
    with output.open(newline="") as written:
        ids = [row["cust_id"] for row in csv.DictReader(written)]
    assert ids == [f"K{number:04d}" for number in range(1, 21)]
    printed = capsys.readouterr().err
    assert "200 customers" in printed
    assert "from the build of" in printed


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--customers", "C0001"], "customers not in customer_lookalikes: C0001"),
        (["--customers", "K0009-K0002"], "customer range 'K0009-K0002' runs backwards"),
        (["--database", "{missing}"], "not found: run `dbt build` first"),
    ],
    ids=["unknown-id", "backwards-range", "missing-file"],
)
def test_lookalikes_csv_failures_are_one_line(
    other_ids: BuiltProject,
    tmp_path: Path,
    arguments: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    published = other_ids.database.parent / "published" / other_ids.database.name
    arguments = [
        argument.replace("{missing}", str(tmp_path / "none.duckdb")) for argument in arguments
    ]
    if "--database" not in arguments:
        arguments += ["--database", str(published)]
    status = cli.main(["lookalikes-csv", *arguments, "--output", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_locked_database_is_one_line(tmp_path: Path) -> None:
    """A database another process holds open for writing (dbt's file during a build)."""
    database = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]);"
            " c.execute('create table t (x int)'); print('ready', flush=True); sys.stdin.read()",
            str(database),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "customer_analytics.cli",
                "lookalikes-csv",
                "--database",
                str(database),
                "--output",
                str(tmp_path / "out.csv"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        holder.communicate(timeout=30)
    assert completed.returncode == 1
    assert completed.stderr.startswith(f"error: cannot open {database} read-only")
    assert completed.stderr.count("\n") == 1
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("build", "--no-publish"),
        ("publish", "--storage-version"),
        ("lookalikes-csv", "--customers"),
        ("report", "--output"),
        ("settings", "--check-readme"),
        ("generate", "--customers"),
    ],
)
def test_every_command_has_its_own_help(command: str, option: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "customer_analytics.cli", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith(f"usage: customer-analytics {command}")
    assert option in completed.stdout


def test_build_rejects_unreadable_vars_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["build", "--vars", "{as_of_date: 2025-13-01}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --vars '{as_of_date: 2025-13-01}' is not valid YAML")
    assert "month must be in 1..12" in err
    assert err.count("\n") == 1


def test_build_passes_dbt_arguments_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def runner(dbt_args: list[str]) -> int:
        seen.append(list(dbt_args))
        return 0

    monkeypatch.setattr(cli, "choose_build_runner", lambda dbt_args: runner)
    arguments = ["--select", "+customers", "--published", "bi/x.duckdb", "--vars", "{a: 1}"]
    assert cli.main(["build", *arguments, "--no-publish", "--target", "ci"]) == 0
    assert seen == [["--select", "+customers", "--vars", "{a: 1}", "--target", "ci"]]


def test_the_report_names_the_published_build_it_shows(
    other_ids: BuiltProject, tmp_path: Path
) -> None:
    from customer_analytics.report import render_report

    published = other_ids.database.parent / "published" / other_ids.database.name
    page = render_report(published, tmp_path / "report", progress=None).read_text()
    run_results = (other_ids.target_dir / "run_results.json").read_text()
    invocation = json.loads(run_results)["metadata"]["invocation_id"]
    build_line = page.split('<p id="build">', 1)[1].split("</p>", 1)[0]
    assert build_line.startswith("Build of ")
    assert invocation in build_line
    assert str(other_ids.database.parent.parent / "input") in build_line
    assert "200 customers" in build_line
    assert "1,000 transactions" in build_line
