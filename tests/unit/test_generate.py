"""Tests for the synthetic Zeotap-layout generator (``customer_analytics.generate``)."""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from customer_analytics import generate as gen

REPO = Path(__file__).resolve().parents[2]
ZEOTAP = Path(__file__).resolve().parents[3] / "shared/data/zeotap"
STEMS = ("Customers", "Products", "Transactions")
HEADERS = {
    "Customers": list(gen.CUSTOMER_COLUMNS),
    "Products": list(gen.PRODUCT_COLUMNS),
    "Transactions": list(gen.TRANSACTION_COLUMNS),
}
REFERENCE = pd.Timestamp("2025-01-01")


def run_cli(out: Path, *extra: str) -> Path:
    assert gen.main(["--out", str(out), "--quiet", *extra]) == 0
    return out


def read_text_frames(folder: Path) -> dict[str, pd.DataFrame]:
    """The three CSVs as text, exactly as written (empty fields stay empty strings)."""
    return {
        stem: pd.read_csv(folder / f"{stem}.csv", dtype=str, keep_default_na=False)
        for stem in STEMS
    }


def read_typed_frames(folder: Path) -> dict[str, pd.DataFrame]:
    customers = pd.read_csv(folder / "Customers.csv", parse_dates=["SignupDate"])
    products = pd.read_csv(folder / "Products.csv")
    transactions = pd.read_csv(folder / "Transactions.csv", parse_dates=["TransactionDate"])
    return {"Customers": customers, "Products": products, "Transactions": transactions}


def to_frames(data: gen.Dataset) -> dict[str, pd.DataFrame]:
    return {stem: table.to_pandas() for stem, table in data.tables.items()}


def customer_features(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-customer RFM / basket / category-share / tenure features for clustering."""
    customers, products, tx = frames["Customers"], frames["Products"], frames["Transactions"]
    tx = tx.merge(products[["ProductID", "Category"]], on="ProductID", how="left")
    tx["TransactionDate"] = pd.to_datetime(tx["TransactionDate"])
    by_customer = tx.groupby("CustomerID")
    features = pd.DataFrame(
        {
            "recency_days": (REFERENCE - by_customer["TransactionDate"].max()).dt.days,
            "transactions": by_customer.size(),
            "revenue": by_customer["TotalValue"].sum(),
            "avg_value": by_customer["TotalValue"].mean(),
            "avg_quantity": by_customer["Quantity"].mean(),
            "distinct_products": by_customer["ProductID"].nunique(),
        }
    )
    spend = tx.pivot_table(
        index="CustomerID", columns="Category", values="TotalValue", aggfunc="sum", fill_value=0
    )
    share = spend.div(spend.sum(axis=1), axis=0).add_prefix("share_")
    signup = pd.to_datetime(customers.set_index("CustomerID")["SignupDate"])
    result = pd.DataFrame({"tenure_days": (REFERENCE - signup).dt.days})
    result = result.join(features).join(share)
    no_purchase = {"recency_days": 2 * 366, "transactions": 0, "revenue": 0.0}
    return result.fillna(no_purchase).fillna(0.0)


def archetype_ari(frames: dict[str, pd.DataFrame], truth: pd.DataFrame) -> float:
    features = customer_features(frames)
    labels = truth.set_index("CustomerID").loc[features.index, "Archetype"]
    scaled = StandardScaler().fit_transform(features.to_numpy(dtype=float))
    clusters = KMeans(n_clusters=5, n_init=10, random_state=0).fit_predict(scaled)
    return float(adjusted_rand_score(labels, clusters))


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_cli(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def default_frames(default_run: Path) -> dict[str, pd.DataFrame]:
    return read_typed_frames(default_run)


@pytest.fixture(scope="module")
def default_truth(default_run: Path) -> pd.DataFrame:
    return pd.read_csv(default_run / "truth" / "customer_archetypes.csv")


@pytest.fixture(scope="module")
def large() -> gen.Dataset:
    return gen.generate(gen.Config(customers=10_000, products=300, transactions=50_000, seed=7))


# --------------------------------------------------------------------------- layout


def test_headers_are_the_zeotap_columns(default_run: Path) -> None:
    for stem in STEMS:
        header = (default_run / f"{stem}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == HEADERS[stem]


@pytest.mark.skipif(not ZEOTAP.is_dir(), reason="real Zeotap files not available")
def test_headers_equal_the_real_files(default_run: Path) -> None:
    for stem in STEMS:
        real = (ZEOTAP / f"{stem}.csv").read_text(encoding="utf-8-sig").splitlines()[0]
        ours = (default_run / f"{stem}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert ours == real


@pytest.mark.skipif(not ZEOTAP.is_dir(), reason="real Zeotap files not available")
def test_zeotap_encoding_matches_real_file_bytes(tmp_path: Path) -> None:
    run_cli(tmp_path, "--zeotap-encoding")
    for stem in STEMS:
        real = (ZEOTAP / f"{stem}.csv").read_bytes()
        ours = (tmp_path / f"{stem}.csv").read_bytes()
        assert ours.split(b"\r\n", 1)[0] == real.split(b"\r\n", 1)[0]
        assert ours.endswith(b"\r\n") == real.endswith(b"\r\n")


def test_exact_row_counts(default_frames: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    assert [len(default_frames[s]) for s in STEMS] == [200, 100, 1000]
    run_cli(tmp_path, "--customers", "37", "--products", "9", "--transactions", "123")
    frames = read_text_frames(tmp_path)
    assert [len(frames[s]) for s in STEMS] == [37, 9, 123]


def test_value_domains(default_frames: dict[str, pd.DataFrame]) -> None:
    customers, products, tx = (default_frames[s] for s in STEMS)
    assert set(customers["Region"]) == set(gen.REGIONS)
    assert set(products["Category"]) == set(gen.CATEGORIES)
    assert (
        customers["SignupDate"]
        .between(pd.Timestamp("2022-01-01"), pd.Timestamp("2024-12-31"))
        .all()
    )
    assert (
        tx["TransactionDate"]
        .between(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31 23:59:59"))
        .all()
    )
    assert tx["Quantity"].between(1, 4).all()
    assert set(tx["Quantity"]) == {1, 2, 3, 4}
    assert products["Price"].between(15, 500).all()
    assert (products["Price"] * 100).round(6).mod(1).eq(0).all()
    parts = products["ProductName"].str.split(" ", n=1, expand=True)
    assert set(parts[0]) <= set(gen.BRANDS)
    assert set(parts[1]) <= {name for group in gen.ITEMS for name in group}
    # Like the real file: some names repeat, with different prices.
    repeated = products.groupby("ProductName")["Price"].nunique()
    assert (repeated > 1).any()


def test_text_format_is_plain_csv(default_run: Path) -> None:
    for stem in STEMS:
        raw = (default_run / f"{stem}.csv").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        assert b"\r" not in raw
        assert b'"' not in raw
        assert raw.endswith(b"\n")
    tx = (default_run / "Transactions.csv").read_text(encoding="utf-8").splitlines()[1:]
    money = r"\d+(\.\d{1,2})?"
    when = r"2024-\d\d-\d\d \d\d:\d\d:\d\d"
    pattern = re.compile(rf"^T\d{{5}},C\d{{4}},P\d{{3}},{when},[1-4],{money},{money}$")
    assert all(pattern.match(line) for line in tx)
    customers = (default_run / "Customers.csv").read_text(encoding="utf-8").splitlines()[1:]
    pattern = re.compile(r"^C\d{4},[A-Za-z]+ [A-Za-z]+,[A-Za-z ]+,\d{4}-\d\d-\d\d$")
    assert all(pattern.match(line) for line in customers)
    products = (default_run / "Products.csv").read_text(encoding="utf-8").splitlines()[1:]
    pattern = re.compile(rf"^P\d{{3}},[A-Za-z]+ [A-Za-z -]+,[A-Za-z ]+,{money}$")
    assert all(pattern.match(line) for line in products)


def test_ids_are_sequential(default_frames: dict[str, pd.DataFrame]) -> None:
    customers, products, tx = (default_frames[s] for s in STEMS)
    assert customers["CustomerID"].tolist() == [f"C{i:04d}" for i in range(1, 201)]
    assert products["ProductID"].tolist() == [f"P{i:03d}" for i in range(1, 101)]
    assert tx["TransactionID"].tolist() == [f"T{i:05d}" for i in range(1, 1001)]


def test_id_padding_widens_and_sorts_as_text() -> None:
    data = gen.generate(gen.Config(customers=10_000, products=1_000, transactions=100_000))
    ids = {
        "CustomerID": data.customers["CustomerID"].to_pylist(),
        "ProductID": data.products["ProductID"].to_pylist(),
        "TransactionID": data.transactions["TransactionID"].to_pylist(),
    }
    assert ids["CustomerID"][0] == "C00001"
    assert ids["CustomerID"][-1] == "C10000"
    assert ids["ProductID"][0] == "P0001"
    assert ids["ProductID"][-1] == "P1000"
    assert ids["TransactionID"][0] == "T000001"
    assert ids["TransactionID"][-1] == "T100000"
    for values in ids.values():
        assert values == sorted(values)
        assert len({len(v) for v in values}) == 1
    assert set(data.transactions["CustomerID"].to_pylist()) <= set(ids["CustomerID"])


def test_format_ids_and_widths() -> None:
    assert gen.format_ids("T", np.array([1, 42, 99999]), 5).to_pylist() == [
        "T00001",
        "T00042",
        "T99999",
    ]
    assert gen.format_ids("C", np.array([], dtype=np.int64), 4).to_pylist() == []
    assert [gen.id_width(4, n) for n in (1, 9999, 10_000, 1_000_000)] == [4, 4, 5, 7]
    assert [gen.id_width(3, n) for n in (100, 999, 1000)] == [3, 3, 4]
    with pytest.raises(ValueError, match="do not fit"):
        gen.format_ids("P", np.array([1000]), 3)


# --------------------------------------------------------------------------- determinism


BUNDLED = {
    "Customers.csv": REPO / "seeds/shop/Customers.csv",
    "Products.csv": REPO / "seeds/shop/Products.csv",
    "Transactions.csv": REPO / "seeds/shop/Transactions.csv",
    "truth/customer_archetypes.csv": REPO / "data/demo_truth/customer_archetypes.csv",
}


@pytest.mark.skipif(
    not all(p.is_file() for p in BUNDLED.values()), reason="bundled demo data not present"
)
def test_bundled_files_are_the_default_output(default_run: Path) -> None:
    for name, bundled in BUNDLED.items():
        assert (default_run / name).read_bytes() == bundled.read_bytes(), name


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    args = ("--customers", "150", "--transactions", "700", "--seed", "5", "--defects", "13")
    first, second = run_cli(tmp_path / "a", *args), run_cli(tmp_path / "b", *args)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 5
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    run_cli(tmp_path / "a", "--seed", "1")
    run_cli(tmp_path / "b", "--seed", "2")
    for name in (
        "Customers.csv",
        "Products.csv",
        "Transactions.csv",
        "truth/customer_archetypes.csv",
    ):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()


def test_parquet_is_deterministic(tmp_path: Path) -> None:
    run_cli(tmp_path / "a", "--format", "parquet")
    run_cli(tmp_path / "b", "--format", "parquet")
    for stem in STEMS:
        assert (tmp_path / "a" / f"{stem}.parquet").read_bytes() == (
            tmp_path / "b" / f"{stem}.parquet"
        ).read_bytes()


# --------------------------------------------------------------------------- consistency


def test_total_value_is_quantity_times_price(default_frames: dict[str, pd.DataFrame]) -> None:
    tx, products = default_frames["Transactions"], default_frames["Products"]
    expected = (tx["Quantity"] * tx["Price"]).round(2)
    assert np.allclose(tx["TotalValue"], expected, rtol=0, atol=1e-9)
    catalogue = products.set_index("ProductID")["Price"]
    assert np.array_equal(tx["Price"].to_numpy(), catalogue.loc[tx["ProductID"]].to_numpy())


def test_transactions_reference_existing_rows(default_frames: dict[str, pd.DataFrame]) -> None:
    customers, products, tx = (default_frames[s] for s in STEMS)
    assert tx["CustomerID"].isin(customers["CustomerID"]).all()
    assert tx["ProductID"].isin(products["ProductID"]).all()
    for stem, key in (("Customers", "CustomerID"), ("Products", "ProductID")):
        assert default_frames[stem][key].is_unique
    assert tx["TransactionID"].is_unique


@pytest.mark.parametrize(("customers", "transactions", "seed"), [(200, 1000, 42), (57, 300, 3)])
def test_exactly_one_customer_without_transactions(
    tmp_path: Path, customers: int, transactions: int, seed: int
) -> None:
    run_cli(
        tmp_path,
        "--customers",
        str(customers),
        "--transactions",
        str(transactions),
        "--seed",
        str(seed),
    )
    frames = read_text_frames(tmp_path)
    silent = set(frames["Customers"]["CustomerID"]) - set(frames["Transactions"]["CustomerID"])
    assert len(silent) == 1


def test_share_of_transactions_before_signup(
    default_frames: dict[str, pd.DataFrame], default_truth: pd.DataFrame, large: gen.Dataset
) -> None:
    for frames, truth in (
        (default_frames, default_truth),
        (to_frames(large), large.archetypes.to_pandas()),
    ):
        tx = frames["Transactions"].merge(frames["Customers"], on="CustomerID").merge(truth)
        before = pd.to_datetime(tx["TransactionDate"]) < pd.to_datetime(tx["SignupDate"])
        assert 0.15 <= before.mean() <= 0.25  # the real data: 201 of 1000
        assert not before[tx["Archetype"] == "new_customer"].any()


# --------------------------------------------------------------------------- archetypes


def test_truth_file_and_no_leak(default_run: Path, default_truth: pd.DataFrame) -> None:
    assert list(default_truth.columns) == list(gen.TRUTH_COLUMNS)
    customers = pd.read_csv(default_run / "Customers.csv")
    assert default_truth["CustomerID"].tolist() == customers["CustomerID"].tolist()
    counts = default_truth["Archetype"].value_counts()
    assert set(counts.index) == set(gen.ARCHETYPES)
    assert (counts == 40).all()  # stratified: exactly a fifth each at 200 customers
    for stem in STEMS:
        text = (default_run / f"{stem}.csv").read_text(encoding="utf-8")
        assert "Archetype" not in text
        assert not any(name in text for name in gen.ARCHETYPES)


def test_truth_dir_defaults_to_out_truth(tmp_path: Path) -> None:
    assert gen.main(["--out", str(tmp_path), "--quiet", "--customers", "10"]) == 0
    assert (tmp_path / "truth" / "customer_archetypes.csv").is_file()
    assert (
        gen.main(["--out", str(tmp_path / "o"), "--truth-dir", str(tmp_path / "t"), "--quiet"]) == 0
    )
    assert (tmp_path / "t" / "customer_archetypes.csv").is_file()
    assert not (tmp_path / "o" / "truth").exists()


def test_archetypes_differ_as_planted(large: gen.Dataset) -> None:
    frames = to_frames(large)
    features = customer_features(frames)
    truth = large.archetypes.to_pandas().set_index("CustomerID")["Archetype"]
    by = features.join(truth).groupby("Archetype").median()
    spend = features.join(truth).groupby("Archetype")[[f"share_{c}" for c in gen.CATEGORIES]].mean()
    # Spend level, frequency, basket size.
    assert by["avg_value"].idxmax() == "high_spender"
    assert by["transactions"].idxmax() == "loyal_regular"
    assert by["avg_quantity"].idxmax() == "bargain_hunter"
    assert by.loc["new_customer", "transactions"] <= 2
    # Category preference: the favourite category carries most of the spend.
    assert spend.loc["high_spender"].idxmax() == "share_Electronics"
    assert spend.loc["bargain_hunter"].idxmax() == "share_Books"
    assert spend.loc["at_risk"].idxmax() == "share_Clothing"
    assert spend.loc[["high_spender", "bargain_hunter", "at_risk"]].max(axis=1).min() > 0.6
    loyal = spend.loc["loyal_regular"]
    assert loyal["share_Home Decor"] + loyal["share_Clothing"] > 0.8
    # Recency and tenure.
    tx = frames["Transactions"].merge(large.archetypes.to_pandas(), on="CustomerID")
    at_risk_last = tx.loc[tx["Archetype"] == "at_risk", "TransactionDate"].max()
    assert at_risk_last < pd.Timestamp("2024-08-01")
    customers = frames["Customers"].merge(large.archetypes.to_pandas(), on="CustomerID")
    new_signup = pd.to_datetime(
        customers.loc[customers["Archetype"] == "new_customer", "SignupDate"]
    )
    assert (new_signup >= pd.Timestamp("2024-09-01")).all()
    assert by["tenure_days"].idxmax() == "loyal_regular"
    assert by["tenure_days"].idxmin() == "new_customer"
    # Regions do not depend on the archetype.
    region_share = pd.crosstab(customers["Archetype"], customers["Region"], normalize="index")
    assert (region_share.max() - region_share.min()).max() < 0.06


def test_kmeans_recovers_archetypes_at_default_size(
    default_frames: dict[str, pd.DataFrame], default_truth: pd.DataFrame
) -> None:
    assert archetype_ari(default_frames, default_truth) >= 0.8


def test_kmeans_recovers_archetypes_at_larger_size(large: gen.Dataset) -> None:
    assert archetype_ari(to_frames(large), large.archetypes.to_pandas()) >= 0.8


# --------------------------------------------------------------------------- encodings, formats


def test_zeotap_encoding_writes_bom_and_crlf(tmp_path: Path, default_run: Path) -> None:
    run_cli(tmp_path, "--zeotap-encoding")
    for stem in STEMS:
        raw = (tmp_path / f"{stem}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        body = raw[3:]
        assert body.count(b"\n") == body.count(b"\r\n") > 0
        assert body.endswith(b"\r\n")
        plain = (default_run / f"{stem}.csv").read_bytes()
        assert body.replace(b"\r\n", b"\n") == plain


def test_parquet_round_trip_equals_csv(tmp_path: Path, default_run: Path) -> None:
    run_cli(tmp_path, "--format", "parquet")
    assert not list(tmp_path.glob("*.csv"))
    expected_types = {
        "CustomerID": pa.string(),
        "SignupDate": pa.date32(),
        "Price": pa.float64(),
        "Quantity": pa.int64(),
        "TotalValue": pa.float64(),
        "ProductName": pa.string(),
    }
    for stem in STEMS:
        table = pq.read_table(tmp_path / f"{stem}.parquet")
        assert table.column_names == HEADERS[stem]
        for name, typ in expected_types.items():
            if name in table.column_names:
                assert table.schema.field(name).type == typ, name
        if stem == "Transactions":
            assert pa.types.is_timestamp(table.schema.field("TransactionDate").type)
        from_csv = pacsv.read_csv(
            default_run / f"{stem}.csv",
            convert_options=pacsv.ConvertOptions(column_types=table.schema),
        )
        assert from_csv.equals(table)


# --------------------------------------------------------------------------- defects


def _defective_rows(frames: dict[str, pd.DataFrame]) -> dict[str, set[int]]:
    """Recompute, from the written text, the 1-based row numbers that break each rule."""
    customers, products, tx = (frames[s] for s in STEMS)

    def rows(mask: pd.Series) -> set[int]:
        return {int(i) + 1 for i in np.flatnonzero(mask.to_numpy())}

    def bad_date(values: pd.Series, fmt: str) -> pd.Series:
        return pd.to_datetime(values, format=fmt, errors="coerce").isna()

    known_customers = set(customers["CustomerID"]) - {""}
    known_products = set(products["ProductID"])
    quantity = tx["Quantity"].astype(int)
    price, total = tx["Price"].astype(float), tx["TotalValue"].astype(float)
    return {
        "missing_customer_id": rows(customers["CustomerID"] == ""),
        "duplicate_customer_id": rows(
            customers["CustomerID"].ne("") & customers["CustomerID"].duplicated(keep=False)
        ),
        "unparseable_signup_date": rows(bad_date(customers["SignupDate"], "%Y-%m-%d")),
        "duplicate_product_id": rows(products["ProductID"].duplicated(keep=False)),
        "non_positive_price": rows(products["Price"].astype(float) <= 0),
        "missing_transaction_id": rows(tx["TransactionID"] == ""),
        "duplicate_transaction_id": rows(
            tx["TransactionID"].ne("") & tx["TransactionID"].duplicated(keep=False)
        ),
        "unknown_customer_id": rows(~tx["CustomerID"].isin(known_customers)),
        "unknown_product_id": rows(~tx["ProductID"].isin(known_products)),
        "unparseable_transaction_date": rows(bad_date(tx["TransactionDate"], "%Y-%m-%d %H:%M:%S")),
        "non_positive_quantity": rows(quantity <= 0),
        "total_value_mismatch": rows(((quantity * price).round(2) - total).abs() > 0.005),
    }


def test_defects_are_listed_exactly(tmp_path: Path) -> None:
    n = 30
    run_cli(tmp_path, "--defects", str(n))
    frames = read_text_frames(tmp_path)
    listed = pd.read_csv(tmp_path / "truth" / "defects.csv")
    assert list(listed.columns) == list(gen.DEFECT_COLUMNS)
    assert len(listed) == n
    # Kinds cycle in a fixed order; every kind appears.
    expected_kinds = [gen.DEFECT_KINDS[i % len(gen.DEFECT_KINDS)][2] for i in range(n)]
    assert sorted(listed["Kind"]) == sorted(expected_kinds)
    base = {"Customers": 200, "Products": 100, "Transactions": 1000}
    for stem in STEMS:
        per_file = listed[listed["File"] == stem]
        assert len(frames[stem]) == base[stem] + len(per_file)
        assert sorted(per_file["RowNumber"]) == list(range(base[stem] + 1, len(frames[stem]) + 1))
        for column in per_file["Column"]:
            assert column in HEADERS[stem]
    found = _defective_rows(frames)
    kind_file = {kind: stem for stem, _, kind in gen.DEFECT_KINDS}
    for kind, stem in kind_file.items():
        rows = set(listed.loc[listed["Kind"] == kind, "RowNumber"])
        if kind.startswith("duplicate_"):
            # The listed copies, plus the base rows whose IDs they copy, nothing else.
            assert rows <= found[kind], kind
            assert all(r <= base[stem] for r in found[kind] - rows), kind
            assert found[kind] - rows, kind
        else:
            assert found[kind] == rows, kind
        # Each defect row breaks only its own rule.
        others = listed[(listed["File"] == stem) & (listed["Kind"] != kind)]
        assert not found[kind] & set(others["RowNumber"]), kind


def test_no_defects_file_without_defects(tmp_path: Path) -> None:
    run_cli(tmp_path, "--defects", "3")
    assert (tmp_path / "truth" / "defects.csv").is_file()
    run_cli(tmp_path)
    assert not (tmp_path / "truth" / "defects.csv").exists()


def test_parquet_with_defects_keeps_text_dates(tmp_path: Path) -> None:
    run_cli(tmp_path, "--format", "parquet", "--defects", "12")
    customers = pq.read_table(tmp_path / "Customers.parquet")
    tx = pq.read_table(tmp_path / "Transactions.parquet")
    assert customers.schema.field("SignupDate").type == pa.string()
    assert tx.schema.field("TransactionDate").type == pa.string()
    assert customers.num_rows == 203
    assert tx.num_rows == 1007
    assert "2024-13-45" in customers["SignupDate"].to_pylist()
    assert None in tx["TransactionID"].to_pylist()


# --------------------------------------------------------------------------- CLI


def test_mounts_as_subcommand(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="customer-analytics")
    sub = parser.add_subparsers(dest="command", required=True)
    generate_parser = sub.add_parser("generate")
    gen.add_arguments(generate_parser)
    generate_parser.set_defaults(handler=gen.run)
    args = parser.parse_args(
        ["generate", "--out", str(tmp_path), "--customers", "12", "--products", "8", "--quiet"]
    )
    assert args.handler(args) == 0
    assert len(pd.read_csv(tmp_path / "Customers.csv")) == 12
    assert len(pd.read_csv(tmp_path / "Products.csv")) == 8


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "customer_analytics.generate",
            "--out",
            str(tmp_path),
            "--customers",
            "20",
            "--transactions",
            "50",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "transactions (50 rows)" in result.stderr
    assert "write Transactions.csv" in result.stderr
    assert result.stdout == ""
    assert len(pd.read_csv(tmp_path / "Transactions.csv")) == 50


def test_quiet_suppresses_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--out", str(tmp_path / "q"), "--quiet", "--customers", "5"]) == 0
    assert capsys.readouterr().err == ""
    assert gen.main(["--out", str(tmp_path / "v"), "--customers", "5"]) == 0
    err = capsys.readouterr().err
    assert "customers (5 rows) done" in err
    assert "\r" not in err  # not a terminal: plain lines only


def test_progress_on_a_terminal_uses_carriage_returns() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = gen.Progress(enabled=True, stream=stream)
    with progress.step("write Transactions.csv", 10) as update:
        update(5)
        update(10)
    text = stream.getvalue()
    assert "\rwrite Transactions.csv (10 rows) 5/10  50.0%" in text
    assert text.endswith("done in 0.00 s\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["--products", "3"],
        ["--customers", "0"],
        ["--transactions", "-1"],
        ["--defects", "x"],
        ["--seed", "-1"],
    ],
)
def test_invalid_arguments_are_rejected(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        gen.main(["--out", str(tmp_path), "--quiet", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "must be at least" in err or "not an integer" in err


def test_small_and_edge_sizes() -> None:
    one = gen.generate(gen.Config(customers=1, products=4, transactions=5))
    assert set(one.transactions["CustomerID"].to_pylist()) == {"C0001"}
    few = gen.generate(gen.Config(customers=50, products=4, transactions=10))
    assert few.transactions.num_rows == 10
    assert len(set(few.transactions["CustomerID"].to_pylist())) == 10
    none = gen.generate(gen.Config(customers=3, transactions=0))
    assert none.transactions.num_rows == 0
    with pytest.raises(ValueError, match="at least one transaction"):
        gen.generate(gen.Config(transactions=0, defects=1))
