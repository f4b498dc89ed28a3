"""Time from choosing UMAP on the Map page to the map drawn, in a fresh app server.

Starts ``streamlit run app.py`` from the given checkout (a new process: nothing compiled in
memory), opens it in headless Chromium, waits ``--pause`` seconds on Home (a visitor reading
it), loads the sample, opens the Map page, waits for its PCA map, then clicks UMAP and times
until the UMAP map's title is drawn. With ``--fresh-install`` numba's on-disk cache starts
empty (``NUMBA_CACHE_DIR`` in a new temporary folder), as on a new installation or a restarted
Community Cloud container: UMAP's code is compiled in this process. Also reports the server's
resident memory before the Map page and after the UMAP map. Run by hand (not a test)::

    python benchmarks/map_first_umap.py [--checkout DIR] [--pause S] [--fresh-install]
        [--label TEXT] [--reset]

Each run is appended to benchmarks/results/map_first_umap.json, and with ``--label`` also to
the table in maps.json / maps.md (``--reset`` starts that table afresh).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil
from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from core.bench._app_server import CHROMIUM, CHROMIUM_ARGS, app_env, streamlit_app  # noqa: E402
from tests.browser.conftest import VIEWPORT  # noqa: E402

RESULTS = HERE / "benchmarks" / "results" / "map_first_umap.json"


def main(repo: Path, pause_s: float, fresh_install: bool) -> dict:
    out: dict = {"checkout": str(repo), "pause_s": pause_s, "fresh_install": fresh_install}
    with tempfile.TemporaryDirectory() as tmp:
        numba = {"NUMBA_CACHE_DIR": str(Path(tmp) / "numba")} if fresh_install else {}
        env = app_env(EMBEDDING_WORKBENCH_CACHE_DIR=str(Path(tmp) / "cache"), **numba)
        with streamlit_app(env, timeout_s=120, cwd=repo) as app:  # this checkout's app.py
            url, server = app.url, psutil.Process(app.pid)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=VIEWPORT)
                arrived = time.perf_counter()
                page.goto(url)
                expect(page.get_by_role("button", name="Load the sample corpus")).to_be_visible(
                    timeout=300_000
                )
                time.sleep(max(0.0, pause_s - (time.perf_counter() - arrived)))
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
                out["seconds_from_arrival_to_umap_click"] = started - arrived
                page.get_by_test_id("stRadio").first.get_by_text("UMAP", exact=True).click()
                expect(chart.locator(".gtitle")).to_have_text(
                    "UMAP map of 72 documents", timeout=600_000
                )
                out["seconds_to_umap_map"] = time.perf_counter() - started
                out["rss_after_umap_mb"] = server.memory_info().rss / 2**20
                browser.close()
    out["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out["load_average"] = os.getloadavg()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=HERE)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds on Home first")
    parser.add_argument("--fresh-install", action="store_true", help="numba's cache empty")
    parser.add_argument("--label", help="a row of the maps.md table for this run")
    parser.add_argument("--reset", action="store_true", help="start the maps.md table afresh")
    args = parser.parse_args()
    result = main(args.checkout.resolve(), args.pause, args.fresh_install)
    runs = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([*runs, result], indent=2) + "\n")
    print({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()})
    if args.label:
        from core.bench import _maps

        maps = json.loads((_maps.OUT / "maps.json").read_text(encoding="utf-8"))
        first = maps.setdefault("first_umap", {"runs": [], "note": ""})
        if args.reset:
            first["runs"] = []
        first["runs"].append(
            {
                "version": args.label,
                "seconds_to_umap_map": round(result["seconds_to_umap_map"], 1),
                "rss_before_map_mb": round(result["rss_before_map_mb"], 1),
                "rss_after_umap_mb": round(result["rss_after_umap_mb"], 1),
            }
        )
        (_maps.OUT / "maps.json").write_text(json.dumps(maps, indent=2) + "\n", encoding="utf-8")
        (_maps.OUT / "maps.md").write_text(_maps.markdown(maps), encoding="utf-8")
