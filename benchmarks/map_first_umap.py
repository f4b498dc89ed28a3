"""Time from choosing UMAP on the Map page to the map drawn, in a fresh app server.

Starts ``streamlit run app.py`` from the given checkout (a new process: nothing compiled in
memory), loads the sample in headless Chromium, opens the Map page, waits for its PCA map, then
clicks UMAP and times until the UMAP map's title is drawn. Also reports the server's resident
memory before the Map page and after the UMAP map. Run by hand (not a test)::

    python benchmarks/map_first_umap.py [CHECKOUT]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tests.browser import conftest  # noqa: E402


def main(repo: Path) -> dict:
    conftest.REPO = repo  # serve this checkout's app.py
    out = {}
    with conftest.serve_app(Path("/tmp/map-first-umap-cache")) as url:
        server = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if "app.py" in " ".join(p.info["cmdline"] or [])
            and f"{url.rsplit(':', 1)[1]}" in " ".join(p.info["cmdline"] or [])
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(conftest.CHROMIUM), args=conftest.CHROMIUM_ARGS
            )
            page = browser.new_page(viewport=conftest.VIEWPORT)
            page.goto(url)
            page.get_by_role("button", name="Load the sample corpus").click()
            expect(page.get_by_text("Loaded the sample: 72 documents")).to_be_visible(
                timeout=300_000
            )
            out["rss_before_map_mb"] = server.memory_info().rss / 2**20
            page.get_by_test_id("stSidebarNav").get_by_text("Map", exact=True).click()
            chart = page.get_by_test_id("stPlotlyChart").first
            expect(chart.locator(".gtitle")).to_have_text(
                "PCA map of 72 documents", timeout=300_000
            )
            started = time.perf_counter()
            page.get_by_test_id("stRadio").first.get_by_text("UMAP", exact=True).click()
            expect(chart.locator(".gtitle")).to_have_text(
                "UMAP map of 72 documents", timeout=600_000
            )
            out["seconds_to_umap_map"] = time.perf_counter() - started
            out["rss_after_umap_mb"] = server.memory_info().rss / 2**20
            browser.close()
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE
    print(target, {k: round(v, 1) for k, v in main(target).items()})
