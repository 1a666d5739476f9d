"""`dbt build` on the public Zeotap files, read unmodified (BOM, CRLF) through `input_dir`.

Every figure is checked against an independent pandas computation over the raw files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from .dbt_runner import BuiltProject, dbt_build

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, zeotap_dir: Path) -> BuiltProject:
    return dbt_build(tmp_path_factory.mktemp("zeotap"), {"input_dir": str(zeotap_dir)})


@pytest.fixture(scope="module")
def raw(zeotap_dir: Path) -> dict[str, pd.DataFrame]:
    frames = {
        name: pd.read_csv(zeotap_dir / f"{name}.csv", encoding="utf-8-sig")
        for name in ("Customers", "Products", "Transactions")
    }
    transactions = frames["Transactions"].merge(frames["Customers"], on="CustomerID")
    transactions = transactions.merge(frames["Products"][["ProductID", "Category"]], on="ProductID")
    transactions["TransactionDate"] = pd.to_datetime(transactions["TransactionDate"])
    frames["enriched"] = transactions
    return frames


def test_headline_figures(built: BuiltProject) -> None:
    assert built.scalar("select round(sum(revenue), 2) from regional_sales") == 689995.56
    assert built.scalar("select count(*) from customers") == 200
    assert built.scalar("select count(*) from customer_features") == 200
    assert built.scalar("select count(*) from customers where has_purchases") == 199


def test_every_raw_row_is_staged_and_none_quarantined(built: BuiltProject) -> None:
    counts = built.query("select * from quarantine.input_row_counts order by raw_table")
    assert counts.to_dict("records") == [
        {"raw_table": "Customers", "raw_rows": 200, "staged_rows": 200, "quarantined_rows": 0},
        {"raw_table": "Products", "raw_rows": 100, "staged_rows": 100, "quarantined_rows": 0},
        {
            "raw_table": "Transactions",
            "raw_rows": 1000,
            "staged_rows": 1000,
            "quarantined_rows": 0,
        },
    ]


def test_transactions_before_signup_are_kept_and_flagged(built: BuiltProject) -> None:
    flagged = built.scalar(
        "select count(*) from staging.stg_shop__transactions where is_before_signup"
    )
    assert flagged == 201
    assert built.scalar("select sum(transactions_before_signup) from customers") == 201


def test_regional_average_transaction_value(
    built: BuiltProject, raw: dict[str, pd.DataFrame]
) -> None:
    expected = raw["enriched"].groupby("Region")["TotalValue"].agg(["mean", "sum", "count"])
    actual = built.query("select * from regional_sales").set_index("region")
    assert sorted(actual.index) == sorted(expected.index)
    for region, row in expected.iterrows():
        assert actual.loc[region, "average_transaction_value"] == pytest.approx(
            round(row["mean"], 2)
        )
        assert actual.loc[region, "revenue"] == pytest.approx(row["sum"], abs=0.005)
        assert actual.loc[region, "transactions"] == row["count"]


def test_monthly_sales_match_and_cover_every_month(
    built: BuiltProject, raw: dict[str, pd.DataFrame]
) -> None:
    enriched = raw["enriched"]
    expected = enriched.groupby(enriched["TransactionDate"].dt.to_period("M"))["TotalValue"].sum()
    actual = built.query("select * from monthly_sales order by sales_month")
    months = pd.PeriodIndex(pd.to_datetime(actual["sales_month"]), freq="M")
    assert list(months) == list(
        pd.period_range(expected.index.min(), expected.index.max(), freq="M")
    )
    assert actual["revenue"].to_numpy() == pytest.approx(
        expected.reindex(months, fill_value=0).to_numpy(), abs=0.005
    )
    growth = actual["revenue"] / actual["revenue"].shift(1) - 1
    assert actual["revenue_growth"].iloc[1:].to_numpy() == pytest.approx(
        growth.iloc[1:].to_numpy(), rel=1e-4
    )


def test_monthly_splits_have_every_month_for_every_value(built: BuiltProject) -> None:
    months = built.scalar("select count(*) from monthly_sales")
    assert built.scalar("select count(*) from monthly_sales_by_region") == months * 4
    assert built.scalar("select count(*) from monthly_sales_by_category") == months * 4


def test_customer_purchase_patterns(built: BuiltProject, raw: dict[str, pd.DataFrame]) -> None:
    enriched = raw["enriched"]
    as_of = enriched["TransactionDate"].max().normalize()
    per_customer = enriched.groupby("CustomerID").agg(
        transaction_count=("TransactionID", "count"),
        total_revenue=("TotalValue", "sum"),
        last=("TransactionDate", "max"),
    )
    actual = built.query("select * from customers").set_index("customer_id")
    buyers = actual[actual["has_purchases"]]
    assert buyers["transaction_count"].sort_index().tolist() == (
        per_customer["transaction_count"].sort_index().tolist()
    )
    assert buyers["total_revenue"].sort_index().to_numpy() == pytest.approx(
        per_customer["total_revenue"].sort_index().to_numpy(), abs=0.005
    )
    expected_recency = (as_of - per_customer["last"].dt.normalize()).dt.days
    assert buyers["recency_days"].sort_index().tolist() == expected_recency.sort_index().tolist()
    never_bought = actual[~actual["has_purchases"]]
    assert len(never_bought) == 1
    assert never_bought["transaction_count"].iloc[0] == 0


def test_feature_spend_shares_sum_to_one_for_buyers(built: BuiltProject) -> None:
    shares = built.query(
        "select has_purchases, spend_share_books + spend_share_clothing"
        " + spend_share_electronics + spend_share_home_decor as share from customer_features"
    )
    assert shares.loc[shares["has_purchases"], "share"].to_numpy() == pytest.approx(1.0)
    assert (shares.loc[~shares["has_purchases"], "share"] == 0).all()


def test_product_and_category_performance(
    built: BuiltProject, raw: dict[str, pd.DataFrame]
) -> None:
    expected = raw["enriched"].groupby("Category")["TotalValue"].sum().sort_values()
    actual = built.query(
        "select category, any_value(overall_revenue) as revenue,"
        " any_value(overall_revenue_rank) as revenue_rank"
        " from category_sales group by category order by revenue"
    )
    assert actual["category"].tolist() == expected.index.tolist()
    assert actual["revenue"].to_numpy() == pytest.approx(expected.to_numpy(), abs=0.005)
    assert actual["revenue_rank"].tolist() == [4, 3, 2, 1]
    assert built.scalar("select count(*) from product_sales") == 100 * 4


def test_product_figures_match_the_raw_transactions(
    built: BuiltProject, raw: dict[str, pd.DataFrame]
) -> None:
    """products and product_sales (both read the product x region aggregate) against the raw
    lines: distinct customers per product and per product and region, units, revenue."""
    enriched = raw["enriched"]
    per_product = enriched.groupby("ProductID").agg(
        customers=("CustomerID", "nunique"),
        units=("Quantity", "sum"),
        transactions=("TransactionID", "count"),
        revenue=("TotalValue", "sum"),
    )
    products = built.query("select * from products").set_index("product_id")
    sold = products.loc[per_product.index]
    assert sold["customers"].tolist() == per_product["customers"].tolist()
    assert sold["units"].tolist() == per_product["units"].tolist()
    assert sold["transactions"].tolist() == per_product["transactions"].tolist()
    assert sold["revenue"].to_numpy() == pytest.approx(per_product["revenue"].to_numpy(), abs=0.005)
    per_region = enriched.groupby(["ProductID", "Region"])["CustomerID"].nunique()
    by_region = built.query(
        "select product_id, region, customers from product_sales where customers > 0"
    ).set_index(["product_id", "region"])["customers"]
    assert (
        by_region.sort_index().to_dict()
        == per_region.rename_axis(["product_id", "region"]).sort_index().to_dict()
    )
