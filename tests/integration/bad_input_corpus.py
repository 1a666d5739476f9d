"""A corpus of hostile input, generated from the bundled demo files (never stored by hand).

Two kinds of case, each with its exact expected outcome:

- ``write_row_corpus``: ONE input folder holding many bad rows at once, in awkward but
  legal layouts (semicolon-delimited with every field quoted, tab-delimited with renamed and
  extra columns, reordered columns with BOM and CRLF). The build must succeed, quarantine
  exactly the expected rows with exactly the expected reasons, stage everything else, and
  keep hostile text byte-identical. One ``dbt build`` checks them all.
- ``WHOLE_FILE_CASES``: inputs that cannot be used at all. Each must stop the build with
  one exact line naming the file, column or setting; they stop before or in staging, so
  each build is short.

Run as a script to write every case to a folder for inspection:
``python -m tests.integration.bad_input_corpus --out /tmp/corpus``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED = REPO_ROOT / "seeds" / "shop"
TABLES = ("Customers", "Products", "Transactions")

FUTURE = "in the future (after the build date)"


def bundled(table: str) -> pd.DataFrame:
    """A bundled demo file as text, exactly as delivered."""
    return pd.read_csv(BUNDLED / f"{table}.csv", dtype=str, keep_default_na=False)


def spend_share_column_names(categories: list[str]) -> dict[str, str]:
    """The documented slug rule (macros/category_columns.sql), written independently."""
    names: dict[str, str] = {}
    for category in sorted(categories):
        slug = re.sub("[^a-z0-9]+", "_", category.lower()).strip("_")
        if not slug:
            slug = "category_" + hashlib.md5(category.encode()).hexdigest()[:8]
        name, suffix = f"spend_share_{slug}", 1
        while name in names.values():
            suffix += 1
            name = f"spend_share_{slug}_{suffix}"
        names[category] = name
    return names


@dataclass
class RowCorpus:
    """The delivered tables (text) and the expected quarantine per (table, row number)."""

    tables: dict[str, pd.DataFrame]
    expected_reasons: dict[str, dict[int, str]] = field(default_factory=dict)
    hostile_names: list[str] = field(default_factory=list)
    expected_regions: dict[str, str] = field(default_factory=dict)

    def staged_rows(self, table: str) -> pd.DataFrame:
        frame = self.tables[table].copy()
        frame.index = range(1, len(frame) + 1)
        return frame.drop(index=list(self.expected_reasons[table]))


HOSTILE_TEXT = [
    "Robert'); DROP TABLE customers; --",
    "{{ 7 * 7 }} {% raise %}",
    "x' or '1'='1",
    "/* comment */ -- tail",
    "山田 太郎",
    "semi;colon, comma\ttab",
]
HOSTILE_CATEGORIES = ["books' or 1=1 or '", "3D Printers", "Home-Decor", "家具"]


def build_row_corpus() -> RowCorpus:
    customers, products, transactions = (bundled(table) for table in TABLES)
    reasons: dict[str, dict[int, str]] = {table: {} for table in TABLES}

    def add(frame: pd.DataFrame, row: dict[str, str]) -> tuple[pd.DataFrame, int]:
        frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
        return frame, len(frame)

    # --- Customers ---------------------------------------------------------------------
    valid_customer = {"CustomerName": "Ann", "Region": "Asia", "SignupDate": "2024-01-01"}
    hostile_ids = []
    for number, name in enumerate(HOSTILE_TEXT, start=901):
        customers, _ = add(
            customers, {**valid_customer, "CustomerID": f"C{number}", "CustomerName": name}
        )
        hostile_ids.append(f"C{number}")
    customers, _ = add(
        customers, {**valid_customer, "CustomerID": "C950", "Region": "  south america "}
    )
    customers, _ = add(customers, {**valid_customer, "CustomerID": "C951", "Region": "EUROPE"})
    for customer_id, changes, reason in [
        ("", {}, "missing CustomerID"),
        ("C960", {"SignupDate": "2999-01-01"}, f"SignupDate {FUTURE}"),
        ("C961", {"SignupDate": "1850-06-01"}, "SignupDate before 1900-01-01"),
        ("C962", {"SignupDate": "13/01/2024"}, "unparseable SignupDate"),
        ("C963", {"Region": " "}, "missing Region"),
    ]:
        customers, row = add(customers, {**valid_customer, **changes, "CustomerID": customer_id})
        reasons["Customers"][row] = reason
    # an identical copy (the first stays) and a conflicting copy (every copy held back)
    customers, row = add(customers, customers.iloc[5].to_dict())
    reasons["Customers"][row] = "duplicate CustomerID (identical copy of row 6, which is kept)"
    conflicting_customer = customers.iloc[4]["CustomerID"]
    customers, row = add(customers, {**customers.iloc[4].to_dict(), "CustomerName": "Someone Else"})
    reasons["Customers"][5] = reasons["Customers"][row] = (
        f"conflicting duplicate CustomerID (rows 5, {row} hold different values;"
        " every copy held back)"
    )

    # --- Products ----------------------------------------------------------------------
    hostile_products = []
    for number, category in enumerate(HOSTILE_CATEGORIES, start=901):
        products, _ = add(
            products,
            {
                "ProductID": f"P{number}",
                "ProductName": HOSTILE_TEXT[0],
                "Category": category,
                "Price": "10.00",
            },
        )
        hostile_products.append(f"P{number}")
    products, _ = add(
        products,
        {"ProductID": "P950", "ProductName": "Lamp", "Category": " home decor", "Price": "12.5"},
    )
    for product_id, price, reason in [
        ("P960", "nan", "Price not a finite number"),
        ("P961", "-inf", "Price not a finite number"),
        ("P962", "1e400", "Price above the maximum 1000000000"),
        ("P963", "0", "Price not positive"),
        ("P964", "12,50", "unparseable Price"),
        ("P965", "", "missing Price"),
    ]:
        products, row = add(
            products,
            {"ProductID": product_id, "ProductName": "Bad", "Category": "Books", "Price": price},
        )
        reasons["Products"][row] = reason
    conflicting_product = products.iloc[2]["ProductID"]
    products, row = add(products, {**products.iloc[2].to_dict(), "Price": "999.99"})
    reasons["Products"][3] = reasons["Products"][row] = (
        f"conflicting duplicate ProductID (rows 3, {row} hold different values;"
        " every copy held back)"
    )

    # --- Transactions ------------------------------------------------------------------
    for row_number, transaction in enumerate(transactions.itertuples(index=False), start=1):
        if transaction.CustomerID == conflicting_customer:
            reasons["Transactions"][row_number] = "CustomerID held back in quarantined_customers"
        if transaction.ProductID == conflicting_product:
            reasons["Transactions"][row_number] = "; ".join(
                filter(
                    None,
                    [
                        reasons["Transactions"].get(row_number),
                        "ProductID held back in quarantined_products",
                    ],
                )
            )
    buyer = "C0001" if conflicting_customer != "C0001" else "C0002"
    valid = {
        "CustomerID": buyer,
        "ProductID": hostile_products[0],
        "TransactionDate": "2024-06-01 12:00:00",
        "Quantity": "2",
        "TotalValue": "20.00",
        "Price": "10.00",
    }
    next_id = iter(range(90001, 99999))
    for product_id in [*hostile_products, "P950"]:
        price = "12.5" if product_id == "P950" else "10.00"
        total = "25.00" if product_id == "P950" else "20.00"
        transactions, _ = add(
            transactions,
            {
                **valid,
                "TransactionID": f"T{next(next_id)}",
                "ProductID": product_id,
                "Price": price,
                "TotalValue": total,
            },
        )
    for changes, reason in [
        ({"Quantity": "nan"}, "Quantity not a finite number"),
        (
            {"Quantity": "inf", "TotalValue": "inf"},
            "Quantity not a finite number; TotalValue not a finite number",
        ),
        ({"Quantity": "1000000000000"}, "Quantity above the maximum 1000000"),
        ({"Quantity": "1.5", "TotalValue": "15.00"}, "Quantity not a whole number"),
        ({"Quantity": "0", "TotalValue": "0"}, "Quantity not positive; TotalValue not positive"),
        ({"Quantity": "-2", "TotalValue": "-20"}, "Quantity not positive; TotalValue not positive"),
        ({"Quantity": ""}, "missing Quantity"),
        ({"Price": "Infinity"}, "Price not a finite number"),
        ({"TotalValue": "1e400"}, "TotalValue above the maximum 1000000000000"),
        ({"TotalValue": "21.00"}, "TotalValue not equal to Quantity x Price"),
        ({"TotalValue": "NaN"}, "TotalValue not a finite number"),
        ({"TransactionDate": "2999-05-01 10:00:00"}, f"TransactionDate {FUTURE}"),
        ({"TransactionDate": "1970-01-01"}, "TransactionDate before 1990-01-01"),
        ({"TransactionDate": "25/08/2024"}, "unparseable TransactionDate"),
        ({"CustomerID": "C99999"}, "unknown CustomerID"),
        ({"ProductID": "P99999"}, "unknown ProductID"),
        ({"ProductID": "P960"}, "ProductID held back in quarantined_products"),
        ({"TransactionID": ""}, "missing TransactionID"),
    ]:
        transactions, row = add(
            transactions, {**valid, "TransactionID": f"T{next(next_id)}", **changes}
        )
        reasons["Transactions"][row] = reason
    untouched = [number for number in range(1, 1001) if number not in reasons["Transactions"]]
    kept, conflicting = untouched[9], untouched[10]
    transactions, row = add(transactions, transactions.iloc[kept - 1].to_dict())
    reasons["Transactions"][row] = (
        f"duplicate TransactionID (identical copy of row {kept}, which is kept)"
    )
    transactions, row = add(
        transactions,
        {**transactions.iloc[conflicting - 1].to_dict(), "TransactionDate": "2024-01-01"},
    )
    reasons["Transactions"][conflicting] = reasons["Transactions"][row] = (
        f"conflicting duplicate TransactionID (rows {conflicting}, {row} hold different values;"
        " every copy held back)"
    )

    corpus = RowCorpus(
        tables={"Customers": customers, "Products": products, "Transactions": transactions},
        expected_reasons=reasons,
        hostile_names=HOSTILE_TEXT,
        expected_regions={"C950": "South America", "C951": "Europe"},
    )
    return corpus


def write_row_corpus(out: Path) -> RowCorpus:
    """The row corpus in three awkward layouts (one per file)."""
    corpus = build_row_corpus()
    out.mkdir(parents=True, exist_ok=True)
    # R's write.csv2 style: semicolons, every field quoted, header names quoted too
    corpus.tables["Customers"].to_csv(
        out / "Customers.csv", sep=";", index=False, quoting=csv.QUOTE_ALL, lineterminator="\n"
    )
    # tab-delimited, renamed header (case, spaces, underscores) and an extra column
    products = corpus.tables["Products"].rename(
        columns={"ProductID": "product_id", "ProductName": " Product Name ", "Category": "CATEGORY"}
    )
    products.insert(1, "Supplier", "ACME")
    products.to_csv(out / "products.CSV", sep="\t", index=False, lineterminator="\n")
    # columns reordered, an extra quoted column holding the delimiter, BOM and CRLF
    transactions = corpus.tables["Transactions"]
    reordered = transactions[list(reversed(transactions.columns))].copy()
    reordered.insert(3, "Note", "free text, with a comma")
    (out / "Transactions.csv").write_bytes(
        reordered.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    )
    return corpus


# --- Whole-file cases --------------------------------------------------------------------


@dataclass(frozen=True)
class WholeFileCase:
    """An input that cannot be used, and the one line the build must stop with."""

    name: str
    prepare: Callable[[Path], None]
    expected_line: str
    dbt_vars: dict[str, Any] = field(default_factory=dict)


def _copy_bundled(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        (folder / f"{table}.csv").write_bytes((BUNDLED / f"{table}.csv").read_bytes())


def _rewrite(table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def prepare(folder: Path) -> None:
        _copy_bundled(folder)
        change(bundled(table)).to_csv(folder / f"{table}.csv", index=False, lineterminator="\n")

    return prepare


def _header_only(table: str) -> Callable[[Path], None]:
    return _rewrite(table, lambda frame: frame.iloc[0:0])


def _empty_file(folder: Path) -> None:
    _copy_bundled(folder)
    (folder / "Products.csv").write_bytes(b"")


def _latin1(folder: Path) -> None:
    _copy_bundled(folder)
    text = (BUNDLED / "Customers.csv").read_text().splitlines()
    text[3] = text[3].replace(text[3].split(",")[1], "José Müller")
    (folder / "Customers.csv").write_bytes(("\n".join(text) + "\n").encode("latin-1"))


def _dates_day_first(frame: pd.DataFrame) -> pd.DataFrame:
    parsed = pd.to_datetime(frame["TransactionDate"])
    return frame.assign(TransactionDate=parsed.dt.strftime("%d/%m/%Y %H:%M:%S"))


def _parquet_epoch_dates(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        frame = bundled(table)
        if table == "Transactions":
            seconds = pd.to_datetime(frame["TransactionDate"]).astype("int64") // 10**9
            frame = frame.assign(TransactionDate=seconds)
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), folder / f"{table}.parquet"
        )


def _missing_transactions(folder: Path) -> None:
    _copy_bundled(folder)
    (folder / "Transactions.csv").unlink()


def _both_formats(folder: Path) -> None:
    _copy_bundled(folder)
    pq.write_table(pa.Table.from_pandas(bundled("Customers")), folder / "Customers.parquet")


def _all_customers_unknown(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(CustomerID="C99999")


WHOLE_FILE_CASES: list[WholeFileCase] = [
    WholeFileCase(
        "missing_file",
        _missing_transactions,
        "Input file Transactions.csv or Transactions.parquet not found in {input_dir}",
    ),
    WholeFileCase(
        "missing_column",
        _rewrite("Customers", lambda frame: frame.drop(columns=["Region"])),
        "Customers.csv: missing column Region (header: CustomerID, CustomerName, SignupDate;"
        " expected CustomerID, CustomerName, Region, SignupDate, in any order)",
    ),
    WholeFileCase(
        "not_utf8",
        _latin1,
        "Customers.csv: not UTF-8 (first invalid byte sequence on line 4); save the file as UTF-8",
    ),
    WholeFileCase("empty_products_file", _empty_file, "Products.csv: empty file (no header line)"),
    WholeFileCase(
        "header_only_transactions",
        _header_only("Transactions"),
        "Transactions.csv: no data rows (only a header); nothing to build on",
    ),
    WholeFileCase(
        "dates_day_first",
        _rewrite("Transactions", _dates_day_first),
        "Transactions.csv: all 1000 TransactionDate values unparseable"
        " (expected YYYY-MM-DD[ HH:MM:SS]; e.g. ",
    ),
    WholeFileCase(
        "parquet_epoch_dates",
        _parquet_epoch_dates,
        "Transactions.parquet: all 1000 TransactionDate values unparseable"
        " (expected YYYY-MM-DD[ HH:MM:SS]; e.g. 17",
    ),
    WholeFileCase(
        "every_row_quarantined",
        _rewrite("Transactions", _all_customers_unknown),
        "Transactions.csv: all 1000 rows quarantined (most often: unknown CustomerID, 1000 rows);"
        " see ",
    ),
    WholeFileCase(
        "csv_and_parquet_side_by_side",
        _both_formats,
        "Input folder {input_dir} holds Customers.csv and Customers.parquet: keep one,"
        " or choose with --vars '{{input_format: csv}}' (or parquet)",
    ),
    WholeFileCase(
        "as_of_date_injection",
        _copy_bundled,
        "Setting as_of_date must be a date written YYYY-MM-DD;"
        " got 2024-01-01'; drop table main.customers; --",
        {"as_of_date": "2024-01-01'; drop table main.customers; --"},
    ),
    WholeFileCase(
        "tolerance_injection",
        _copy_bundled,
        "Setting total_value_tolerance must be a finite number; got 0.01 or 1=1",
        {"total_value_tolerance": "0.01 or 1=1"},
    ),
]


HOSTILE_FOLDER_NAME = "x'); copy (select 42) to 'injected.csv'; -- {{ 7 * 7 }} {% raise %}"


def write_native_parquet(folder: Path) -> None:
    """The bundled data as Parquet with native types (DATE, TIMESTAMP, integers, decimals)."""
    folder.mkdir(parents=True, exist_ok=True)
    customers, products, transactions = (bundled(table) for table in TABLES)
    customers = customers.assign(SignupDate=pd.to_datetime(customers["SignupDate"]).dt.date)
    products = products.assign(Price=products["Price"].map(lambda value: Decimal(value)))
    transactions = transactions.assign(
        TransactionDate=pd.to_datetime(transactions["TransactionDate"]),
        Quantity=transactions["Quantity"].astype("int64"),
        TotalValue=transactions["TotalValue"].astype(float),
        Price=transactions["Price"].map(lambda value: Decimal(value)),
    )
    for table, frame in zip(TABLES, (customers, products, transactions), strict=True):
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), folder / f"{table}.parquet"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    corpus = write_row_corpus(args.out / "row_corpus")
    (args.out / "row_corpus" / "expected_reasons.json").write_text(
        json.dumps(corpus.expected_reasons, indent=1, ensure_ascii=False)
    )
    for case in WHOLE_FILE_CASES:
        case.prepare(args.out / case.name)
        (args.out / case.name / "expected.txt").write_text(case.expected_line + "\n")
    write_native_parquet(args.out / HOSTILE_FOLDER_NAME)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
