"""The browser side of the dashboard benchmark (``core.bench._dashboard``): Chromium through
Playwright, a probe that records websocket messages, DOM changes, Plotly redraws and long tasks on
the page's clock, one timed search, and its breakdown against the server's marks."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from core.bench._app_server import CHROMIUM, CHROMIUM_ARGS

# Tall enough that the whole Search page (results table and map) is in view: Plotly draws a
# chart only once it is visible, and a benchmark must not depend on scrolling.
VIEWPORT = {"width": 1440, "height": 2600}

TIMEOUT_MS = 300_000

# The DOM counts as drawn once nothing in the page's main area changed for this long.
SETTLE_MS = 750

# Timestamps on the page's own clock (performance.now()): websocket messages received, clicks,
# the last DOM change in the main area, Plotly redraws and long tasks of the main thread.
BROWSER_PROBE = """
(() => {
  const wb = (window.__wb = {ws: [], clicks: [], lastMut: 0, muts: 0, plots: [], long: []});
  const Native = window.WebSocket;
  class Probed extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const d = e.data;
        wb.ws.push([performance.now(), d.byteLength ?? d.size ?? d.length ?? 0]);
      });
    }
  }
  window.WebSocket = Probed;
  document.addEventListener("click", () => wb.clicks.push(performance.now()), true);
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (el && el.closest('[data-testid="stMain"]')) {
        wb.lastMut = performance.now();
        wb.muts += 1;
        return;
      }
    }
  });
  observer.observe(document, {childList: true, subtree: true, characterData: true,
                              attributes: true});
  const hook = () => {
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (!gd.__wb && typeof gd.on === "function") {
        gd.__wb = true;
        gd.on("plotly_afterplot", () => wb.plots.push(performance.now()));
      }
    }
    requestAnimationFrame(hook);
  };
  requestAnimationFrame(hook);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) wb.long.push([e.startTime, e.duration]);
    }).observe({type: "longtask", buffered: true});
  } catch (e) {}
})();
"""


@contextlib.contextmanager
def chromium() -> Iterator:
    """Debian's Chromium, headless, as the browser tests launch it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser):
    """A fresh context (a new Streamlit session) with the probe installed before any script."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(BROWSER_PROBE)
    return context, context.new_page()


def _epoch_ms(tab) -> float:
    """The page's performance.now() origin as epoch milliseconds (to line up with the server)."""
    return tab.evaluate("performance.timeOrigin")


def _probe(tab) -> dict:
    """What the probe recorded, plus the files the page fetched (JavaScript chunks loaded on
    demand, e.g. Plotly's the first time a chart is drawn)."""
    return tab.evaluate(
        """() => ({...window.__wb, resources: performance.getEntriesByType("resource").map(
            (e) => [e.name.split("/").pop(), e.startTime, e.duration, e.transferSize])})"""
    )


def _wait_idle(tab) -> None:
    """The script run is over (Streamlit's running indicator gone) and the main area has not
    changed for SETTLE_MS."""
    from playwright.sync_api import expect

    expect(tab.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=TIMEOUT_MS)
    tab.wait_for_function(
        f"performance.now() - window.__wb.lastMut > {SETTLE_MS}", timeout=TIMEOUT_MS, polling=100
    )


def search_once(tab, server, query: str) -> dict:
    """Type ``query``, press Search on ``server`` (a ``core.bench._dashboard.Server``), wait
    for the results and the map; return the breakdown."""
    from playwright.sync_api import expect

    box = tab.get_by_label("Queries, one per line")
    box.fill(query)
    _wait_idle(tab)
    runs_before = len(server.runs())
    tab.evaluate("window.__wb.ws = []; window.__wb.plots = []; window.__wb.clicks = []")
    tab.get_by_test_id("stBaseButton-primaryFormSubmit").click()  # the form's Search
    best = tab.get_by_test_id("stMarkdownContainer").filter(has_text="Top result")
    expect(best.filter(has_text=query)).to_be_visible(timeout=TIMEOUT_MS)
    tab.wait_for_function(
        "n => window.__wb.clicks.length > 0", arg=0, timeout=TIMEOUT_MS, polling=100
    )
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while len(server.runs()) <= runs_before:  # the server writes its marks at the run's end
        if time.monotonic() > deadline:
            raise RuntimeError("the Search page never finished its run")
        time.sleep(0.05)
    expect(tab.get_by_test_id("stPlotlyChart").last).to_be_visible(timeout=TIMEOUT_MS)
    _wait_idle(tab)
    probe = _probe(tab)
    origin = _epoch_ms(tab)
    run = next(r for r in server.runs()[runs_before:] if r.get("submitted"))
    return breakdown(probe, origin, run)


def breakdown(probe: dict, origin_ms: float, run: dict) -> dict:
    """Milliseconds from the click, on one clock: the server's marks and the browser's events.

    ``origin_ms`` is the page's ``performance.timeOrigin`` (epoch ms); the server's run start
    is epoch seconds (same machine, same clock).
    """
    click = probe["clicks"][0]
    start = run["wall_start"] * 1000 - origin_ms - click  # server run start, after the click
    marks = dict(run["marks"])
    server, previous = {}, 0.0
    for name, seconds in run["marks"]:
        server[name] = seconds * 1000 - previous
        previous = seconds * 1000
    ws = [(t - click, n) for t, n in probe["ws"] if t >= click]
    drawn = probe["lastMut"] - click
    plots = [t - click for t in probe["plots"] if t >= click]
    long_tasks = [(s - click, d) for s, d in probe["long"] if s + d >= click and s <= click + drawn]
    last_ws = ws[-1][0] if ws else None
    fetched = [(name, t - click, d, size) for name, t, d, size in probe.get("resources", [])]
    fetched = [f for f in fetched if f[1] >= 0]
    return {
        "total_ms": drawn,
        "click_to_run_start_ms": start,
        "server_ms": server,
        "server_run_ms": marks["end"] * 1000,
        "embed_ms": run.get("embed_ms"),
        "search_ms": run.get("search_ms"),
        "run_end_ms": start + marks["end"] * 1000,
        "first_ws_ms": ws[0][0] if ws else None,
        "last_ws_ms": last_ws,
        "ws_messages": len(ws),
        "ws_bytes": int(sum(n for _, n in ws)),
        "last_plotly_redraw_ms": plots[-1] if plots else None,
        # The browser draws while the server still runs (deltas arrive as they are made);
        # this is what is left once the server's run is over.
        "after_server_ms": drawn - (start + marks["end"] * 1000),
        "long_tasks_ms": sum(d for _, d in long_tasks),
        "long_tasks": len(long_tasks),
        "js_fetched_bytes": int(sum(f[3] for f in fetched if f[0].endswith(".js"))),
        "js_fetched_ms": max((f[1] + f[2] for f in fetched if f[0].endswith(".js")), default=0.0),
        "fetched": [
            {"file": name, "start_ms": t, "ms": d, "bytes": size} for name, t, d, size in fetched
        ],
    }
