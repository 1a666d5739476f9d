"""The generator's planted product taste and churn (``--taste-share``, ``--churn-share``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customer_analytics import generate as gen

CFG = gen.Config(customers=3000, products=100, transactions=15000, seed=7)


@pytest.fixture(scope="module")
def default() -> gen.Dataset:
    return gen.generate(CFG)


def _frame(data: gen.Dataset) -> pd.DataFrame:
    return data.transactions.to_pandas()


def test_options_off_leave_the_output_and_truth_untouched(default: gen.Dataset) -> None:
    explicit = gen.generate(gen.Config(**{**CFG.__dict__, "taste_share": 0.0, "churn_share": 0.0}))
    for stem in gen.TABLE_STEMS:
        assert explicit.tables[stem].equals(default.tables[stem])
    assert default.product_taste is None
    assert default.customer_taste is None
    assert default.churn is None


def test_taste_groups_are_planted_and_recorded(default: gen.Dataset) -> None:
    share = 0.5
    data = gen.generate(gen.Config(**{**CFG.__dict__, "taste_share": share}))
    assert data.customers.equals(default.customers)
    assert data.products.equals(default.products)
    before, after = _frame(default), _frame(data)
    # only products change; who bought, when and how many stay
    for column in ("TransactionID", "CustomerID", "TransactionDate", "Quantity"):
        assert after[column].equals(before[column])
    assert data.product_taste is not None
    assert data.customer_taste is not None
    product_group = data.product_taste.to_pandas().set_index("ProductID")["TasteGroup"]
    customer_group = data.customer_taste.to_pandas().set_index("CustomerID")["TasteGroup"]
    assert product_group.value_counts().max() == CFG.taste_group_size  # groups of 5 products
    in_group = after["ProductID"].map(product_group) == after["CustomerID"].map(customer_group)
    by_chance = before["ProductID"].map(product_group) == before["CustomerID"].map(customer_group)
    expected = share + (1 - share) * by_chance.mean()
    assert in_group.mean() == pytest.approx(expected, abs=0.02)
    assert (after["TotalValue"] == (after["Quantity"] * after["Price"]).round(2)).all()


def test_churners_stop_at_their_recorded_date(default: gen.Dataset) -> None:
    data = gen.generate(gen.Config(**{**CFG.__dict__, "churn_share": 0.2}))
    assert data.churn is not None
    truth = data.churn.to_pandas().set_index("CustomerID")
    archetype = default.archetypes.to_pandas().set_index("CustomerID")["Archetype"]
    eligible = archetype != "new_customer"
    assert truth["IsPlantedChurner"].sum() == round(0.2 * eligible.sum())
    assert not truth.loc[~eligible, "IsPlantedChurner"].any()
    assert (
        truth.loc[archetype == "at_risk", "ActiveUntil"] <= pd.Timestamp("2024-07-31").date()
    ).all()
    after, before = _frame(data), _frame(default)
    last = after.groupby("CustomerID")["TransactionDate"].max().dt.date
    assert (last <= truth.loc[last.index, "ActiveUntil"]).all()
    # purchases are moved, never dropped: the same count per customer
    assert after.groupby("CustomerID").size().equals(before.groupby("CustomerID").size())
    moved = after["TransactionDate"] != before["TransactionDate"]
    assert set(after.loc[moved, "CustomerID"]) <= set(truth.index[truth["IsPlantedChurner"]])
    lo, hi = (np.datetime64(d) for d in gen.CHURN_WINDOW)
    planted = truth.loc[truth["IsPlantedChurner"], "ActiveUntil"].astype("datetime64[s]")
    assert planted.min() >= lo
    assert planted.max() <= hi


def test_truth_files_written_with_the_options_and_removed_without(tmp_path: Path) -> None:
    args = ["--customers", "100", "--transactions", "500", "--out", str(tmp_path), "--quiet"]
    truth = tmp_path / "truth"
    assert gen.main([*args, "--taste-share", "0.4", "--churn-share", "0.3"]) == 0
    for name in (gen.PRODUCT_TASTE_FILE, gen.CUSTOMER_TASTE_FILE, gen.CHURN_FILE):
        assert (truth / name).is_file()
    header = (truth / gen.CHURN_FILE).read_text().splitlines()[0]
    assert header == ",".join(gen.CHURN_COLUMNS)
    assert gen.main(args) == 0
    for name in (gen.PRODUCT_TASTE_FILE, gen.CUSTOMER_TASTE_FILE, gen.CHURN_FILE):
        assert not (truth / name).exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--taste-share", "1.5"), ("--churn-share", "-0.1"), ("--taste-group-size", "1")],
)
def test_bad_option_values_are_rejected(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        gen.main([option, value, "--quiet"])
    assert option in capsys.readouterr().err
