"""Settings: declared once in dbt_project.yml, every value checked, the README table generated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from customer_analytics import cli
from customer_analytics.dbt_settings import (
    RULES_VAR,
    Setting,
    SettingsError,
    load_settings,
    readme_settings_table,
    settings_from_vars,
    settings_problem,
    settings_table,
    value_problem,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = load_settings(REPO_ROOT)
DEFAULTS = {name: setting.default for name, setting in SETTINGS.items()}
FEATURE_COLUMNS = [
    "customer_id",
    "region",
    "recency_days",
    "transaction_count",
    "total_revenue",
    "average_transaction_value",
    "average_basket_size",
    "distinct_products",
    "tenure_days",
]


def problem_with(**values: object) -> str | None:
    return settings_problem(
        SETTINGS,
        given=list(values),
        values={**DEFAULTS, **values},
        feature_columns=FEATURE_COLUMNS,
        feature_patterns=["spend_share_*"],
        customer_count=200,
    )


def test_the_project_defaults_pass_every_check() -> None:
    assert problem_with() is None


def test_every_var_the_project_reads_is_a_declared_setting() -> None:
    """No model, macro or test reads a var that has no declaration (and so no check)."""
    used: set[str] = set()
    paths = [REPO_ROOT / "dbt_project.yml"]
    for folder in ("models", "macros", "python_models", "tests/dbt", "analyses"):
        paths += [
            path for path in (REPO_ROOT / folder).rglob("*") if path.suffix in {".sql", ".yml"}
        ]
    for path in paths:
        # var() and the project's readers of raw values (macros/portability.sql).
        used |= set(
            re.findall(
                r"(?<![\w.])(?:raw_|number_|date_)?var\(\s*['\"](\w+)['\"]", path.read_text()
            )
        )
    assert used - set(SETTINGS) - {RULES_VAR} == set()
    # ... and every declared setting is read somewhere (no dead settings).
    assert set(SETTINGS) - used == set()


def test_a_misspelled_var_names_the_closest_setting() -> None:
    problem = problem_with(segment_algoritm="gaussian_mixture")
    assert problem is not None
    assert "unknown var 'segment_algoritm'; did you mean segment_algorithm?" in problem
    assert "\n" not in problem


def test_an_unrelated_unknown_var_is_named_without_a_guess() -> None:
    problem = problem_with(colour="blue")
    assert problem is not None
    assert problem.startswith("unknown var 'colour' (")


def test_the_rules_var_cannot_be_set() -> None:
    problem = problem_with(setting_rules={})
    assert problem is not None
    assert "not a setting" in problem


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"segment_algorithm": "kmean"},
            "segment_algorithm='kmean' is not allowed (allowed: kmeans | agglomerative |"
            " gaussian_mixture | dbscan)",
        ),
        (
            {"segment_selection_rule": "silhouete"},
            "segment_selection_rule='silhouete' is not allowed (allowed: davies_bouldin |"
            " silhouette | calinski_harabasz | elbow)",
        ),
        (
            {"input_format": "xlsx"},
            "input_format='xlsx' is not allowed (allowed: csv | parquet or null)",
        ),
        (
            {"as_of_date": "2025-13-01"},
            "as_of_date='2025-13-01' is not allowed (allowed: date YYYY-MM-DD or null)",
        ),
        (
            {"segment_k_min": 1},
            "segment_k_min=1 is not allowed (allowed: whole number >= 2)",
        ),
        (
            {"lookalikes_per_customer": 2.5},
            "lookalikes_per_customer=2.5 is not allowed (allowed: whole number >= 1)",
        ),
        (
            {"lookalikes_per_customer": "3"},
            "lookalikes_per_customer='3' is not allowed (allowed: whole number >= 1)",
        ),
        (
            {"audience_min_similarity": 1.5},
            "audience_min_similarity=1.5 is not allowed (allowed: number -1..1 or null)",
        ),
        (
            {"total_value_tolerance": -0.01},
            "total_value_tolerance=-0.01 is not allowed (allowed: number >= 0)",
        ),
        (
            {"random_seed": None},
            "random_seed must not be null (allowed: whole number 0..4294967295)",
        ),
        (
            {"segment_count": True},
            "segment_count=True is not allowed (allowed: whole number >= 1 or null)",
        ),
        (
            {"segment_k_min": 6, "segment_k_max": 4},
            "segment_k_min=6 is above segment_k_max=4: use k_min <= k_max",
        ),
        (
            {"time_spine_start": "2030-01-01", "time_spine_end": "2020-01-01"},
            "time_spine_start=2030-01-01 must be before time_spine_end=2020-01-01",
        ),
        (
            {"segment_count": 200},
            "segment_count=200 needs more than 200 customers; the input has 200: use a"
            " segment_count below 200",
        ),
        (
            {"segment_k_min": 250, "segment_k_max": 300},
            "segment_k_min=250 needs more than 250 customers; the input has 200: lower"
            " segment_k_min or add customers",
        ),
        (
            {"audience_seed_customer_ids": "C0001"},
            "audience_seed_customer_ids='C0001' is not allowed (allowed: list of text or null)",
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_each_kind_of_bad_value_is_one_line_naming_the_var(
    values: dict[str, object], expected: str
) -> None:
    assert problem_with(**values) == expected


@pytest.mark.parametrize(
    "values",
    [
        {"as_of_date": "2024-02-29"},
        {"segment_count": 199},
        {"segment_algorithm": "dbscan", "segment_k_min": 500, "segment_k_max": 600},
        {"audience_size": None, "audience_min_similarity": 0.5},
        {"segment_features": ["recency_days", "spend_share_books", "spend_share_*", "total_*"]},
        {"input_dir": "/data/shop", "input_format": "parquet"},
    ],
    ids=str,
)
def test_good_values_pass(values: dict[str, object]) -> None:
    assert problem_with(**values) is None


def test_a_feature_that_customer_features_lacks_is_named_with_the_closest_column() -> None:
    problem = problem_with(segment_features=["recency_days", "tenur_days"])
    assert problem is not None
    assert problem.startswith(
        "segment_features: 'tenur_days' is not a column of customer_features; did you mean"
        " tenure_days?"
    )
    problem = problem_with(lookalike_features=["region", "basket_*"])
    assert problem is not None
    assert problem.startswith("lookalike_features: 'basket_*' is not a column")


def test_customer_count_is_not_checked_when_unknown() -> None:
    values = {**DEFAULTS, "segment_count": 5000}
    assert settings_problem(SETTINGS, ["segment_count"], values) is None


def test_every_setting_is_declared_with_a_rule_and_a_default() -> None:
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    project_vars = project["vars"]
    assert set(SETTINGS) == set(project_vars) - {RULES_VAR}
    broken = {key: value for key, value in project_vars.items() if key != "as_of_date"}
    with pytest.raises(SettingsError, match=r"rules without a var: \['as_of_date'\]"):
        settings_from_vars(broken)
    bad_default = {**project_vars, "segment_algorithm": "kmedoids"}
    with pytest.raises(SettingsError, match="the default of segment_algorithm='kmedoids'"):
        settings_from_vars(bad_default)


def test_value_problem_of_a_date_accepts_yaml_dates() -> None:
    import datetime as dt

    setting = Setting("as_of_date", "date", None, "Reference date.")
    assert value_problem(setting, dt.date(2025, 1, 31)) is None
    assert value_problem(setting, "2025-02-30") is not None


def test_the_readme_settings_table_is_generated_from_dbt_project_yml() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_settings_table(readme) == settings_table(SETTINGS)
    for name in SETTINGS:
        assert f"| `{name}` |" in readme


def test_settings_command_checks_the_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    stale = settings_table(SETTINGS).replace("| `kmeans` |", "| `dbscan` |")
    readme.write_text(f"# Project\n\n{stale}\n", encoding="utf-8")
    arguments = ["settings", "--project-dir", str(REPO_ROOT)]
    assert cli.main([*arguments, "--check-readme", str(readme)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the settings table in")
    assert err.count("\n") == 1
    assert cli.main([*arguments, "--update-readme", str(readme)]) == 0
    assert cli.main([*arguments, "--check-readme", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == f"# Project\n\n{settings_table(SETTINGS)}\n"


def test_an_exclusive_minimum_rejects_the_bound_itself() -> None:
    assert problem_with(dbscan_eps=0) == ("dbscan_eps=0 is not allowed (allowed: number > 0)")
    assert problem_with(dbscan_eps=0.001) is None


def test_the_raw_customer_file_is_found_in_any_letter_case(tmp_path: Path) -> None:
    import duckdb

    from customer_analytics.dbt_plugin import raw_customer_count, raw_customers_file

    (tmp_path / "CUSTOMERS.csv").write_text("CustomerID\nC1\nC2\nC3\n")
    (tmp_path / "Products.csv").write_text("ProductID\nP1\n")
    assert raw_customers_file(tmp_path, None) == tmp_path / "CUSTOMERS.csv"
    assert raw_customers_file(tmp_path, "parquet") is None
    with duckdb.connect() as connection:
        assert raw_customer_count(connection, tmp_path, "csv") == 3
        assert raw_customer_count(connection, tmp_path / "missing", None) is None
