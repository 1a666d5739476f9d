"""A self-contained HTML report of a built database: charts and tables, no network needed.

``render_report(database, output_dir)`` opens the published copy that `dbt build` wrote
(read-only, so it never changes it; its ``build_info`` table names the build shown), draws
every chart with matplotlib's Agg renderer, and writes

* ``output_dir/report.html``: one file that opens offline (charts embedded as base64 PNG,
  CSS inline, no scripts, fonts or links to anywhere else), and
* ``output_dir/<chart id>.png``: each chart on its own (ids in :data:`CHART_IDS`).

A section whose tables are missing (say, a database built without the ML models) is left out
with a visible note instead of failing the whole report. The output depends only on the
database: the same tables give byte-identical files.

Usage::

    customer-analytics report --database published/customer_analytics.duckdb --output reports/
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = [
    "CHART_IDS",
    "ReportError",
    "chart_labels",
    "colour_map",
    "format_number",
    "format_percent",
    "frequency_counts",
    "html_table",
    "lookalike_examples",
    "png_data_uri",
    "render_report",
    "signed_one_decimal",
    "zscore_matrix",
]

# Every chart the full report draws, in page order; each is also written as <id>.png.
CHART_IDS: tuple[str, ...] = (
    "average_transaction_value_by_region",
    "monthly_revenue_by_region",
    "monthly_revenue_by_category",
    "top_products",
    "category_revenue_by_region",
    "purchase_frequency",
    "segmentation_k_sweep",
    "segment_pca",
    "segment_heatmap",
)

REPORT_FILE = "report.html"
REVENUE_LABEL = "Revenue (currency units)"
DEFAULT_LOOKALIKE_CUSTOMERS: tuple[str, ...] = tuple(f"C{number:04d}" for number in range(1, 11))
MAX_SCATTER_POINTS = 20_000
DPI = 110
MISSING = "-"  # shown for a missing value

# Plain Agg rendering; pyplot (and with it the process-wide backend) is never touched.
_STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.hashsalt": "customer-analytics",
}
_QUALITATIVE = "tab10"
_CATEGORY_PALETTE = "Dark2"
_OVERALL_COLOUR = "#222222"
_CHOSEN_COLOUR = "#d62728"
_NOISE_COLOUR = "#9e9e9e"


class ReportError(RuntimeError):
    """The database cannot be reported on (missing, locked, or not built by this project)."""


# --------------------------------------------------------------------------------------------
# Pure helpers (no database, no files)
# --------------------------------------------------------------------------------------------


def format_number(value: Any, decimals: int = 2) -> str:
    """``1234.5`` -> ``"1,234.50"``; missing values (None, NaN) -> ``"-"``."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return MISSING
    if isinstance(value, int | np.integer) and decimals == 0:
        return f"{int(value):,}"
    return f"{float(value):,.{decimals}f}"


def format_percent(share: Any, decimals: int = 1) -> str:
    """A share in 0..1 as a percentage: ``0.3067`` -> ``"30.7%"``."""
    if share is None or (isinstance(share, float | np.floating) and math.isnan(share)):
        return MISSING
    return f"{float(share) * 100:.{decimals}f}%"


def signed_one_decimal(value: float) -> str:
    """``1.26`` -> ``"+1.3"``, ``-0.04`` -> ``"0.0"`` (no signed zero in annotations)."""
    rounded = round(float(value), 1)
    return "0.0" if rounded == 0 else f"{rounded:+.1f}"


def png_data_uri(png: bytes) -> str:
    """Embed PNG bytes in a ``data:`` URI (no file or network needed to show them)."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not PNG data")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def colour_map(names: Iterable[str], palette: str = _QUALITATIVE) -> dict[str, str]:
    """A stable colour per name (sorted, so every chart colours a region the same way)."""
    cmap = matplotlib.colormaps[palette]
    colours = getattr(cmap, "colors", None)
    count = len(colours) if colours is not None else 10
    return {
        name: matplotlib.colors.to_hex(cmap(index % count))
        for index, name in enumerate(sorted(set(names)))
    }


def chart_labels(feature: str) -> str:
    """A feature column as a label: ``spend_share_books`` -> ``spend share books``."""
    return feature.replace("_", " ")


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Iterable[int] = (),
    caption: str | None = None,
    table_id: str | None = None,
) -> str:
    """An escaped HTML table; ``numeric`` are column positions to right-align."""
    numeric_columns = set(numeric)

    def cell(tag: str, index: int, value: Any) -> str:
        css = ' class="num"' if index in numeric_columns else ""
        return f"<{tag}{css}>{html.escape(str(value))}</{tag}>"

    parts = [f'<table id="{html.escape(table_id)}">' if table_id else "<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(cell("th", index, name) for index, name in enumerate(columns))
        + "</tr></thead>"
    )
    parts.append("<tbody>")
    for row in rows:
        values = list(row)
        if len(values) != len(columns):
            raise ValueError(f"row has {len(values)} values for {len(columns)} columns")
        parts.append(
            "<tr>"
            + "".join(cell("td", index, value) for index, value in enumerate(values))
            + "</tr>"
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def frequency_counts(customers_per_count: pd.DataFrame) -> pd.DataFrame:
    """Customers per transaction count, every count from 0 to the maximum present.

    Input: ``transaction_count``, ``purchase_frequency_band``, ``customers`` (one row per count
    and band). Counts nobody has get 0 customers and the band of the nearest lower count, so the
    bars form a continuous axis.
    """
    frame = (
        customers_per_count.groupby("transaction_count", as_index=False)
        .agg(customers=("customers", "sum"), band=("purchase_frequency_band", "first"))
        .sort_values("transaction_count")
    )
    if frame.empty:
        return pd.DataFrame({"transaction_count": [], "customers": [], "band": []})
    full = pd.DataFrame({"transaction_count": range(int(frame["transaction_count"].max()) + 1)})
    full = full.merge(frame, on="transaction_count", how="left")
    full["customers"] = full["customers"].fillna(0).astype("int64")
    full["band"] = full["band"].ffill().bfill()
    return full


def segment_quality_note(quality: pd.Series) -> str:
    """How real the segments are, in words, from one ``segment_quality`` row; when the
    structure is weak, the caveat is shown as a warning note above the segment charts."""
    stability = quality["bootstrap_stability"]
    measured = (
        f"bootstrap stability {stability:.2f} over {int(quality['bootstrap_resamples'])} resamples"
        if pd.notna(stability)
        else "bootstrap stability not measured"
    )
    silhouette = quality["silhouette"]
    silhouette_text = f"silhouette {silhouette:.2f}" if pd.notna(silhouette) else "no silhouette"
    summary = (
        f"<p>Structure: <strong>{html.escape(str(quality['structure_strength']))}</strong>"
        f" ({int(quality['segment_count'])} segments; {silhouette_text}; {measured}).</p>"
    )
    if bool(quality["is_weak_structure"]):
        summary += f'<p class="note caveat" role="note">{html.escape(str(quality["caveat"]))}</p>'
    return summary


def zscore_matrix(feature_profiles: pd.DataFrame, segment_names: Mapping[int, str]) -> pd.DataFrame:
    """Segments x features z-scores, rows in segment-id order labelled ``"Name (n=42)"``.

    Input: the ``segment_feature_profiles`` columns ``segment_id``, ``customers``, ``feature``,
    ``z_score``. Features keep their first-seen order (the model's order).
    """
    features = list(dict.fromkeys(feature_profiles["feature"]))
    matrix = feature_profiles.pivot_table(
        index="segment_id", columns="feature", values="z_score", aggfunc="first"
    ).reindex(columns=features)
    sizes = feature_profiles.groupby("segment_id")["customers"].first()
    matrix = matrix.sort_index()
    matrix.index = [
        f"{segment_names.get(int(segment), f'Segment {segment}')} (n={int(sizes[segment]):,})"
        for segment in matrix.index
    ]
    matrix.columns.name = None
    return matrix


def lookalike_examples(
    lookalikes: pd.DataFrame, customer_ids: Sequence[str], top: int = 3
) -> list[tuple[str, list[tuple[str, float]]]]:
    """``[(customer, [(lookalike, score), ...]), ...]`` for the requested customers present in
    ``customer_lookalikes`` (in the requested order), each with its ``top`` best lookalikes."""
    ranked = lookalikes[lookalikes["lookalike_rank"] <= top].sort_values(
        ["customer_id", "lookalike_rank"]
    )
    grouped = {
        customer: list(
            zip(
                group["lookalike_customer_id"], group["similarity_score"].astype(float), strict=True
            )
        )
        for customer, group in ranked.groupby("customer_id", sort=True)
    }
    return [(customer, grouped[customer]) for customer in customer_ids if customer in grouped]


# --------------------------------------------------------------------------------------------
# Database access
# --------------------------------------------------------------------------------------------


class _Warehouse:
    """Read-only queries against the built database, knowing which tables it has."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        rows = connection.sql(
            "select table_schema, table_name, column_name from information_schema.columns"
        ).fetchall()
        self._columns: dict[str, set[str]] = {}
        for schema, table, column in rows:
            key = table if schema == "main" else f"{schema}.{table}"
            self._columns.setdefault(key.lower(), set()).add(column.lower())

    def has(self, table: str, *columns: str) -> bool:
        known = self._columns.get(table.lower())
        return known is not None and all(column.lower() in known for column in columns)

    def missing(self, tables: Iterable[str]) -> list[str]:
        return [table for table in tables if not self.has(table)]

    def df(self, sql: str, parameters: Sequence[Any] | None = None) -> pd.DataFrame:
        return self._connection.execute(sql, parameters or []).df()

    def scalar(self, sql: str) -> Any:
        rows = self._connection.sql(sql).fetchall()
        return rows[0][0] if rows else None


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """One rendered chart: its id (file stem), alt text, caption and PNG bytes."""

    chart_id: str
    alt: str
    caption: str
    png: bytes


def _figure(width: float, height: float, **kwargs: Any) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" stamp: the bytes depend on the data and the drawing code only.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _thousands(axis: Any, decimals: int = 0) -> None:
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:,.{decimals}f}"))


def _month_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=14)
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator)
    # the first month of a year reads "Jan" over "2024", not the year alone
    formatter.zero_formats = ["", "%b\n%Y", "%b", "%d %b", "%H:%M", "%H:%M"]
    formatter.offset_formats = [""] * 6
    ax.xaxis.set_major_formatter(formatter)


def _as_datetime(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")


def chart_average_transaction_value(regional: pd.DataFrame) -> Figure:
    frame = regional.sort_values(["average_transaction_value", "region"], ascending=[False, True])
    colours = colour_map(regional["region"])
    overall = frame["revenue"].sum() / frame["transactions"].sum()
    figure = _figure(9, 5)
    ax = figure.add_subplot()
    positions = np.arange(len(frame))
    bars = ax.bar(
        positions,
        frame["average_transaction_value"],
        color=[colours[region] for region in frame["region"]],
        width=0.65,
    )
    ax.set_xticks(positions, labels=list(frame["region"]))
    labels = [
        f"{value:,.2f}\n({count:,} transactions)"
        for value, count in zip(
            frame["average_transaction_value"], frame["transactions"], strict=True
        )
    ]
    # white boxes keep the labels readable where the all-regions line passes behind them
    ax.bar_label(
        bars,
        labels=labels,
        padding=3,
        fontsize=9,
        zorder=4,
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
    )
    ax.axhline(overall, color=_OVERALL_COLOUR, linestyle="--", linewidth=1.2, zorder=3)
    ax.plot([], [], color=_OVERALL_COLOUR, linestyle="--", label=f"All regions: {overall:,.2f}")
    ax.legend(loc="upper right")
    ax.set_ylim(0, frame["average_transaction_value"].max() * 1.22)
    ax.set_title("Average transaction value by region")
    ax.set_xlabel("Region")
    ax.set_ylabel("Average transaction value (currency units)")
    ax.grid(axis="x", visible=False)
    _thousands(ax.yaxis)
    return figure


def chart_monthly_by_region(overall: pd.DataFrame, by_region: pd.DataFrame) -> Figure:
    colours = colour_map(by_region["region"])
    figure = _figure(11, 7)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1, 1.3])
    overall = overall.sort_values("sales_month")
    months = _as_datetime(overall["sales_month"])
    top.plot(months, overall["revenue"], color=_OVERALL_COLOUR, marker="o", linewidth=2)
    top.fill_between(months, overall["revenue"], color=_OVERALL_COLOUR, alpha=0.08)
    top.set_ylim(0, overall["revenue"].max() * 1.15)
    top.set_title("Monthly revenue, all regions")
    top.set_ylabel(REVENUE_LABEL)
    for region, group in by_region.sort_values("sales_month").groupby("region", sort=True):
        bottom.plot(
            _as_datetime(group["sales_month"]),
            group["revenue"],
            marker="o",
            markersize=4,
            linewidth=1.6,
            color=colours[str(region)],
            label=str(region),
        )
    bottom.set_ylim(0, by_region["revenue"].max() * 1.15)
    bottom.set_title("Monthly revenue by region")
    bottom.set_ylabel(REVENUE_LABEL)
    bottom.set_xlabel("Month")
    bottom.legend(title="Region", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in (top, bottom):
        _thousands(ax.yaxis)
        _month_axis(ax)
    return figure


def chart_monthly_by_category(by_category: pd.DataFrame) -> Figure:
    colours = colour_map(by_category["category"], _CATEGORY_PALETTE)
    figure = _figure(11, 5)
    ax = figure.add_subplot()
    for category, group in by_category.sort_values("sales_month").groupby("category", sort=True):
        ax.plot(
            _as_datetime(group["sales_month"]),
            group["revenue"],
            marker="o",
            markersize=4,
            linewidth=1.8,
            color=colours[str(category)],
            label=str(category),
        )
    ax.set_ylim(0, by_category["revenue"].max() * 1.15)
    ax.set_title("Monthly revenue by product category")
    ax.set_ylabel(REVENUE_LABEL)
    ax.set_xlabel("Month")
    ax.legend(title="Category", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _thousands(ax.yaxis)
    _month_axis(ax)
    return figure


def chart_top_products(top_products: pd.DataFrame, categories: Iterable[str] = ()) -> Figure:
    """Horizontal bars; ``categories`` (all of them) keeps colours equal across charts."""
    frame = top_products.sort_values(["revenue", "product_id"], ascending=[False, True])
    colours = colour_map([*categories, *frame["category"]], _CATEGORY_PALETTE)
    figure = _figure(10, 0.5 * len(frame) + 1.6)
    ax = figure.add_subplot()
    positions = np.arange(len(frame))
    bars = ax.barh(
        positions,
        frame["revenue"],
        color=[colours[category] for category in frame["category"]],
        height=0.7,
    )
    ax.set_yticks(
        positions,
        labels=[
            f"{name} ({pid})"
            for name, pid in zip(frame["product_name"], frame["product_id"], strict=True)
        ],
    )
    ax.invert_yaxis()
    ax.bar_label(
        bars, labels=[f"{value:,.0f}" for value in frame["revenue"]], padding=3, fontsize=9
    )
    ax.set_xlim(0, frame["revenue"].max() * 1.15)
    ax.set_title(f"Top {len(frame)} products by revenue")
    ax.set_xlabel(REVENUE_LABEL)
    ax.set_ylabel("Product")
    ax.grid(axis="y", visible=False)
    _thousands(ax.xaxis)
    shown = sorted(set(frame["category"]))
    handles = [Patch(color=colours[category], label=category) for category in shown]
    ax.legend(handles=handles, title="Category", loc="lower right")
    return figure


def chart_category_by_region(category_sales: pd.DataFrame) -> Figure:
    table = category_sales.pivot_table(
        index="category", columns="region", values="revenue", aggfunc="sum", fill_value=0.0
    )
    table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    colours = colour_map(table.columns)
    figure = _figure(10, 5.5)
    ax = figure.add_subplot()
    positions = np.arange(len(table))
    bottom = np.zeros(len(table))
    for region in sorted(table.columns):
        values = table[region].to_numpy(dtype=float)
        ax.bar(positions, values, bottom=bottom, color=colours[region], label=region, width=0.6)
        bottom += values
    for position, total in zip(positions, bottom, strict=True):
        ax.annotate(
            f"{total:,.0f}",
            (position, total),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
        )
    ax.set_xticks(positions, labels=list(table.index))
    ax.set_ylim(0, bottom.max() * 1.12)
    ax.set_title("Revenue by product category, split by region")
    ax.set_xlabel("Product category")
    ax.set_ylabel(REVENUE_LABEL)
    ax.grid(axis="x", visible=False)
    ax.legend(title="Region", loc="upper right")
    _thousands(ax.yaxis)
    return figure


def chart_purchase_frequency(counts: pd.DataFrame) -> Figure:
    bands = list(dict.fromkeys(counts["band"]))
    cmap = matplotlib.colormaps["viridis"]
    colours = {
        band: matplotlib.colors.to_hex(cmap(0.15 + 0.7 * index / max(1, len(bands) - 1)))
        for index, band in enumerate(bands)
    }
    figure = _figure(10, 5)
    ax = figure.add_subplot()
    for band in bands:
        rows = counts[counts["band"] == band]
        bars = ax.bar(
            rows["transaction_count"], rows["customers"], color=colours[band], label=band, width=0.8
        )
        if len(counts) <= 30:
            ax.bar_label(
                bars, labels=[f"{value:,}" for value in rows["customers"]], fontsize=8, padding=2
            )
    ax.set_ylim(0, counts["customers"].max() * 1.15)
    ax.set_xlim(-0.6, counts["transaction_count"].max() + 0.6)
    if len(counts) <= 30:
        ax.xaxis.set_major_locator(ticker.MultipleLocator(1))
    else:
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_title("How often customers buy")
    ax.set_xlabel("Transactions per customer")
    ax.set_ylabel("Customers")
    ax.grid(axis="x", visible=False)
    ax.legend(title="Purchase-frequency band", loc="upper right")
    _thousands(ax.yaxis)
    return figure


def chart_k_sweep(scores: pd.DataFrame) -> Figure:
    frame = scores.sort_values("k")
    chosen = frame[frame["is_chosen"].astype(bool)]
    chosen_k = int(chosen["k"].iloc[0]) if not chosen.empty else None
    algorithm = str(frame["algorithm"].iloc[0])
    rule = str(frame["selection_rule"].iloc[0])
    panels = (
        (
            "davies_bouldin",
            "Davies-Bouldin index\n(lower is better)",
            "Davies-Bouldin index (unitless)",
        ),
        ("silhouette", "Mean silhouette\n(higher is better)", "Silhouette coefficient (-1 to 1)"),
        (
            "inertia",
            "Inertia, for the elbow\n(lower is tighter)",
            "Inertia (sum of squared std. distances)",
        ),
    )
    figure = _figure(11.5, 4.4)
    axes = figure.subplots(1, 3)
    legend_drawn = False
    for ax, (column, title, ylabel) in zip(axes, panels, strict=True):
        values = pd.to_numeric(frame[column], errors="coerce")
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("Number of segments k")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        if values.isna().all():
            ax.text(
                0.5,
                0.5,
                f"not available\nfor {algorithm}",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="#666666",
            )
            continue
        ax.plot(frame["k"], values, marker="o", color="#1f77b4", linewidth=1.8)
        if chosen_k is not None:
            ax.axvline(chosen_k, color=_CHOSEN_COLOUR, linestyle="--", linewidth=1.2)
            ax.plot(
                [chosen_k],
                values[frame["k"] == chosen_k].to_numpy()[:1],
                marker="*",
                markersize=16,
                color=_CHOSEN_COLOUR,
                linestyle="none",
                label=f"chosen k = {chosen_k}",
            )
            if not legend_drawn:  # one legend is enough for three panels
                ax.legend(loc="best")
                legend_drawn = True
    chosen_text = f"chosen k = {chosen_k}" if chosen_k is not None else "no k chosen"
    figure.suptitle(
        f"Choosing the number of segments: {algorithm}, rule {rule}, {chosen_text}",
        fontsize=13,
        fontweight="bold",
    )
    return figure


def chart_segment_pca(points: pd.DataFrame, sampled_from: int) -> Figure:
    segments = (
        points.groupby(["segment_id", "segment_name"], as_index=False)
        .size()
        .sort_values("segment_id")
    )
    figure = _figure(10, 6.5)
    ax = figure.add_subplot()
    cmap = matplotlib.colormaps[_QUALITATIVE]
    marker_size = 28 if len(points) <= 2000 else 8
    colour_index = 0
    for segment_id, name, size in segments.itertuples(index=False):
        if segment_id < 0:
            colour = _NOISE_COLOUR
        else:
            colour = matplotlib.colors.to_hex(cmap(colour_index % 10))
            colour_index += 1
        rows = points[points["segment_id"] == segment_id]
        ax.scatter(
            rows["pca_1"],
            rows["pca_2"],
            s=marker_size,
            color=colour,
            alpha=0.75,
            edgecolors="white",
            linewidths=0.4,
            label=f"{name} ({size:,})",
        )
    first = points.iloc[0]
    ax.set_xlabel(
        f"Principal component 1 ({first['pca_1_explained_variance_ratio'] * 100:.1f}% of variance)"
    )
    ax.set_ylabel(
        f"Principal component 2 ({first['pca_2_explained_variance_ratio'] * 100:.1f}% of variance)"
    )
    title = "Customer segments on the first two principal components"
    if sampled_from > len(points):
        title += f"\n(every {sampled_from // len(points)}th of {sampled_from:,} customers)"
    ax.set_title(title)
    ax.legend(title="Segment (customers)", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def chart_segment_heatmap(matrix: pd.DataFrame) -> Figure:
    values = matrix.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    limit = max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
    norm = Normalize(vmin=-limit, vmax=limit)
    cmap = matplotlib.colormaps["RdBu_r"]
    rows, columns = values.shape
    figure = _figure(max(9.0, 0.6 * columns + 3.6), 0.55 * rows + 3.0)
    ax = figure.add_subplot()
    image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(np.arange(columns), labels=[chart_labels(str(c)) for c in matrix.columns])
    ax.set_yticks(np.arange(rows), labels=list(matrix.index))
    ax.tick_params(axis="x", labelrotation=40)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
    ax.grid(visible=False)
    for row in range(rows):
        for column in range(columns):
            value = values[row, column]
            if not np.isfinite(value):
                continue
            ax.text(
                column,
                row,
                signed_one_decimal(value),
                ha="center",
                va="center",
                fontsize=8.5,
                color="white" if abs(value) > 0.6 * limit else "#222222",
            )
    colourbar = figure.colorbar(image, ax=ax, shrink=0.9)
    colourbar.set_label("z-score (std. deviations from the average customer)")
    ax.set_title("What sets each segment apart: mean feature z-scores")
    ax.set_xlabel("Customer feature")
    ax.set_ylabel("Segment (customers)")
    return figure


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


@dataclass
class _Report:
    """What the sections produce: HTML fragments, charts, and notes on what was left out."""

    sections: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def _missing_note(section: str, tables: Sequence[str]) -> str:
    listed = ", ".join(f"<code>{html.escape(table)}</code>" for table in tables)
    noun = "table" if len(tables) == 1 else "tables"
    return (
        f'<p class="note missing" data-missing-section="{html.escape(section)}">'
        f"Left out: the database has no {noun} {listed}.</p>"
    )


def _figure_html(chart: Chart) -> str:
    return (
        f'<figure class="chart"><img id="chart-{chart.chart_id}" data-chart="{chart.chart_id}"'
        f' alt="{html.escape(chart.alt)}" src="{png_data_uri(chart.png)}">'
        f"<figcaption>{html.escape(chart.caption)}</figcaption></figure>"
    )


class _Builder:
    """Runs the report's steps in order, printing progress, and collects their output."""

    def __init__(
        self,
        warehouse: _Warehouse,
        progress: Callable[[str], None],
        lookalike_customers: Sequence[str],
        recommendation_customers: int,
    ) -> None:
        self.db = warehouse
        self.progress = progress
        self.lookalike_customers = lookalike_customers
        self.recommendation_customers = recommendation_customers
        self.report = _Report()
        self._body: list[str] = []

    # -- plumbing --------------------------------------------------------------------------

    def _needs(self, section: str, *tables: str) -> bool:
        missing = self.db.missing(tables)
        if missing:
            self._body.append(_missing_note(section, missing))
            self.report.left_out.append(f"{section}: no {', '.join(missing)}")
        return not missing

    def _chart(self, chart_id: str, figure: Figure, alt: str, caption: str) -> None:
        chart = Chart(chart_id, alt, caption, _png(figure))
        self.report.charts.append(chart)
        self._body.append(_figure_html(chart))

    def _open(self, anchor: str, title: str, intro: str) -> None:
        self._body = [f'<section id="{anchor}"><h2>{html.escape(title)}</h2>', f"<p>{intro}</p>"]

    def _close(self) -> None:
        self._body.append("</section>")
        self.report.sections.append("".join(self._body))

    # -- steps -----------------------------------------------------------------------------

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("headline figures", self.headline),
            ("average transaction value chart", self.average_transaction_value),
            ("monthly revenue charts", self.monthly_revenue),
            ("product and category charts", self.products),
            ("purchase-frequency chart", self.purchase_frequency),
            ("k-sweep chart", self.k_sweep),
            ("segment PCA scatter and heatmap", self.segments),
            ("lookalike and recommendation tables", self.lookalikes_and_recommendations),
            ("recommendation backtest", self.recommendation_backtest),
            ("churn risk and lifetime value", self.churn_and_lifetime_value),
            ("data-quality summary", self.data_quality),
        ]

    def headline(self) -> None:
        self._open("overview", "Overview", "Headline figures of the built marts.")
        if self._needs("overview", "regional_sales"):
            totals = self.db.df(
                "select sum(revenue) as revenue, sum(transactions) as transactions,"
                " sum(customers) as customers, sum(purchasing_customers) as purchasing,"
                " sum(units) as units from regional_sales"
            ).iloc[0]
            cards = [
                ("Revenue (currency units)", format_number(totals["revenue"])),
                ("Transactions", format_number(int(totals["transactions"]), 0)),
                ("Customers", format_number(int(totals["customers"]), 0)),
                ("Customers who bought", format_number(int(totals["purchasing"]), 0)),
                ("Units sold", format_number(int(totals["units"]), 0)),
                (
                    "Average transaction value",
                    format_number(totals["revenue"] / max(1, totals["transactions"])),
                ),
            ]
            if self.db.has("monthly_sales"):
                first, last = self.db.df(
                    "select min(sales_month) as first, max(sales_month) as last from monthly_sales"
                ).iloc[0]
                if pd.notna(first):
                    period = f"{pd.Timestamp(first):%b %Y} to {pd.Timestamp(last):%b %Y}"
                    cards.append(("Sales period", period))
            if self.db.has("customers", "as_of_date"):
                as_of = self.db.scalar("select max(as_of_date) from customers")
                if as_of is not None:
                    cards.append(("Recency measured at", f"{pd.Timestamp(as_of):%Y-%m-%d}"))
            self._body.append(
                '<div class="cards">'
                + "".join(
                    f'<div class="card"><div class="label">{html.escape(label)}</div>'
                    f'<div class="value">{html.escape(value)}</div></div>'
                    for label, value in cards
                )
                + "</div>"
            )
            regional = self.db.df("select * from regional_sales order by revenue_rank, region")
            self._body.append(
                html_table(
                    [
                        "Region",
                        "Customers",
                        "Transactions",
                        "Revenue",
                        "Revenue share",
                        "Avg transaction value",
                        "Revenue per customer",
                    ],
                    [
                        (
                            row.region,
                            format_number(int(row.customers), 0),
                            format_number(int(row.transactions), 0),
                            format_number(row.revenue),
                            format_percent(row.revenue_share),
                            format_number(row.average_transaction_value),
                            format_number(row.average_revenue_per_customer),
                        )
                        for row in regional.itertuples()
                    ],
                    numeric=range(1, 7),
                    caption="Sales by region (revenue in currency units)",
                    table_id="table-regional-sales",
                )
            )
        self._close()

    def average_transaction_value(self) -> None:
        self._open(
            "sales",
            "Sales",
            "Where the money comes from: by region, over time, by product and category.",
        )
        if self._needs("average transaction value", "regional_sales"):
            regional = self.db.df("select * from regional_sales")
            if not regional.empty:
                self._chart(
                    "average_transaction_value_by_region",
                    chart_average_transaction_value(regional),
                    "Bar chart of the average transaction value in each region",
                    "Average transaction value by region (revenue / transactions); the dashed"
                    " line is the average over all regions.",
                )

    def monthly_revenue(self) -> None:
        if self._needs("monthly revenue", "monthly_sales", "monthly_sales_by_region"):
            overall = self.db.df("select * from monthly_sales order by sales_month")
            by_region = self.db.df(
                "select * from monthly_sales_by_region order by region, sales_month"
            )
            if not overall.empty:
                self._chart(
                    "monthly_revenue_by_region",
                    chart_monthly_by_region(overall, by_region),
                    "Line charts of monthly revenue, overall and for each region",
                    "Monthly revenue: all regions (top) and each region (bottom).",
                )
        if self._needs("monthly revenue by category", "monthly_sales_by_category"):
            by_category = self.db.df(
                "select * from monthly_sales_by_category order by category, sales_month"
            )
            if not by_category.empty:
                self._chart(
                    "monthly_revenue_by_category",
                    chart_monthly_by_category(by_category),
                    "Line chart of monthly revenue for each product category",
                    "Monthly revenue by product category.",
                )

    def products(self) -> None:
        if self._needs("top products", "products"):
            top = self.db.df(
                "select product_id, product_name, category, revenue from products"
                " order by revenue desc, product_id limit 10"
            )
            if not top.empty:
                self._chart(
                    "top_products",
                    chart_top_products(
                        top, self.db.df("select distinct category from products")["category"]
                    ),
                    "Horizontal bar chart of the ten products with the most revenue",
                    "The ten products with the most revenue, coloured by category.",
                )
        if self._needs("category performance", "category_sales"):
            categories = self.db.df("select category, region, revenue from category_sales")
            if not categories.empty:
                self._chart(
                    "category_revenue_by_region",
                    chart_category_by_region(categories),
                    "Stacked bar chart of revenue per product category, split by region",
                    "Revenue per product category (total on top), stacked by region.",
                )
        self._close()

    def purchase_frequency(self) -> None:
        self._open("customers", "Customers", "How often customers buy.")
        if self._needs("purchase frequency", "customers"):
            per_count = self.db.df(
                "select transaction_count, purchase_frequency_band, count(*) as customers"
                " from customers group by all order by transaction_count, purchase_frequency_band"
            )
            if not per_count.empty:
                counts = frequency_counts(per_count)
                self._chart(
                    "purchase_frequency",
                    chart_purchase_frequency(counts),
                    "Bar chart of the number of customers for each number of transactions",
                    "Customers per number of transactions, coloured by purchase-frequency band.",
                )
        self._close()

    def k_sweep(self) -> None:
        self._open(
            "segments",
            "Segments",
            "Customers clustered on their standardized behaviour; segments are named by the"
            " editable rules in <code>config.segment_naming_rules</code>.",
        )
        if self._needs("k sweep", "segmentation_scores"):
            scores = self.db.df("select * from segmentation_scores order by k")
            if not scores.empty:
                self._chart(
                    "segmentation_k_sweep",
                    chart_k_sweep(scores),
                    "Three line charts of Davies-Bouldin index, silhouette and inertia per"
                    " number of segments, with the chosen number marked",
                    "Model-selection scores for each candidate number of segments; the star"
                    " and dashed line mark the k the selection rule chose.",
                )

        if self._needs("segment quality", "segment_quality"):
            quality = self.db.df("select * from segment_quality")
            if not quality.empty:
                self._body.append(segment_quality_note(quality.iloc[0]))

    def segments(self) -> None:
        if self._needs("segment scatter", "customer_segments"):
            total = int(self.db.scalar("select count(*) from customer_segments") or 0)
            step = max(1, math.ceil(total / MAX_SCATTER_POINTS))
            points = self.db.df(
                "select * from (select *, row_number() over (order by customer_id) as row_number"
                " from customer_segments) where (row_number - 1) % ? = 0 order by customer_id",
                [step],
            )
            if not points.empty:
                self._chart(
                    "segment_pca",
                    chart_segment_pca(points, total),
                    "Scatter plot of customers on two principal components, coloured by segment",
                    "Each customer on the first two principal components of the segmentation"
                    " features, coloured by segment.",
                )
        if self._needs("segment heatmap", "segment_feature_profiles", "segment_profiles"):
            profiles = self.db.df("select * from segment_profiles order by segment_id")
            features = self.db.df(
                "select segment_id, customers, feature, z_score from segment_feature_profiles"
                " order by segment_id, distinctiveness_rank"
            )
            if not features.empty:
                # the model's feature order, not the per-segment ranking
                order = self._feature_order(profiles, features)
                features = features.set_index("feature").loc[order].reset_index()
                features = features.sort_values("segment_id", kind="stable")
                names = dict(
                    zip(profiles["segment_id"].astype(int), profiles["segment_name"], strict=True)
                )
                self._chart(
                    "segment_heatmap",
                    chart_segment_heatmap(zscore_matrix(features, names)),
                    "Heatmap of each segment's mean feature z-scores",
                    "Segment mean of each feature in standard deviations from the average"
                    " customer (red above, blue below).",
                )
            self._body.append(self._segment_table(profiles))
        self._close()

    @staticmethod
    def _feature_order(profiles: pd.DataFrame, features: pd.DataFrame) -> list[str]:
        in_profiles = [
            column.removesuffix("_z_score")
            for column in profiles.columns
            if column.endswith("_z_score")
        ]
        present = set(features["feature"])
        ordered = [feature for feature in in_profiles if feature in present]
        return ordered + sorted(present - set(ordered))

    @staticmethod
    def _segment_table(profiles: pd.DataFrame) -> str:
        frame = profiles.sort_values(["customers", "segment_id"], ascending=[False, True])
        return html_table(
            ["Segment", "Customers", "Share", "Top features (z-score)", "Meaning"],
            [
                (
                    row.segment_name,
                    format_number(int(row.customers), 0),
                    format_percent(row.customer_share),
                    row.top_features,
                    row.naming_rule_meaning,
                )
                for row in frame.itertuples()
            ],
            numeric=(1, 2),
            caption="Segment profiles",
            table_id="table-segment-profiles",
        )

    def lookalikes_and_recommendations(self) -> None:
        self._open(
            "lookalikes",
            "Lookalikes and recommendations",
            "Each customer's most similar customers (cosine similarity of standardized features,"
            " 1 = most alike) and the products recommended to them: bought together with what"
            " they bought, bought by their lookalikes, or best sellers of their segment.",
        )
        names = (
            self.db.df("select customer_id, customer_name from customers")
            .set_index("customer_id")["customer_name"]
            .to_dict()
            if self.db.has("customers")
            else {}
        )
        if self._needs("lookalikes", "customer_lookalikes"):
            self._body.append(self._lookalike_table(names))
        if self._needs("recommendations", "product_recommendations"):
            self._body.append(self._recommendation_tables(names))
        self._close()

    def _lookalike_table(self, names: Mapping[str, str]) -> str:
        wanted = list(self.lookalike_customers)
        lookalikes = self.db.df(
            "select customer_id, lookalike_rank, lookalike_customer_id, similarity_score"
            " from customer_lookalikes where lookalike_rank <= 3 and customer_id in ("
            + ",".join("?" * max(1, len(wanted)))
            + ")",
            wanted or [""],
        )
        examples = lookalike_examples(lookalikes, wanted)
        if not examples:
            # other id formats (generated data pads differently): the first ten customers
            lookalikes = self.db.df(
                "select * from customer_lookalikes where lookalike_rank <= 3 and customer_id in"
                " (select distinct customer_id from customer_lookalikes order by customer_id"
                " limit 10)"
            )
            examples = lookalike_examples(lookalikes, sorted(set(lookalikes["customer_id"])))
        width = max((len(pairs) for _, pairs in examples), default=3)
        rows = []
        for customer, pairs in examples:
            cells = [
                f"{other} {names.get(other, '')} ({score:.3f})".replace("  ", " ")
                for other, score in pairs
            ]
            rows.append([customer, names.get(customer, ""), *cells, *[""] * (width - len(cells))])
        return html_table(
            [
                "Customer",
                "Name",
                *[f"Lookalike {rank} (similarity)" for rank in range(1, width + 1)],
            ],
            rows,
            caption=f"Top {width} lookalikes of {len(examples)} customers",
            table_id="table-lookalikes",
        )

    def _recommendation_tables(self, names: Mapping[str, str]) -> str:
        recommendations = self.db.df(
            "select * from product_recommendations where customer_id in (select distinct"
            " customer_id from product_recommendations order by customer_id limit ?)"
            " order by customer_id, recommendation_rank",
            [self.recommendation_customers],
        )
        tables = []
        for customer, group in recommendations.groupby("customer_id", sort=True):
            top = group.nsmallest(5, "recommendation_rank")
            tables.append(
                html_table(
                    [
                        "Rank",
                        "Product",
                        "Category",
                        "Price",
                        "Score",
                        "Lookalikes who bought",
                        "Reason",
                    ],
                    [
                        (
                            int(row.recommendation_rank),
                            f"{row.product_name} ({row.product_id})",
                            row.category,
                            format_number(row.price),
                            format_number(row.recommendation_score, 3),
                            format_number(row.lookalikes_who_bought, 0)
                            if pd.notna(row.lookalikes_who_bought)
                            else MISSING,
                            row.reason,
                        )
                        for row in top.itertuples()
                    ],
                    numeric=(0, 3, 4, 5),
                    caption=f"Top {len(top)} recommendations for {customer}"
                    + (f" ({names[str(customer)]})" if str(customer) in names else ""),
                    table_id=f"table-recommendations-{customer}",
                )
            )
        return "".join(tables)

    # -- recommendation backtest, churn and lifetime value (reco) ---------------------------

    def recommendation_backtest(self) -> None:
        self._open(
            "recommendation-backtest",
            "Recommendation backtest",
            "Trained on the transactions up to the cutoff, scored on the held-out days after it:"
            " the share of customers who bought something new there and found it among their"
            " recommendations (hit-rate@N), for this project's recommender and two baselines."
            " The blend weights were chosen one window earlier, inside the training period.",
        )
        if self._needs("recommendation backtest", "recommendation_backtest"):
            rows = self.db.df("select * from recommendation_backtest order by method")
            first = rows.iloc[0]
            self._body.append(
                html_table(
                    [
                        "Method",
                        "Customers evaluated",
                        "Hit-rate",
                        "vs popularity",
                        "vs segment best sellers",
                        "Customers with N",
                        "Catalogue covered",
                    ],
                    [
                        (
                            row.method,
                            format_number(row.customers_evaluated, 0),
                            format_percent(row.hit_rate),
                            format_number(row.hit_rate_vs_popularity),
                            format_number(row.hit_rate_vs_segment_popularity),
                            format_percent(row.customer_coverage),
                            format_percent(row.catalogue_coverage),
                        )
                        for row in rows.itertuples()
                    ],
                    numeric=(1, 2, 3, 4, 5, 6),
                    caption=f"Hit-rate@{int(first.top_n)}, trained up to"
                    f" {pd.Timestamp(first.training_end_date).date()}, held out"
                    f" {pd.Timestamp(first.holdout_start_date).date()} to"
                    f" {pd.Timestamp(first.holdout_end_date).date()}",
                    table_id="table-recommendation-backtest",
                )
            )
            blend = rows[rows["method"] == "blended_recommender"]
            if not blend.empty:
                weights = blend.iloc[0]
                self._body.append(
                    "<p>Blend weights chosen on the training period: item-to-item"
                    f" {format_number(weights.weight_item_similarity)}, lookalikes"
                    f" {format_number(weights.weight_lookalike)}, segment best sellers"
                    f" {format_number(weights.weight_segment_popularity)}, overall best sellers"
                    f" {format_number(weights.weight_overall_popularity)}.</p>"
                )
        self._close()

    def churn_and_lifetime_value(self) -> None:
        self._open(
            "churn-lifetime-value",
            "Churn risk and lifetime value",
            "RFM groups from recency and frequency quintiles; P(alive) and expected purchases"
            " from a Pareto/NBD model, spend per purchase from Gamma-Gamma, and the expected"
            " value of the next 12 months. The backtest below shows how well the model ranked"
            " who bought again in a held-out period.",
        )
        if self._needs("churn risk and lifetime value", "customer_lifetime_value"):
            groups = self.db.df(
                "select rfm_group, count(*) as customers, avg(p_alive) as p_alive,"
                " sum(expected_purchases) as expected_purchases,"
                " sum(expected_12_month_value) as expected_value"
                " from customer_lifetime_value group by rfm_group"
                " order by expected_value desc nulls last, rfm_group"
            )
            self._body.append(
                html_table(
                    [
                        "RFM group",
                        "Customers",
                        "Average P(alive)",
                        "Expected purchases",
                        "Expected 12-month value",
                    ],
                    [
                        (
                            row.rfm_group,
                            format_number(row.customers, 0),
                            format_percent(row.p_alive) if pd.notna(row.p_alive) else MISSING,
                            format_number(row.expected_purchases, 1)
                            if pd.notna(row.expected_purchases)
                            else MISSING,
                            format_number(row.expected_value)
                            if pd.notna(row.expected_value)
                            else MISSING,
                        )
                        for row in groups.itertuples()
                    ],
                    numeric=(1, 2, 3, 4),
                    caption="Customers, churn risk and expected value by RFM group",
                    table_id="table-rfm-groups",
                )
            )
            bands = self.db.df(
                "select churn_risk_band, count(*) as customers,"
                " sum(expected_12_month_value) as expected_value"
                " from customer_lifetime_value group by churn_risk_band order by churn_risk_band"
            )
            self._body.append(
                html_table(
                    ["Churn risk", "Customers", "Expected 12-month value"],
                    [
                        (
                            row.churn_risk_band,
                            format_number(row.customers, 0),
                            format_number(row.expected_value)
                            if pd.notna(row.expected_value)
                            else MISSING,
                        )
                        for row in bands.itertuples()
                    ],
                    numeric=(1, 2),
                    caption="Customers and expected value by churn-risk band",
                    table_id="table-churn-bands",
                )
            )
        if self._needs("churn backtest", "churn_backtest"):
            backtest = self.db.df("select * from churn_backtest")
            self._body.append(
                html_table(
                    ["Method", "Customers", "Bought again", "AUC", "MAE (purchases)"],
                    [
                        (
                            row.method,
                            format_number(row.customers_evaluated, 0),
                            format_number(row.customers_bought_again, 0),
                            format_number(row.auc_bought_again, 3)
                            if pd.notna(row.auc_bought_again)
                            else MISSING,
                            format_number(row.mae_purchases, 3)
                            if pd.notna(row.mae_purchases)
                            else MISSING,
                        )
                        for row in backtest.itertuples()
                    ],
                    numeric=(1, 2, 3, 4),
                    caption="Churn backtest: calibrated up to"
                    f" {pd.Timestamp(backtest.iloc[0].calibration_end_date).date()}, scored on"
                    f" the {int(backtest.iloc[0].holdout_days)} days after it"
                    if not backtest.empty
                    else "Churn backtest",
                    table_id="table-churn-backtest",
                )
            )
        self._close()

    def data_quality(self) -> None:
        self._open(
            "data-quality",
            "Data quality",
            "Rows read from the raw input, rows that passed validation into staging, and rows"
            " set aside in the <code>quarantine</code> schema (with the reason).",
        )
        if self._needs("data quality", "quarantine.input_row_counts"):
            counts = self.db.df("select * from quarantine.input_row_counts order by raw_table")
            self._body.append(
                html_table(
                    ["Input", "Raw rows", "Staged rows", "Quarantined rows", "Quarantined share"],
                    [
                        (
                            row.raw_table,
                            format_number(int(row.raw_rows), 0),
                            format_number(int(row.staged_rows), 0),
                            format_number(int(row.quarantined_rows), 0),
                            format_percent(
                                row.quarantined_rows / row.raw_rows if row.raw_rows else 0, 2
                            ),
                        )
                        for row in counts.itertuples()
                    ],
                    numeric=(1, 2, 3, 4),
                    caption="Rows per input table",
                    table_id="table-input-row-counts",
                )
            )
            reasons = [
                f"select '{table.split('_', 1)[1].capitalize()}' as input, quarantine_reason,"
                f" count(*) as rows from quarantine.{table} group by all"
                for table in (
                    "quarantined_customers",
                    "quarantined_products",
                    "quarantined_transactions",
                )
                if self.db.has(f"quarantine.{table}", "quarantine_reason")
            ]
            if reasons:
                frame = self.db.df(
                    " union all ".join(reasons) + " order by input, rows desc, quarantine_reason"
                )
                if frame.empty:
                    self._body.append('<p class="note ok">No row was quarantined.</p>')
                else:
                    self._body.append(
                        html_table(
                            ["Input", "Quarantine reason", "Rows"],
                            [
                                (row.input, row.quarantine_reason, format_number(int(row.rows), 0))
                                for row in frame.itertuples()
                            ],
                            numeric=(2,),
                            caption="Quarantined rows by reason",
                            table_id="table-quarantine-reasons",
                        )
                    )
        if self.db.has("customers", "transactions_before_signup"):
            flagged = int(
                self.db.scalar("select sum(transactions_before_signup) from customers") or 0
            )
            self._body.append(
                f'<p class="note">Kept but flagged: {flagged:,} transactions dated before the'
                " customer's signup (guest purchases, registered later).</p>"
            )
        self._close()


# --------------------------------------------------------------------------------------------
# Page
# --------------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1d2330;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
header { background: #1d2330; color: #fff; padding: 24px 32px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; color: #c9cfdb; }
header code { background: #343c4f; color: #fff; }
nav { background: #fff; border-bottom: 1px solid #dde1e8; padding: 10px 32px;
  position: sticky; top: 0; z-index: 1; }
nav a { margin-right: 18px; color: #2458b3; text-decoration: none; font-weight: 600; }
main { max-width: 1320px; margin: 0 auto; padding: 8px 24px 48px; }
section { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; margin: 24px 0;
  padding: 8px 24px 24px; }
h2 { font-size: 21px; border-bottom: 2px solid #eef0f4; padding-bottom: 6px; }
figure.chart { margin: 20px 0; text-align: center; }
figure.chart img { max-width: 100%; height: auto; border: 1px solid #eef0f4; }
figcaption { color: #5b6475; font-size: 13px; margin-top: 6px; }
table { border-collapse: collapse; width: 100%; margin: 18px 0; font-size: 14px; }
caption { text-align: left; font-weight: 700; padding: 6px 0; }
th, td { border-bottom: 1px solid #e4e7ed; padding: 6px 10px; text-align: left;
  vertical-align: top; }
th { background: #f0f2f6; }
tbody tr:nth-child(even) { background: #fafbfc; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { flex: 1 1 160px; background: #f7f8fb; border: 1px solid #e4e7ed; border-radius: 6px;
  padding: 10px 14px; }
.card .label { color: #5b6475; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 20px; font-weight: 700; }
.note { background: #f7f8fb; border-left: 4px solid #8a94a6; padding: 8px 12px; }
.note.missing { background: #fff7e6; border-left-color: #e69500; }
.note.ok { border-left-color: #2e9d57; }
code { background: #eef0f4; padding: 1px 4px; border-radius: 3px; }
footer { color: #5b6475; font-size: 13px; text-align: center; padding: 16px; }
"""

_NAV = (
    ("overview", "Overview"),
    ("sales", "Sales"),
    ("customers", "Customers"),
    ("segments", "Segments"),
    ("lookalikes", "Lookalikes & recommendations"),
    ("data-quality", "Data quality"),
)


def build_summary(warehouse: _Warehouse, database: Path) -> str:
    """Which build the report shows: build time, input and row counts (``build_info``)."""
    if not warehouse.has("build_info") or not warehouse.has("published_tables"):
        return (
            f"Read from <code>{html.escape(database.name)}</code>, which is not a published copy"
            " (no build_info table): the build it shows is unknown."
        )
    info = warehouse.df("select * from build_info")
    counts = warehouse.df(
        "select table_name, row_count from published_tables"
        " where schema_name = 'main' and table_name in ('customers', 'products', 'transactions')"
        " order by table_name"
    )
    if info.empty:
        return f"<code>{html.escape(database.name)}</code> has an empty build_info table."
    row = info.iloc[0]
    built_at = pd.Timestamp(row["built_at"]).strftime("%Y-%m-%d %H:%M:%S")
    rows = ", ".join(
        f"{int(count):,} {name}"
        for name, count in zip(counts["table_name"], counts["row_count"], strict=True)
    )
    return (
        f"Build of {html.escape(built_at)} UTC (dbt invocation"
        f" <code>{html.escape(str(row['invocation_id']))}</code>) on"
        f" <code>{html.escape(str(row['input']))}</code> ({html.escape(str(row['input_format']))}):"
        f" {html.escape(rows)}."
    )


def _page(database: Path, report: _Report, summary: str = "") -> str:
    nav = "".join(f'<a href="#{anchor}">{html.escape(label)}</a>' for anchor, label in _NAV)
    left_out = ""
    if report.left_out:
        left_out = (
            '<p class="note missing" id="left-out">Some sections were left out because their'
            " tables are not in this database: " + html.escape("; ".join(report.left_out)) + ".</p>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # an empty inline icon, so the browser asks for no favicon file
        '<link rel="icon" href="data:,">'
        "<title>Customer analytics report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<header><h1>Customer analytics report</h1>"
        f"<p>Built from <code>{html.escape(database.name)}</code>: sales, customers, segments,"
        f" lookalikes, recommendations and data quality. {len(report.charts)} charts.</p>"
        f'<p id="build">{summary}</p></header>'
        f"<nav>{nav}</nav><main>{left_out}{''.join(report.sections)}</main>"
        "<footer>Generated by <code>customer-analytics report</code> from the dbt marts."
        " Self-contained: opens offline.</footer>"
        "</body></html>\n"
    )


def _stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def render_report(
    database: Path,
    output_dir: Path,
    *,
    progress: Callable[[str], None] | None = _stderr_progress,
    lookalike_customers: Sequence[str] = DEFAULT_LOOKALIKE_CUSTOMERS,
    recommendation_customers: int = 3,
) -> Path:
    """Write ``output_dir/report.html`` and one PNG per chart from a built database.

    The database is opened read-only. ``progress`` receives one line per step (``"[3/9] ..."``;
    ``None`` for silence). Returns the path of the HTML file.
    """
    database = Path(database)
    output_dir = Path(output_dir)
    if not database.is_file():
        raise ReportError(f"database {database} not found: run `dbt build` first")
    try:
        connection = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        raise ReportError(f"cannot open {database} read-only: {error}") from error
    report_progress = progress or (lambda _message: None)
    with connection, matplotlib.rc_context(_STYLE):
        warehouse = _Warehouse(connection)
        if not warehouse.has("regional_sales") and not warehouse.has("customers"):
            raise ReportError(
                f"{database} has none of the project's marts (regional_sales, customers):"
                " is it a database built by `dbt build`?"
            )
        summary = build_summary(warehouse, database)
        builder = _Builder(
            warehouse, report_progress, lookalike_customers, recommendation_customers
        )
        steps = builder.steps()
        for number, (label, step) in enumerate(steps, start=1):
            report_progress(f"[{number}/{len(steps) + 1}] {label}")
            step()
    report = builder.report
    report_progress(f"[{len(steps) + 1}/{len(steps) + 1}] writing {output_dir / REPORT_FILE}")
    output_dir.mkdir(parents=True, exist_ok=True)
    drawn = {chart.chart_id for chart in report.charts}
    for chart_id in CHART_IDS:
        stale = output_dir / f"{chart_id}.png"
        if chart_id not in drawn and stale.exists():
            stale.unlink()
    for chart in report.charts:
        (output_dir / f"{chart.chart_id}.png").write_bytes(chart.png)
    target = output_dir / REPORT_FILE
    partial = target.with_name(f".{REPORT_FILE}.{os.getpid()}.tmp")
    partial.write_text(_page(database, report, summary), encoding="utf-8")
    partial.replace(target)
    return target
