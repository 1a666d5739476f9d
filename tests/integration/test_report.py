"""`customer-analytics report` on a full `dbt build`: every chart drawn, one offline HTML file,
and the page rendered without errors in a real (headless) Chromium."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import shutil
import struct
from pathlib import Path

import duckdb
import pytest

from customer_analytics import cli
from customer_analytics.report import CHART_IDS, REPORT_FILE, render_report

from .dbt_runner import BuiltProject, dbt_build

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ML_TABLES = (
    "segmentation_sweep",
    "segmentation_scores",
    "segment_quality",
    "customer_segment_assignments",
    "customer_segments",
    "segment_feature_profiles",
    "segment_profiles",
    "customer_lookalikes",
    "audience_expansion",
    "product_recommendations",
    "recommendation_backtest",
    "customer_lifetime_value",
    "churn_backtest",
)
ML_CHARTS = {"segmentation_k_sweep", "segment_pca", "segment_heatmap"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG_TAG = re.compile(r"<img\b[^>]*>")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (which must come first)."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR"
    assert length == 13
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return dbt_build(tmp_path_factory.mktemp("report_build"))


@pytest.fixture(scope="module")
def rendered(built: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The report written through the command line, with what it printed on stderr."""
    output = tmp_path_factory.mktemp("report")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        returncode = cli.main(
            ["report", "--database", str(built.database), "--output", str(output)]
        )
    assert returncode == 0, stderr.getvalue()
    return output, stderr.getvalue()


@pytest.fixture(scope="module")
def page_html(rendered: tuple[Path, str]) -> str:
    return (rendered[0] / REPORT_FILE).read_text(encoding="utf-8")


def test_every_chart_is_written_as_a_real_png(rendered: tuple[Path, str]) -> None:
    output, _ = rendered
    assert sorted(path.name for path in output.glob("*.png")) == sorted(
        f"{chart}.png" for chart in CHART_IDS
    )
    for chart in CHART_IDS:
        data = (output / f"{chart}.png").read_bytes()
        width, height = png_size(data)
        assert width >= 600, chart
        assert height >= 300, chart
        assert len(data) > 15_000, f"{chart}.png is suspiciously small ({len(data)} bytes)"
        assert data.endswith(b"IEND\xaeB`\x82"), f"{chart}.png is truncated"


def test_progress_is_reported_on_stderr(rendered: tuple[Path, str]) -> None:
    _, stderr = rendered
    steps = re.findall(r"^\[(\d+)/(\d+)\] ", stderr, flags=re.MULTILINE)
    assert len(steps) >= 5
    assert [int(number) for number, _ in steps] == list(range(1, len(steps) + 1))
    assert {total for _, total in steps} == {str(len(steps))}
    assert "k-sweep chart" in stderr
    assert f"wrote {rendered[0] / REPORT_FILE}" in stderr


def test_html_is_one_self_contained_file(page_html: str, rendered: tuple[Path, str]) -> None:
    assert "http://" not in page_html
    assert "https://" not in page_html
    assert "<script" not in page_html.lower()
    assert "@import" not in page_html
    assert "url(" not in page_html
    # the only <link> is the empty inline icon (it stops the browser asking for favicon.ico)
    assert re.findall(r"<link\b[^>]*>", page_html) == ['<link rel="icon" href="data:,">']
    images = IMG_TAG.findall(page_html)
    assert len(images) == len(CHART_IDS)
    charts = [re.search(r'data-chart="([^"]+)"', tag)[1] for tag in images]
    assert charts == list(CHART_IDS)
    for chart, tag in zip(charts, images, strict=True):
        assert f'id="chart-{chart}"' in tag
        assert re.search(r'alt="[^"]{10,}"', tag), f"{chart} has no useful alt text"
        source = re.search(r'src="data:image/png;base64,([^"]+)"', tag)
        assert source, f"{chart} is not embedded"
        embedded = base64.b64decode(source[1])
        assert embedded == (rendered[0] / f"{chart}.png").read_bytes()


def test_full_build_leaves_no_section_out(page_html: str) -> None:
    assert "data-missing-section" not in page_html
    assert 'id="left-out"' not in page_html


def test_tables_hold_the_examples(page_html: str, built: BuiltProject) -> None:
    segments = built.query("select segment_name from segment_profiles")["segment_name"]
    for name in segments:
        assert f"<td>{name}</td>" in page_html
    lookalikes = re.search(r'<table id="table-lookalikes">.*?</table>', page_html, re.S)[0]
    for number in range(1, 11):
        assert f"<td>C{number:04d}</td>" in lookalikes
    assert lookalikes.count("<tr>") == 1 + 10
    recommendations = re.findall(
        r'<table id="table-recommendations-(C\d+)">(.*?)</table>', page_html, re.S
    )
    assert [customer for customer, _ in recommendations] == ["C0001", "C0002", "C0003"]
    for _, table in recommendations:
        assert table.count("<tr>") == 1 + 5
    counts = re.search(r'<table id="table-input-row-counts">.*?</table>', page_html, re.S)[0]
    for raw_table in ("Customers", "Products", "Transactions"):
        assert f"<td>{raw_table}</td>" in counts


def test_same_database_gives_identical_files(
    built: BuiltProject, rendered: tuple[Path, str], tmp_path: Path
) -> None:
    render_report(built.database, tmp_path, progress=None)
    for name in [REPORT_FILE, *(f"{chart}.png" for chart in CHART_IDS)]:
        assert (tmp_path / name).read_bytes() == (rendered[0] / name).read_bytes(), name


def test_database_without_ml_tables_leaves_those_sections_out(
    built: BuiltProject, tmp_path: Path
) -> None:
    database = tmp_path / "no_ml.duckdb"
    shutil.copyfile(built.database, database)
    with duckdb.connect(str(database)) as connection:
        for table in ML_TABLES:
            connection.execute(f"drop table if exists main.{table}")
    output = tmp_path / "report"
    # a stale chart from an earlier report must not survive next to the new page
    output.mkdir()
    (output / "segment_pca.png").write_bytes(b"stale")
    page = render_report(database, output, progress=None).read_text(encoding="utf-8")
    expected = [chart for chart in CHART_IDS if chart not in ML_CHARTS]
    assert re.findall(r'data-chart="([^"]+)"', page) == expected
    assert sorted(path.stem for path in output.glob("*.png")) == sorted(expected)
    missing = set(re.findall(r'data-missing-section="([^"]+)"', page))
    assert {"k sweep", "segment quality", "segment scatter", "segment heatmap"} <= missing
    assert {"lookalikes"} <= missing
    assert {"recommendations"} <= missing
    assert {"recommendation backtest", "churn risk and lifetime value", "churn backtest"} <= missing
    assert 'id="left-out"' in page
    assert 'id="table-input-row-counts"' in page


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed")
def test_report_renders_in_headless_chromium(rendered: tuple[Path, str], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    page_path = rendered[0] / REPORT_FILE
    console: list[tuple[str, str]] = []
    page_errors: list[str] = []
    requests: list[str] = []
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: console.append((message.type, message.text)))
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(page_path.as_uri(), wait_until="load")
            images = page.evaluate(
                """() => Array.from(document.images).map(image => ({
                    chart: image.dataset.chart, id: image.id, alt: image.alt,
                    complete: image.complete, width: image.naturalWidth,
                    height: image.naturalHeight, shown: image.getBoundingClientRect().width}))"""
            )
            title = page.title()
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert page_errors == []
    assert [entry for entry in console if entry[0] in ("error", "warning")] == []
    assert failed == []
    assert [url for url in requests if not url.startswith(("file://", "data:"))] == []
    assert title == "Customer analytics report"
    assert [image["chart"] for image in images] == list(CHART_IDS)
    for image in images:
        assert image["complete"], image["chart"]
        assert image["width"] > 0, image["chart"]
        assert image["height"] > 0, image["chart"]
        assert image["shown"] > 300, image["chart"]
        assert image["id"] == f"chart-{image['chart']}"
        assert image["alt"]
    width, height = png_size(screenshot.read_bytes())
    assert width == 1280
    assert height > 3000
    assert screenshot.stat().st_size > 100_000
