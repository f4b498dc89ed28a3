"""The look in a real browser: the app follows the visitor's system theme (light and dark both
designed, charts included), a phone-width screen is not covered by the sidebar, and the
documents × documents heatmap is ordered, readable and downloadable. Writes the README's
screenshots of every page in both themes (docs/screenshots/<page>-<theme>.png)."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import VIEWPORT
from tests.browser.test_dashboard import LONG_S, go_to, load_sample, search, wait_until_idle

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "docs" / "screenshots"
# backgroundColor of [theme.light] / [theme.dark] in .streamlit/config.toml
BACKGROUND = {"light": "rgb(255, 255, 255)", "dark": "rgb(15, 20, 25)"}
PHONE = {"width": 390, "height": 844}


def luminance(css_colour: str) -> float:
    """0 (black) … 1 (white) of an ``rgb(r, g, b)`` / ``rgba(…)`` colour."""
    r, g, b = (float(v) for v in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def open_app(chromium, app_url, scheme: str, viewport=VIEWPORT) -> Page:
    context = chromium.new_context(viewport=viewport, locale="en-US", color_scheme=scheme)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.goto(app_url)
    expect(tab.get_by_role("heading", name="Embedding Workbench")).to_be_visible(timeout=60_000)
    return tab


def shoot(tab: Page, name: str) -> None:
    """A tall screenshot for the README (kept in test-artifacts/; copied into docs/ when
    WORKBENCH_UPDATE_SCREENSHOTS=1 or when docs/ has none yet)."""
    target = REPO / "test-artifacts" / f"{name}.png"
    target.parent.mkdir(exist_ok=True)
    wait_until_idle(tab)
    tab.screenshot(path=str(target))
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOTS") == "1" or not (SHOTS / target.name).exists():
        SHOTS.mkdir(parents=True, exist_ok=True)
        save_small(target, SHOTS / target.name)


def save_small(source: Path, target: Path) -> None:
    """``source`` as a 128-colour PNG (a screenshot of flat UI colours loses nothing visible;
    the file is about a third of the size)."""
    from PIL import Image

    with Image.open(source) as image:
        small = image.convert("RGB").quantize(
            colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        small.save(target, optimize=True)


def chart_text_colour(tab: Page) -> str:
    chart = tab.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    title = chart.locator(".gtitle").first
    expect(title).to_be_visible(timeout=LONG_S)
    return title.evaluate("(el) => getComputedStyle(el).fill")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_follows_the_system_theme_on_every_page_charts_included(chromium, app_url, scheme):
    tab = open_app(chromium, app_url, scheme)
    try:
        tab.set_viewport_size({"width": 1440, "height": 1500})
        app = tab.get_by_test_id("stApp")
        expect(app).to_have_css("background-color", BACKGROUND[scheme])
        load_sample(tab)
        shoot(tab, f"home-{scheme}")
        go_to(tab, "Upload & embed")
        expect(tab.get_by_test_id("stFileUploaderDropzone").last).to_be_visible()
        expect(tab.get_by_role("button", name="Download Parquet")).to_be_visible()
        shoot(tab, f"upload-{scheme}")
        go_to(tab, "Search")
        search(tab)
        tab.set_viewport_size({"width": 1440, "height": 2100})
        chart = tab.get_by_test_id("stPlotlyChart").last
        chart.scroll_into_view_if_needed()
        expect(chart.locator(".legendtext").first).to_be_visible()
        tab.get_by_role("heading", name="Search", exact=True).scroll_into_view_if_needed()
        shoot(tab, f"search-{scheme}")
        go_to(tab, "Similarity matrix")
        tab.get_by_text("Documents × documents").click()
        expect(tab.get_by_role("button", name="Download the matrix (CSV)")).to_be_visible(
            timeout=LONG_S
        )
        wait_until_idle(tab)  # the rerun replaces the chart: touch the new one, not the old
        text = chart_text_colour(tab)
        # Chart text is dark on the light theme and light on the dark one.
        assert (luminance(text) < 0.5) if scheme == "light" else (luminance(text) > 0.5), text
        tab.get_by_role(
            "heading", name="Similarity matrix", exact=True
        ).scroll_into_view_if_needed()
        shoot(tab, f"similarity-{scheme}")
        tab.set_viewport_size({"width": 1440, "height": 1500})
        go_to(tab, "Benchmark")
        expect(tab.get_by_role("button", name="Run benchmarks")).to_be_visible()
        shoot(tab, f"benchmark-{scheme}")
        go_to(tab, "Evaluate")
        expect(tab.get_by_role("button", name="Compare")).to_be_visible()
        shoot(tab, f"evaluate-{scheme}")
    finally:
        tab.context.close()


def test_documents_heatmap_is_ordered_labelled_and_exportable(page: Page):
    load_sample(page)
    go_to(page, "Similarity matrix")
    page.get_by_text("Documents × documents").click()
    expect(page.get_by_label("How many")).to_be_visible()  # a random sample by default
    # The queries × documents heatmap stays in the DOM until the rerun replaces it: wait for
    # the run to end and for the new chart's 40 columns before touching the element.
    wait_until_idle(page)
    heatmap = page.get_by_test_id("stPlotlyChart").first
    expect(heatmap.locator(".heatmaplayer")).to_have_count(1, timeout=LONG_S)
    ticks = heatmap.locator(".xtick text")
    expect(ticks).to_have_count(40, timeout=LONG_S)
    expect(heatmap.locator(".ytick text").first).to_have_text(re.compile(r"^#"))  # documents
    heatmap.scroll_into_view_if_needed()
    expect(ticks.first).to_be_visible()
    labels = ticks.all_text_contents()  # SVG text: no innerText
    assert len(labels) == 40 and all(label.startswith("#") for label in labels)
    # Readable: no two column labels overlap.
    boxes = sorted(
        (b["x"], b["x"] + b["width"]) for b in (t.bounding_box() for t in ticks.all()) if b
    )
    assert all(left[1] <= right[0] + 0.5 for left, right in itertools.pairwise(boxes))
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the matrix (CSV)").click()
    saved = download.value
    assert saved.suggested_filename.startswith("sample-cosine-matrix-")
    data = Path(saved.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\n") == 41  # header + 40 rows
    with page.expect_download() as figure:
        page.get_by_role("button", name="Download the figure (HTML)").click()
    assert figure.value.suggested_filename.endswith(".html")
    assert b"plotly" in Path(figure.value.path()).read_bytes()[:200_000].lower()


def test_phone_width_sidebar_does_not_cover_the_page(chromium, app_url):
    tab = open_app(chromium, app_url, "light", viewport=PHONE)
    try:
        sidebar = tab.get_by_test_id("stSidebar")
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        heading = tab.get_by_role("heading", name="Embedding Workbench")
        box = heading.bounding_box()
        on_top = tab.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('h1') !== null",
            [box["x"] + 20, box["y"] + box["height"] / 2],
        )
        assert on_top, "something covers the page's title at phone width"
        shoot(tab, "home-phone")
    finally:
        tab.context.close()


# A phone as Chromium emulates one: Streamlit tells phones by their user agent and touch.
PHONE_DEVICE = {
    "viewport": PHONE,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    ),
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_choosing_a_page_closes_the_sidebar(chromium, app_url, scheme):
    context = chromium.new_context(locale="en-US", color_scheme=scheme, **PHONE_DEVICE)
    try:
        tab = context.new_page()
        tab.goto(app_url)
        expect(tab.get_by_role("heading", name="Embedding Workbench")).to_be_visible(timeout=60_000)
        sidebar = tab.get_by_test_id("stSidebar")
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        tab.get_by_test_id("stExpandSidebarButton").click()
        expect(sidebar).to_have_attribute("data-collapsed", "false")
        tab.get_by_test_id("stSidebarNav").get_by_text("Search", exact=True).click()
        heading = tab.get_by_role("heading", name="Search", exact=True)
        expect(heading).to_be_visible()
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        box = heading.bounding_box()
        on_top = tab.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('h1') !== null",
            [box["x"] + 20, box["y"] + box["height"] / 2],
        )
        assert on_top, "the sidebar still covers the page after choosing one"
        expect(tab.get_by_test_id("stApp")).to_have_css("background-color", BACKGROUND[scheme])
    finally:
        context.close()
