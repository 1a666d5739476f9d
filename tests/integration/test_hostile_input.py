"""Hostile input (issue 9): the generated corpus in tests/integration/bad_input_corpus.py.

One build reads a folder holding every row-level defect at once, in awkward layouts, and
must quarantine exactly the expected rows with exactly the expected reasons. Each whole-file
case is its own short build that must stop with one exact line. No text from a file, a
folder name or a var may run as SQL or Jinja.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from .bad_input_corpus import (
    HOSTILE_FOLDER_NAME,
    TABLES,
    WHOLE_FILE_CASES,
    RowCorpus,
    WholeFileCase,
    bundled,
    spend_share_column_names,
    write_native_parquet,
    write_row_corpus,
)
from .dbt_runner import REPO_ROOT, BuiltProject, dbt_build

pytestmark = pytest.mark.integration

ROW_CORPUS_MODELS = (
    "+customer_features +input_row_counts +spend_share_columns +input_value_spellings"
)


@pytest.fixture(scope="module")
def row_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[RowCorpus, BuiltProject]:
    folder = tmp_path_factory.mktemp("row-corpus")
    corpus = write_row_corpus(folder)
    built = dbt_build(
        tmp_path_factory.mktemp("row-corpus-build"),
        {"input_dir": str(folder)},
        select=ROW_CORPUS_MODELS,
    )
    return corpus, built


@pytest.mark.parametrize("table", TABLES)
def test_every_bad_row_is_quarantined_with_its_exact_reason(
    row_corpus: tuple[RowCorpus, BuiltProject], table: str
) -> None:
    corpus, built = row_corpus
    quarantined = built.query(
        f"select source_row_number, quarantine_reason from quarantine.quarantined_{table.lower()}"
    )
    got = dict(zip(quarantined["source_row_number"], quarantined["quarantine_reason"], strict=True))
    assert got == corpus.expected_reasons[table]


def test_every_delivered_row_is_staged_or_quarantined(
    row_corpus: tuple[RowCorpus, BuiltProject],
) -> None:
    corpus, built = row_corpus
    counts = built.query("select * from quarantine.input_row_counts").set_index("raw_table")
    for table in TABLES:
        delivered = len(corpus.tables[table])
        assert counts.loc[table, "raw_rows"] == delivered
        assert counts.loc[table, "quarantined_rows"] == len(corpus.expected_reasons[table])
        assert counts.loc[table, "staged_rows"] + counts.loc[table, "quarantined_rows"] == delivered
    staged = built.query("select transaction_id from staging.stg_shop__transactions")
    expected = corpus.staged_rows("Transactions")["TransactionID"]
    assert sorted(staged["transaction_id"]) == sorted(expected)


def test_layouts_are_matched_by_column_name(row_corpus: tuple[RowCorpus, BuiltProject]) -> None:
    """Semicolons with every field quoted; tabs, renamed and extra columns; reordered columns."""
    corpus, built = row_corpus
    assert "products.CSV: extra columns ignored: Supplier" in built.output
    assert "Transactions.csv: extra columns ignored: Note" in built.output
    products = built.query(
        "select source_file, source_row_number, product_id, product_name, price_text"
        " from staging.stg_shop__products_checked order by source_row_number"
    )
    delivered = corpus.tables["Products"]
    assert (products["source_file"] == "products.CSV").all()
    assert list(products["product_id"]) == list(
        delivered["ProductID"].str.strip().replace("", None)
    )
    assert list(products["price_text"].fillna("")) == list(delivered["Price"].str.strip())


def test_hostile_text_arrives_byte_identical(row_corpus: tuple[RowCorpus, BuiltProject]) -> None:
    corpus, built = row_corpus
    names = built.query(
        "select customer_name from customers where customer_id between 'C901' and 'C906'"
    )
    assert sorted(names["customer_name"]) == sorted(corpus.hostile_names)
    products = built.query(
        "select distinct product_name from staging.stg_shop__products where product_id like 'P90%'"
    )
    assert list(products["product_name"]) == [corpus.hostile_names[0]]


def test_case_variants_are_merged_into_the_most_frequent_spelling(
    row_corpus: tuple[RowCorpus, BuiltProject],
) -> None:
    corpus, built = row_corpus
    regions = built.query(
        "select customer_id, region from customers where customer_id in ('C950', 'C951')"
    )
    assert (
        dict(zip(regions["customer_id"], regions["region"], strict=True)) == corpus.expected_regions
    )
    assert built.scalar("select count(distinct region) from customers") == 4
    mapping = built.query(
        "select raw_column, delivered_value, normalised_value from quarantine.input_value_spellings"
        " where delivered_value <> normalised_value order by all"
    )
    assert mapping.to_numpy().tolist() == [
        ["Category", "home decor", "Home Decor"],
        ["Region", "EUROPE", "Europe"],
        ["Region", "south america", "South America"],
    ]


def test_spend_share_columns_are_safe_unique_and_mapped(
    row_corpus: tuple[RowCorpus, BuiltProject],
) -> None:
    corpus, built = row_corpus
    staged = corpus.staged_rows("Products")
    categories = sorted(set(staged["Category"].str.strip().replace({"home decor": "Home Decor"})))
    expected = spend_share_column_names(categories)
    mapping = built.query("select category, column_name from spend_share_columns")
    assert dict(zip(mapping["category"], mapping["column_name"], strict=True)) == expected
    assert len(set(expected.values())) == len(expected) == 8

    # shares recomputed independently from the rows that should be staged
    transactions = corpus.staged_rows("Transactions")
    product_category = dict(
        zip(
            staged["ProductID"],
            staged["Category"].str.strip().replace({"home decor": "Home Decor"}),
            strict=True,
        )
    )
    transactions = transactions.assign(
        category=transactions["ProductID"].map(product_category),
        value=pd.to_numeric(transactions["TotalValue"]),
    )
    transactions = transactions[transactions["category"].notna()]
    spend = transactions.pivot_table(
        index="CustomerID", columns="category", values="value", aggfunc="sum"
    ).fillna(0)
    shares = spend.div(spend.sum(axis=1), axis=0).rename(columns=expected)
    features = built.query(
        f"select customer_id, {', '.join(expected.values())} from customer_features"
    )
    features = features.set_index("customer_id").loc[shares.index, list(expected.values())]
    pd.testing.assert_frame_equal(
        features, shares[list(expected.values())], check_names=False, check_exact=False, atol=1e-12
    )
    assert (features.sum(axis=1) - 1).abs().max() < 1e-12


@pytest.mark.parametrize("case", WHOLE_FILE_CASES, ids=lambda case: case.name)
def test_unusable_input_stops_with_one_line(tmp_path: Path, case: WholeFileCase) -> None:
    folder = tmp_path / "input"
    case.prepare(folder)
    built = dbt_build(
        tmp_path / "build",
        {"input_dir": str(folder), **case.dbt_vars},
        select="+customers",
        check=False,
    )
    assert built.returncode != 0
    assert case.expected_line.format(input_dir=folder) in built.output, built.output[-3000:]
    assert "Traceback" not in built.output
    # nothing downstream of staging ran
    if built.database.exists():
        with duckdb.connect(str(built.database), read_only=True) as connection:
            marts = connection.sql(
                "select table_name from information_schema.tables where table_name = 'customers'"
            ).fetchall()
        assert marts == []


def test_hostile_folder_name_and_native_parquet(tmp_path: Path) -> None:
    """A folder named like an injection, Parquet with native types, no input_format given."""
    folder = tmp_path / HOSTILE_FOLDER_NAME
    write_native_parquet(folder)
    built = dbt_build(
        tmp_path / "build", {"input_dir": str(folder)}, select="+customers +input_row_counts"
    )
    assert not list(tmp_path.rglob("injected.csv"))
    assert not (REPO_ROOT / "injected.csv").exists()
    counts = built.query("select raw_table, raw_rows, staged_rows from quarantine.input_row_counts")
    assert counts.set_index("raw_table")["staged_rows"].to_dict() == {
        table: len(bundled(table)) for table in TABLES
    }
    assert set(
        built.query("select distinct source_file from staging.stg_shop__customers_checked")[
            "source_file"
        ]
    ) == {"Customers.parquet"}
    # the same typed values as the bundled CSV text
    transactions = bundled("Transactions")
    staged = built.query(
        "select transaction_id, cast(transaction_at as varchar) as transaction_at, quantity,"
        " cast(total_value as double) as total_value, price from staging.stg_shop__transactions"
        " order by transaction_id"
    )
    assert list(staged["transaction_at"]) == list(
        transactions.sort_values("TransactionID")["TransactionDate"]
    )
    assert list(staged["total_value"]) == list(
        pd.to_numeric(transactions.sort_values("TransactionID")["TotalValue"])
    )
    assert built.scalar("select sum(total_revenue) from customers") == pytest.approx(
        pd.to_numeric(transactions["TotalValue"]).sum(), abs=0.005
    )
