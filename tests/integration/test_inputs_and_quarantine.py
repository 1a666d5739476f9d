"""Raw input through `input_dir`: CSV and Parquet from the generator, and defective rows.

Every defect the generator plants must land in the quarantine table of its file, at its
row, with a reason naming the broken rule; every other row must reach staging.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from customer_analytics import generate

from .dbt_runner import BuiltProject, dbt_build

pytestmark = pytest.mark.integration

REASON_FOR_DEFECT = {
    "missing_customer_id": "missing CustomerID",
    "duplicate_customer_id": "duplicate CustomerID",
    "unparseable_signup_date": "unparseable SignupDate",
    "duplicate_product_id": "duplicate ProductID",
    "non_positive_price": "Price not positive",
    "missing_transaction_id": "missing TransactionID",
    "duplicate_transaction_id": "duplicate TransactionID",
    "unknown_customer_id": "unknown CustomerID",
    "unknown_product_id": "unknown ProductID",
    "unparseable_transaction_date": "unparseable TransactionDate",
    "non_positive_quantity": "Quantity not positive",
    "total_value_mismatch": "TotalValue not equal to Quantity x Price",
}


def _generate(out: Path, *extra: str) -> Path:
    arguments = ["--customers", "300", "--products", "60", "--transactions", "1500"]
    assert generate.main([*arguments, "--out", str(out), "--quiet", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuiltProject]:
    data = _generate(tmp_path_factory.mktemp("defective-data"), "--defects", "24")
    built = dbt_build(
        tmp_path_factory.mktemp("defective-build"),
        {"input_dir": str(data)},
        select="+customer_features +input_row_counts",
    )
    return data, built


def _conflicting_keys(frame: pd.DataFrame, key: str) -> set[str]:
    """Keys delivered more than once with different content (every copy is held back)."""
    copies = frame[frame[key].duplicated(keep=False)]
    distinct = copies.drop_duplicates().groupby(key).size()
    return set(distinct[distinct > 1].index)


def _delivered(data: Path) -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("Customers", "Products", "Transactions")
    }


def test_every_planted_defect_is_quarantined_with_its_reason(
    defective: tuple[Path, BuiltProject],
) -> None:
    data, built = defective
    defects = pd.read_csv(data / "truth" / "defects.csv")
    quarantined = pd.concat(
        [
            built.query(
                f"select '{file_name}' as file_name, source_file, source_row_number,"
                f" quarantine_reason from quarantine.quarantined_{file_name.lower()}"
            )
            for file_name in ("Customers", "Products", "Transactions")
        ]
    )
    merged = defects.merge(
        quarantined,
        left_on=["File", "RowNumber"],
        right_on=["file_name", "source_row_number"],
        how="left",
    )
    assert len(defects) == 24
    assert merged["quarantine_reason"].notna().all(), merged[merged["quarantine_reason"].isna()]
    for row in merged.itertuples():
        assert REASON_FOR_DEFECT[row.Kind] in row.quarantine_reason
        assert row.source_file == f"{row.File}.csv"

    # every other held-back row is a copy of a conflicting duplicate, or depends on one
    delivered = _delivered(data)
    planted = set(zip(defects["File"], defects["RowNumber"], strict=True))
    keys = {"Customers": "CustomerID", "Products": "ProductID", "Transactions": "TransactionID"}
    for row in quarantined.itertuples():
        if (row.file_name, row.source_row_number) in planted:
            continue
        frame = delivered[row.file_name]
        delivered_row = frame.iloc[row.source_row_number - 1]
        if row.quarantine_reason.startswith("conflicting duplicate"):
            key = keys[row.file_name]
            assert delivered_row[key] in _conflicting_keys(frame, key)
        else:
            assert row.file_name == "Transactions"
            assert delivered_row["CustomerID"] in _conflicting_keys(
                delivered["Customers"], "CustomerID"
            ) or delivered_row["ProductID"] in _conflicting_keys(
                delivered["Products"], "ProductID"
            ), row


def test_every_raw_row_is_staged_or_quarantined(defective: tuple[Path, BuiltProject]) -> None:
    data, built = defective
    counts = built.query("select * from quarantine.input_row_counts").set_index("raw_table")
    for file_name in ("Customers", "Products", "Transactions"):
        raw_rows = len(pd.read_csv(data / f"{file_name}.csv", dtype=str))
        assert counts.loc[file_name, "raw_rows"] == raw_rows
        assert (
            counts.loc[file_name, "staged_rows"] + counts.loc[file_name, "quarantined_rows"]
            == raw_rows
        )


def test_marts_hold_only_trusted_rows(defective: tuple[Path, BuiltProject]) -> None:
    data, built = defective
    delivered = _delivered(data)
    customers = delivered["Customers"].iloc[:300]
    conflicting_customers = _conflicting_keys(delivered["Customers"], "CustomerID")
    conflicting_products = _conflicting_keys(delivered["Products"], "ProductID")
    conflicting_transactions = _conflicting_keys(delivered["Transactions"], "TransactionID")
    clean = delivered["Transactions"].iloc[:1500]
    clean = clean[
        ~clean["CustomerID"].isin(conflicting_customers)
        & ~clean["ProductID"].isin(conflicting_products)
        & ~clean["TransactionID"].isin(conflicting_transactions)
    ]
    expected_revenue = pd.to_numeric(clean["TotalValue"]).sum()
    assert built.scalar("select sum(total_revenue) from customers") == pytest.approx(
        expected_revenue, abs=0.01
    )
    assert built.scalar("select count(*) from customers") == len(
        customers[~customers["CustomerID"].isin(conflicting_customers)]
    )


def test_parquet_input_gives_the_same_marts_as_csv(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    csv_data = _generate(tmp_path_factory.mktemp("csv-data"))
    parquet_data = _generate(tmp_path_factory.mktemp("parquet-data"), "--format", "parquet")
    query = (
        "select customer_id, transaction_count, total_revenue, recency_days, tenure_days"
        " from customers order by customer_id"
    )
    from_csv = dbt_build(
        tmp_path_factory.mktemp("csv-build"), {"input_dir": str(csv_data)}, select="+customers"
    ).query(query)
    from_parquet = dbt_build(
        tmp_path_factory.mktemp("parquet-build"),
        {"input_dir": str(parquet_data), "input_format": "parquet"},
        select="+customers",
    ).query(query)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert len(from_csv) == 300


def test_malformed_csv_fails_naming_file_and_line(tmp_path: Path) -> None:
    data = _generate(tmp_path / "data")
    path = data / "Transactions.csv"
    lines = path.read_text().splitlines()
    lines[10] += ",unexpected extra field"
    path.write_text("\n".join(lines) + "\n")
    built = dbt_build(
        tmp_path / "build", {"input_dir": str(data)}, select="+stg_shop__transactions", check=False
    )
    assert built.returncode != 0
    assert "Transactions.csv" in built.output
    assert "Line: 11" in built.output or "line 11" in built.output.lower()
