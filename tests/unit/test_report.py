"""The report's pure helpers, and its behaviour on databases that are not a full build."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from customer_analytics.report import (
    ReportError,
    chart_labels,
    colour_map,
    format_number,
    format_percent,
    frequency_counts,
    html_table,
    lookalike_examples,
    png_data_uri,
    render_report,
    signed_one_decimal,
    zscore_matrix,
)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (1234.5, 2, "1,234.50"),
        (0, 0, "0"),
        (np.int64(1_000_000), 0, "1,000,000"),
        (2.0, 0, "2"),
        (None, 2, "-"),
        (math.nan, 2, "-"),
        (np.float64("nan"), 0, "-"),
    ],
)
def test_format_number(value: object, decimals: int, expected: str) -> None:
    assert format_number(value, decimals) == expected


def test_format_percent() -> None:
    assert format_percent(0.30673) == "30.7%"
    assert format_percent(1) == "100.0%"
    assert format_percent(0.0012, 2) == "0.12%"
    assert format_percent(None) == "-"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.26, "+1.3"), (-0.04, "0.0"), (0.04, "0.0"), (-1.0, "-1.0"), (0.0, "0.0")],
)
def test_signed_one_decimal_has_no_negative_zero(value: float, expected: str) -> None:
    assert signed_one_decimal(value) == expected


def test_png_data_uri_round_trips_and_rejects_other_data() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"rest"
    uri = png_data_uri(png)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png
    with pytest.raises(ValueError, match="not PNG"):
        png_data_uri(b"GIF89a")


def test_colour_map_is_stable_whatever_the_order() -> None:
    first = colour_map(["Europe", "Asia", "Asia", "South America"])
    second = colour_map(["South America", "Europe", "Asia"])
    assert first == second
    assert len(set(first.values())) == 3
    assert all(colour.startswith("#") for colour in first.values())


def test_chart_labels() -> None:
    assert chart_labels("spend_share_home_decor") == "spend share home decor"


def test_html_table_escapes_and_aligns_numbers() -> None:
    table = html_table(
        ["Name", "Revenue"],
        [("<b>Tom & Jerry</b>", "1,234.50")],
        numeric=[1],
        caption="Caption <x>",
        table_id="table-x",
    )
    assert table.startswith('<table id="table-x"><caption>Caption &lt;x&gt;</caption>')
    assert "<td>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</td>" in table
    assert '<td class="num">1,234.50</td>' in table
    assert '<th class="num">Revenue</th>' in table
    with pytest.raises(ValueError, match="1 values for 2 columns"):
        html_table(["a", "b"], [("only one",)])


def test_frequency_counts_fill_the_gaps_between_counts() -> None:
    per_count = pd.DataFrame(
        {
            "transaction_count": [0, 1, 4, 4],
            "purchase_frequency_band": ["0 purchases", "1 purchase", "4-6", "4-6"],
            "customers": [1, 5, 2, 3],
        }
    )
    counts = frequency_counts(per_count)
    assert counts["transaction_count"].tolist() == [0, 1, 2, 3, 4]
    assert counts["customers"].tolist() == [1, 5, 0, 0, 5]
    assert counts["band"].tolist() == [
        "0 purchases",
        "1 purchase",
        "1 purchase",
        "1 purchase",
        "4-6",
    ]


def test_frequency_counts_of_nothing() -> None:
    empty = pd.DataFrame({"transaction_count": [], "purchase_frequency_band": [], "customers": []})
    assert frequency_counts(empty).empty


def test_zscore_matrix_keeps_the_feature_order_and_names_rows() -> None:
    profiles = pd.DataFrame(
        {
            "segment_id": [1, 1, 0, 0],
            "customers": [30, 30, 1200, 1200],
            "feature": ["recency_days", "total_revenue", "recency_days", "total_revenue"],
            "z_score": [1.5, -0.2, -0.1, 0.9],
        }
    )
    matrix = zscore_matrix(profiles, {0: "High Spenders", 1: "At Risk"})
    assert list(matrix.columns) == ["recency_days", "total_revenue"]
    assert list(matrix.index) == ["High Spenders (n=1,200)", "At Risk (n=30)"]
    assert matrix.to_numpy().tolist() == [[-0.1, 0.9], [1.5, -0.2]]


def test_zscore_matrix_names_unnamed_segments() -> None:
    profiles = pd.DataFrame(
        {"segment_id": [-1], "customers": [4], "feature": ["tenure_days"], "z_score": [0.0]}
    )
    assert list(zscore_matrix(profiles, {}).index) == ["Segment -1 (n=4)"]


def test_lookalike_examples_in_requested_order_with_top_n() -> None:
    lookalikes = pd.DataFrame(
        {
            "customer_id": ["C2", "C2", "C1", "C1", "C1", "C1"],
            "lookalike_rank": [2, 1, 1, 2, 3, 4],
            "lookalike_customer_id": ["C9", "C8", "C5", "C6", "C7", "C4"],
            "similarity_score": [0.5, 0.9, 0.99, 0.98, 0.97, 0.96],
        }
    )
    examples = lookalike_examples(lookalikes, ["C2", "C3", "C1"], top=3)
    assert examples == [
        ("C2", [("C8", 0.9), ("C9", 0.5)]),
        ("C1", [("C5", 0.99), ("C6", 0.98), ("C7", 0.97)]),
    ]


def test_render_report_needs_an_existing_database(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="not found"):
        render_report(tmp_path / "nope.duckdb", tmp_path / "out", progress=None)


def test_render_report_refuses_a_database_without_marts(tmp_path: Path) -> None:
    database = tmp_path / "empty.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create table unrelated as select 1 as x")
    with pytest.raises(ReportError, match="none of the project's marts"):
        render_report(database, tmp_path / "out", progress=None)
    assert not (tmp_path / "out").exists()


def test_render_report_leaves_out_sections_whose_tables_are_missing(tmp_path: Path) -> None:
    database = tmp_path / "partial.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            """
            create table regional_sales as
            select * from (values
                ('Asia', 10, 9, 20, 40, 5000.0, 250.0, 555.56, 0.625, 1),
                ('Europe', 8, 8, 15, 30, 3000.0, 200.0, 375.0, 0.375, 2)
            ) as t(region, customers, purchasing_customers, transactions, units, revenue,
                   average_transaction_value, average_revenue_per_customer, revenue_share,
                   revenue_rank)
            """
        )
    progress: list[str] = []
    page = render_report(database, tmp_path / "out", progress=progress.append)
    text = page.read_text(encoding="utf-8")
    assert page == tmp_path / "out" / "report.html"
    assert [path.name for path in (tmp_path / "out").glob("*.png")] == [
        "average_transaction_value_by_region.png"
    ]
    assert text.count("<img ") == 1
    for section in ("monthly revenue", "k sweep", "lookalikes", "data quality"):
        assert f'data-missing-section="{section}"' in text
    assert progress[0].startswith("[1/")
    assert progress[-1].endswith("report.html")
    # opened read-only: nothing written next to the database
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "partial.duckdb"]


def test_segment_quality_note_shows_the_caveat_only_when_weak():
    from customer_analytics.report import segment_quality_note

    row = pd.Series(
        {
            "segment_count": 2,
            "silhouette": 0.18,
            "bootstrap_stability": 0.55,
            "bootstrap_resamples": 20,
            "structure_strength": "weak structure",
            "is_weak_structure": True,
            "caveat": "Weak structure: <check> the profiles",
        }
    )
    weak = segment_quality_note(row)
    assert "weak structure" in weak
    assert "bootstrap stability 0.55 over 20 resamples" in weak
    assert 'class="note caveat"' in weak
    assert "&lt;check&gt;" in weak  # escaped
    strong = segment_quality_note(
        row.copy()
        .replace({"weak structure": "well separated"})
        .where(row.index != "is_weak_structure", False)
    )
    assert "caveat" not in strong
    assert "well separated" in strong
