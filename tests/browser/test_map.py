"""The Map page in a real browser: UMAP (or t-SNE) on the sample, colour by topic, a box
selection, a search inside it, and a metadata filter, as a visitor sees them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from core.data._sample import TOPICS
from core.viz._layout import umap_available
from tests.browser.test_dashboard import LONG_S, go_to, load_sample, wait_until_idle

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "screenshots" / "map.png"
LAYOUT_S = 300_000


def chart_title(page: Page) -> str:
    return page.get_by_test_id("stPlotlyChart").first.locator(".gtitle").inner_text()


def open_dropdown(widget) -> None:
    """Open a selectbox's or multiselect's list by clicking its box (not the label above it)
    and wait until the list is shown."""
    widget.get_by_role("combobox").click()
    expect(widget.page.get_by_role("listbox")).to_be_visible()


def open_expander(page: Page, label: str) -> None:
    """Open an expander and wait for its opening animation to end: while its height animates,
    focusing a widget inside scrolls the clipped content, and that scroll closes a dropdown
    opened meanwhile (why this test once failed to click the 'music' option)."""
    expander = page.get_by_test_id("stExpander").filter(has_text=label)
    expander.get_by_text(label).click()
    details = expander.locator("details")
    expect(details).to_have_attribute("open", "")
    details.evaluate("el => Promise.all(el.getAnimations({subtree: true}).map(a => a.finished))")


def trace_box(page: Page, name: str) -> dict:
    """The on-screen bounding box of one legend entry's points."""
    return page.get_by_test_id("stPlotlyChart").first.evaluate(
        """(el, name) => {
            const gd = el.querySelector('.js-plotly-plot');
            const trace = gd._fullData.find(t => t.name === name);
            const layout = gd._fullLayout, box = gd.getBoundingClientRect();
            const xs = Array.from(trace.x, v => layout.xaxis.l2p(v) + layout._size.l + box.left);
            const ys = Array.from(trace.y, v => layout.yaxis.l2p(v) + layout._size.t + box.top);
            return {x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys),
                    y1: Math.max(...ys)};
        }""",
        name,
    )


def test_map_colours_selects_searches_and_filters_the_sample(page: Page):
    load_sample(page)
    go_to(page, "Map")
    method = "UMAP" if umap_available() else "t-SNE"
    page.get_by_test_id("stRadio").first.get_by_text(method, exact=True).click()
    chart = page.get_by_test_id("stPlotlyChart").first
    # A fresh server compiles UMAP's numba code first: minutes on a loaded 2-core machine.
    expect(chart.locator(".gtitle")).to_have_text(f"{method} map of 72 documents", timeout=LAYOUT_S)
    # Cluster labels are written on the map.
    expect(chart.locator(".annotation-text").first).to_be_visible()
    wait_until_idle(page)

    # Click the box itself: the centre of the whole widget is on its label's edge, and a click
    # on a label focuses the box without opening its list.
    open_dropdown(page.get_by_test_id("stSelectbox").filter(has_text="Colour by"))
    page.get_by_role("option", name="topic", exact=True).click()
    legend = chart.locator(".legendtext")
    for topic in TOPICS:
        expect(legend.filter(has_text=topic)).to_have_count(1)
    wait_until_idle(page)

    # Drag a box around the finance documents: the selection table lists them.
    page.set_viewport_size({"width": 1440, "height": 1400})
    chart.scroll_into_view_if_needed()
    box = trace_box(page, "finance")
    page.mouse.move(box["x0"] - 4, box["y0"] - 4)
    page.mouse.down()
    page.mouse.move((box["x0"] + box["x1"]) / 2, (box["y0"] + box["y1"]) / 2, steps=5)
    page.mouse.move(box["x1"] + 4, box["y1"] + 4, steps=5)
    page.mouse.up()
    heading = page.get_by_role("heading", name="Selection:")
    expect(heading).to_be_visible(timeout=LONG_S)
    wait_until_idle(page)
    _screenshot(page)

    page.get_by_label("Search on the map").fill("stock market interest rates")
    page.get_by_text("Search only within the selection").click()
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_role("heading", name="Search results")).to_be_visible(timeout=LONG_S)
    selected = heading.inner_text().split(":")[1].split()[0]
    expect(page.get_by_text(f"(searched {selected} documents)")).to_be_visible()
    wait_until_idle(page)

    open_expander(page, "Filter by metadata")
    open_dropdown(page.get_by_test_id("stMultiSelect").filter(has_text="topic"))
    page.get_by_role("option", name="music", exact=True).click()
    page.keyboard.press("Escape")
    expect(chart.locator(".gtitle")).to_have_text(f"{method} map of 9 documents", timeout=LONG_S)
    expect(chart.locator(".legendtext").filter(has_text="music")).to_have_count(1)


def _screenshot(page: Page) -> None:
    """A viewport screenshot of the map with a selection, for the README."""
    target = REPO / "test-artifacts" / "map.png"
    target.parent.mkdir(exist_ok=True)
    page.get_by_test_id("stPlotlyChart").first.scroll_into_view_if_needed()
    page.screenshot(path=str(target))
    if os.environ.get("WORKBENCH_UPDATE_SCREENSHOTS") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, SCREENSHOT)
