"""``python -m core.bench._dashboard``: the dashboard's own latency, measured in real Chromium.

Two measurements, one fresh ``streamlit run app.py`` (headless, a free loopback port):

Cold start
    From launching the process to the first search result on the sample corpus, stage by stage
    (server up, Home drawn, sample loaded, Search page, first result drawn), beside what each
    part costs in a fresh Python process of its own: importing numpy / pandas / pyarrow /
    plotly / streamlit / core / the app's modules, loading the offline model, embedding the
    sample.
Search on a large collection
    A saved collection file of ``--docs`` synthetic documents with real-dimension vectors (512,
    the default offline model's), loaded through the Upload page's "Load a saved collection",
    then single-query searches: pressing Search to results drawn (query embedding, search,
    results table, map). The first search also fits the map's projection; the later ones
    reuse it. Broken down with the Search page's opt-in marks (``ui.timings``: the server
    writes them when ``WORKBENCH_TIMINGS`` is set) and, in the browser, the websocket
    messages, DOM mutations, Plotly redraws and long tasks, all on the same clock.

Writes ``benchmarks/results/dashboard.json`` and ``DASHBOARD.md``, with the load average at
the start and the end (the machine may be shared) and the BLAS environment. Needs Chromium at
``/usr/bin/chromium`` (or ``WORKBENCH_CHROMIUM``) and Playwright; Chromium is never downloaded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"
CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
# As the browser tests launch it (tests/browser/conftest.py).
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
# Tall enough that the whole Search page (results table and map) is in view: Plotly draws a
# chart only once it is visible, and a benchmark must not depend on scrolling.
VIEWPORT = {"width": 1440, "height": 2600}
TIMEOUT_MS = 300_000
SERVER_START_TIMEOUT_S = 120
# The DOM counts as drawn once nothing in the page's main area changed for this long.
SETTLE_MS = 750


def configured_upload_mb() -> int:
    """``server.maxUploadSize`` of the app's .streamlit/config.toml (Streamlit's default: 200)."""
    import tomllib

    config = ROOT / ".streamlit" / "config.toml"
    if not config.is_file():
        return 200
    return int(tomllib.loads(config.read_text(encoding="utf-8")).get("server", {}).get(
        "maxUploadSize", 200))  # fmt: skip


SEARCH_QUERIES = (
    "How do I reset my password?",
    "什么是机器学习？",
    "best hiking trails in the Alps",
    "quarterly earnings fell sharply",
    "a recipe for sourdough bread",
    "how far away is the moon",
)

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

# A fresh interpreter importing the app's layers one after another: each figure is what that
# import adds to the ones before it (what a cold ``streamlit run`` pays once).
IMPORT_STEPS = (
    ("numpy", "import numpy"),
    ("pandas", "import pandas"),
    ("pyarrow", "import pyarrow, pyarrow.parquet"),
    ("plotly", "import plotly.graph_objects"),
    ("streamlit", "import streamlit"),
    ("langchain_core.embeddings (the providers' base class)", "import langchain_core.embeddings"),
    (
        "langchain_core retrievers + vector stores (core.langchain's, with langsmith)",
        "import langchain_core.retrievers, langchain_core.vectorstores",
    ),
    ("openai + langchain_openai (the OpenAI provider)", "import openai, langchain_openai"),
    ("core (the rest of it)", "import core"),
    ("core.services + core.viz", "import core.services, core.viz"),
    (
        "the app's ui modules",
        "import ui.cache, ui.frame, ui.sample, ui.search, ui.tables, ui.display, ui.upload",
    ),
)
IMPORT_SCRIPT = """
import json, sys, time
steps = json.loads(sys.argv[1])
out = []
for name, stmt in steps:
    t = time.perf_counter()
    exec(stmt)
    out.append([name, time.perf_counter() - t])
print(json.dumps(out))
"""
MODEL_SCRIPT = """
import json, time
t = time.perf_counter()
from core.data._sample import sample_texts
from core.embedding._batching import embed_texts
from core.embedding.providers import default_provider, get_embedder, provider_info
imported = time.perf_counter() - t
info = provider_info(default_provider(None))
t = time.perf_counter()
embedder = get_embedder(provider=info.name, model=info.default_model)
embedder.embed_batch(["warm-up"])
load = time.perf_counter() - t
t = time.perf_counter()
embed_texts(sample_texts(), embedder, cache=None)
sample = time.perf_counter() - t
t = time.perf_counter()
embedder.embed_query("How do I reset my password?")
query = time.perf_counter() - t
print(json.dumps({"import_s": imported, "model_load_s": load, "sample_embed_s": sample,
                  "query_embed_s": query, "provider": info.name, "model": info.default_model}))
"""


def chromium_available() -> bool:
    """Whether Chromium and Playwright are both here (the benchmark needs both)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------- the data
def synthetic_collection(n_docs: int, dim: int = 512, *, topics: int = 50, seed: int = 0):
    """A collection of ``n_docs`` synthetic sentences with unit vectors drawn around ``topics``
    centres, under the default offline model's spec (so the app embeds queries with it)."""
    from core.data._collection import Collection
    from core.embedding._types import EmbedderSpec
    from core.embedding.providers import default_provider, provider_info, resolve_prefixes

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim), dtype=np.float32)
    topic = rng.integers(0, topics, n_docs)
    x = centres[topic] + 1.5 * rng.standard_normal((n_docs, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    words = np.array(
        [
            "alpine",
            "bank",
            "bread",
            "cloud",
            "delta",
            "engine",
            "forest",
            "garden",
            "harbour",
            "index",
            "journey",
            "kernel",
            "ledger",
            "market",
            "needle",
            "orbit",
            "pepper",
            "quartz",
            "river",
            "signal",
            "timber",
            "unit",
            "valley",
            "window",
        ]
    )
    picks = rng.integers(0, len(words), (n_docs, 8))
    texts = [
        f"Synthetic document {i} on topic {t}: " + " ".join(words[p])
        for i, (t, p) in enumerate(zip(topic.tolist(), picks, strict=True))
    ]
    import pandas as pd

    meta = pd.DataFrame({"source": "synthetic", "topic": topic.astype(np.int64)})
    info = provider_info(default_provider(None))
    prefixes = resolve_prefixes(info.default_model)
    spec = EmbedderSpec(info.name, info.default_model, None, prefixes.query, prefixes.document)
    return Collection.create(texts, np.ascontiguousarray(x), spec, meta)


def make_collection_file(path: Path, n_docs: int, dim: int = 512) -> dict:
    """Write a saved collection (the Upload page's Parquet download format) to ``path``, and
    time reading it back as the Upload page does (``core.data._formats.from_bytes``)."""
    from core.data._formats import from_bytes, to_parquet_bytes

    t0 = time.perf_counter()
    collection = synthetic_collection(n_docs, dim)
    t1 = time.perf_counter()
    data = to_parquet_bytes(collection)
    t2 = time.perf_counter()
    path.write_bytes(data)
    t3 = time.perf_counter()
    loaded = from_bytes(path.name, data, max_bytes=2**40)
    t4 = time.perf_counter()
    assert len(loaded) == n_docs
    return collection, {
        "docs": n_docs,
        "dim": dim,
        "file_bytes": len(data),
        "vector_bytes": int(collection.embeddings.nbytes),
        "make_s": t1 - t0,
        "write_parquet_s": t2 - t1,
        "read_back_s": t4 - t3,
    }


def server_pieces(collection, query: str = SEARCH_QUERIES[2], repeats: int = 3) -> dict:
    """The Search page's server-side steps called directly on ``collection`` in this process
    (best of ``repeats``, ms): a cross-check of the page's marks, finer grained."""
    from core.embedding._batching import embed_texts
    from core.embedding.providers import get_embedder
    from core.services import download_name
    from core.viz import points_to_draw, projection_figure
    from core.viz._projection import fit_projection

    spec = collection.spec
    embedder = get_embedder(provider=spec.provider, model=spec.model)
    embedder.embed_batch(["warm-up"])

    def best(fn):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            value = fn()
            times.append((time.perf_counter() - t) * 1000)
        return min(times), value

    out = {}
    out["query embedding"], vectors = best(
        lambda: embed_texts([query], embedder, cache=None, role="query").vectors
    )
    out["search (k = 5, cosine, exact)"], (ids, _) = best(lambda: collection.search(vectors, 5))
    out["download file name (download_name)"], _ = best(
        lambda: download_name(collection, "search results", "csv")
    )
    t = time.perf_counter()
    projection = fit_projection(collection.embeddings, "pca")
    out["map projection fit (PCA, once per session)"] = (time.perf_counter() - t) * 1000
    hits = [list(map(int, row)) for row in np.asarray(ids)]
    out["points to draw + project them"], (drawn, xy) = best(
        lambda: (
            (d := points_to_draw(len(collection), [i for row in hits for i in row])),
            projection.transform(collection.embeddings[d]),
        )
    )
    texts = [collection.texts[i] for i in drawn]
    out["map figure built (projection_figure)"], fig = best(
        lambda: projection_figure(
            xy,
            texts,
            doc_ids=drawn,
            query_xy=projection.transform(vectors),
            query_texts=[query],
            hit_ids=hits,
            axis_titles=projection.axis_titles()[:2],
        )
    )
    out["map figure to JSON"], payload = best(fig.to_json)
    out["points drawn"] = len(drawn)
    out["map JSON bytes"] = len(payload)
    return out


# ----------------------------------------------------------------------- fresh processes
def import_times(repeats: int = 3) -> list[dict]:
    """Median seconds each layer's import adds, in fresh interpreters (see IMPORT_STEPS)."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_SCRIPT, json.dumps(IMPORT_STEPS)],
            cwd=ROOT, env=_child_env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
        runs.append(dict(json.loads(out.stdout.strip().splitlines()[-1])))
    return [
        {"module": name, "seconds": statistics.median(r[name] for r in runs)}
        for name, _ in IMPORT_STEPS
    ]


def interpreter_start(repeats: int = 3) -> float:
    """Median seconds for a fresh ``python -c pass``."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def model_times() -> dict:
    """The offline model in a fresh process: load + warm-up, the sample, one query."""
    out = subprocess.run(
        [sys.executable, "-c", MODEL_SCRIPT],
        cwd=ROOT, env=_child_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ the server
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    launched: float  # perf_counter() just before the process was started
    ready: float  # perf_counter() when it printed its URL
    timings: Path  # the Search page's marks, one JSON line per run
    log: list[str] = field(default_factory=list)

    def runs(self) -> list[dict]:
        if not self.timings.is_file():
            return []
        lines = self.timings.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@contextlib.contextmanager
def serve(workdir: Path, *, max_upload_mb: int) -> Iterator[Server]:
    """A fresh ``streamlit run app.py`` (headless, a free loopback port), timings on."""
    port = _free_port()
    timings = workdir / "timings.jsonl"
    env = _child_env(
        EMBEDDING_WORKBENCH_CACHE_DIR=str(workdir / "cache"), WORKBENCH_TIMINGS=str(timings)
    )
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--server.maxUploadSize", str(max_upload_mb),
    ]  # fmt: skip
    launched = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        log = _wait_for_url(proc, time.monotonic() + SERVER_START_TIMEOUT_S)
        ready = time.perf_counter()
        threading.Thread(target=_drain, args=(proc, log), daemon=True).start()
        yield Server(f"http://127.0.0.1:{port}", launched, ready, timings, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_url(proc: subprocess.Popen, deadline: float) -> list[str]:
    fd = proc.stdout.fileno()
    output = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=remaining):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            output += chunk
            if b"URL:" in output:
                return output.decode(errors="replace").splitlines()
    proc.kill()
    tail = "\n".join(output.decode(errors="replace").splitlines()[-40:])
    raise RuntimeError(f"streamlit did not start:\n{tail}")


def _drain(proc: subprocess.Popen, log: list[str]) -> None:
    fd = proc.stdout.fileno()
    while chunk := os.read(fd, 65536):
        log.extend(chunk.decode(errors="replace").splitlines())


# ----------------------------------------------------------------------------- the browser
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


def search_once(tab, server: Server, query: str) -> dict:
    """Type ``query``, press Search, wait for the results and the map; return the breakdown."""
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


# -------------------------------------------------------------------------- measurements
def cold_start(browser, workdir: Path, *, max_upload_mb: int):
    """Launch the app, open Home, load the sample, open Search, search: seconds per stage.

    Returns the stage timings and the still-running server (a context manager's exit stack).
    """
    from playwright.sync_api import expect

    stack = contextlib.ExitStack()
    server = stack.enter_context(serve(workdir, max_upload_mb=max_upload_mb))
    context, tab = new_tab(browser)
    stack.callback(context.close)
    stages = {"server up (URL printed)": server.ready - server.launched}
    t = time.perf_counter()
    tab.goto(server.url)
    expect(tab.get_by_role("button", name="Load the sample corpus")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    stages["Home drawn"] = time.perf_counter() - t
    home = _probe(tab)["resources"]
    page_files = {
        "files": len(home),
        "js_bytes": int(sum(size for name, _, _, size in home if name.endswith(".js"))),
        "last_done_ms": max((start + ms for _, start, ms, _ in home), default=0.0),
    }
    t = time.perf_counter()
    tab.get_by_role("button", name="Load the sample corpus").click()
    expect(tab.get_by_text("Loaded the sample: 72 documents")).to_be_visible(timeout=TIMEOUT_MS)
    stages["sample loaded (model + 72 embeddings)"] = time.perf_counter() - t
    t = time.perf_counter()
    tab.get_by_role("link", name="Search the collection").click()
    expect(tab.get_by_label("Queries, one per line")).not_to_have_value("", timeout=TIMEOUT_MS)
    stages["Search page drawn"] = time.perf_counter() - t
    _wait_idle(tab)
    runs_before = len(server.runs())
    tab.evaluate("window.__wb.ws = []; window.__wb.plots = []; window.__wb.clicks = []")
    t = time.perf_counter()
    tab.get_by_test_id("stBaseButton-primaryFormSubmit").click()  # the form's Search
    expect(tab.get_by_text("Top result").first).to_be_visible(timeout=TIMEOUT_MS)
    while len(server.runs()) <= runs_before:
        time.sleep(0.05)
    expect(tab.get_by_test_id("stPlotlyChart").last).to_be_visible(timeout=TIMEOUT_MS)
    _wait_idle(tab)
    first = breakdown(_probe(tab), _epoch_ms(tab), server.runs()[runs_before:][-1])
    stages["first search drawn (3 sample queries)"] = first["total_ms"] / 1000
    # The idle waits between stages (SETTLE_MS each) are the harness's, not the app's.
    return (
        {
            "stages_s": stages,
            "total_s": sum(stages.values()),
            "first_search": first,
            "home_page_files": page_files,
        },
        server,
        stack,
    )


def large_search(browser, server: Server, file: Path, n_searches: int) -> dict:
    """A new session loads ``file`` through the Upload page, then searches ``n_searches``
    times, one query each (the first also fits the map's projection)."""
    from playwright.sync_api import expect

    context, tab = new_tab(browser)
    try:
        tab.goto(server.url)
        expect(tab.get_by_role("button", name="Load the sample corpus")).to_be_visible()
        tab.get_by_test_id("stSidebarNav").get_by_text("Upload & embed", exact=True).click()
        saved = tab.get_by_test_id("stFileUploader").filter(has_text="Load a saved collection")
        expect(saved).to_be_visible()
        t = time.perf_counter()
        saved.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(file))
        expect(tab.get_by_text(f"Loaded {file.name}")).to_be_visible(timeout=TIMEOUT_MS)
        load_s = time.perf_counter() - t
        tab.get_by_test_id("stSidebarNav").get_by_text("Search", exact=True).click()
        expect(tab.get_by_label("Queries, one per line")).to_be_visible()
        _wait_idle(tab)
        searches = []
        for i in range(n_searches):
            row = search_once(tab, server, SEARCH_QUERIES[i % len(SEARCH_QUERIES)])
            row["first"] = i == 0
            searches.append(row)
        if os.environ.get("WB_DEBUG_SHOT"):
            tab.screenshot(path=os.environ["WB_DEBUG_SHOT"], full_page=True)
        return {"load_file_s": load_s, "searches": searches}
    finally:
        context.close()


def _median_row(rows: list[dict]) -> dict:
    """The later search (the projection already fitted) whose total is the median (the lower
    one for an even count): one real run, so its parts add up."""
    ordered = sorted(rows, key=lambda r: r["total_ms"])
    return ordered[(len(ordered) - 1) // 2]


def run(n_docs: int = 100_000, dim: int = 512, n_searches: int = 6, repeats: int = 3) -> dict:
    """Every measurement; returns the result written to dashboard.json."""
    from core.bench._env import describe

    env = describe()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="wb-dashboard-") as tmp:
        workdir = Path(tmp)
        file = workdir / f"synthetic-{n_docs}.parquet"
        collection, data = make_collection_file(file, n_docs, dim)
        print("collection file:", data, flush=True)
        pieces = server_pieces(collection, repeats=repeats)
        del collection
        print("server pieces:", pieces, flush=True)
        max_upload_mb = max(configured_upload_mb(), int(data["file_bytes"] / 2**20) + 10)
        fresh = {
            "interpreter_start_s": interpreter_start(repeats),
            "imports": import_times(repeats),
            "model": model_times(),
        }
        print("fresh processes:", fresh, flush=True)
        with chromium() as browser:
            cold, server, stack = cold_start(browser, workdir, max_upload_mb=max_upload_mb)
            with stack:
                print("cold start:", cold, flush=True)
                large = large_search(browser, server, file, n_searches)
                print("large collection:", large, flush=True)
    later = [s for s in large["searches"] if not s["first"]]
    return {
        "measured": started,
        "command": "python -m core.bench._dashboard",
        "environment": env,
        "load_average_at_end": os.getloadavg(),
        "viewport": VIEWPORT,
        "settle_ms": SETTLE_MS,
        "max_upload_mb": max_upload_mb,
        "configured_upload_mb": configured_upload_mb(),
        "collection_file": data,
        "fresh_processes": fresh,
        "server_pieces_ms": pieces,
        "repeats": repeats,
        "cold_start": cold,
        "large": {
            **large,
            "later_median": _median_row(later) if later else None,
        },
    }


# ------------------------------------------------------------------------------ the report
def _ms(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


SERVER_STEPS = {
    "frame": "app.py + page frame + sidebar",
    "embed_search": "form + query embedding + search",
    "table_build": "results table built",
    "table_draw": "summary, best lines, table, download sent",
    "projection": "map projection (fit on first search, cached after)",
    "figure_build": "points + map figure built",
    "figure_draw": "map figure serialised + sent",
    "end": "rest of the page",
}


def markdown(result: dict) -> str:
    env, data = result["environment"], result["collection_file"]
    large, cold, fresh = result["large"], result["cold_start"], result["fresh_processes"]
    load = ", ".join(f"{v:.2f}" for v in env["load_average_at_start"])
    load_end = ", ".join(f"{v:.2f}" for v in result["load_average_at_end"])
    blas_env = ", ".join(f"{k}={v}" for k, v in env["env"].items())
    first = next(s for s in large["searches"] if s["first"])
    later = large["later_median"]
    n = data["docs"]
    lines = [
        "# The dashboard's own latency",
        "",
        f"Measured {result['measured']} by `{result['command']}` in headless Chromium "
        f"(viewport {result['viewport']['width']}×{result['viewport']['height']}, the whole "
        f"Search page in view) against a fresh `streamlit run app.py`; {env['cpu']}, "
        f"{env['cores']} cores. Load average (1, 5, 15 min) at the start: {load}; at the end: "
        f"{load_end}. BLAS environment: {blas_env}.",
        "",
        f"### Search on {n:,} documents × {data['dim']}",
        "",
        f"A saved collection file ({data['file_bytes'] / 2**20:,.0f} MB Parquet: synthetic "
        f"sentences, unit vectors around 50 topic centres, the offline model's spec) loaded "
        f"through the Upload page's *Load a saved collection* in {large['load_file_s']:.1f} s "
        f"(reading it back in one process: {data['read_back_s']:.1f} s).{_upload_note(result)}",
        "",
        "One query, k = 5, cosine, exact (float32); milliseconds from pressing Search:",
        "",
        f"| step | first search | later search (median of {len(large['searches']) - 1} by total) |",
        "| --- | ---: | ---: |",
    ]
    lines += _search_rows(first, later)
    pieces = result["server_pieces_ms"]
    lines += [
        "",
        "The same server-side steps called directly on this collection in one process (best of "
        f"{result.get('repeats', 3)}; the projection fit once; the map draws "
        f"{pieces['points drawn']:,} points, "
        f"{pieces['map JSON bytes'] / 2**20:.2f} MB of figure JSON):",
        "",
        "| step | ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {v:,.1f} |" for name, v in pieces.items() if name not in _PIECE_COUNTS]
    lines += [
        "",
        f"### Cold start: `streamlit run` to the first search on the sample "
        f"({cold['total_s']:.1f} s)",
        "",
        "| stage | seconds |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {s:.2f} |" for name, s in cold["stages_s"].items()]
    files = cold["home_page_files"]
    lines += [
        f"| **total** | **{cold['total_s']:.2f}** |",
        "",
        f"Home drawn includes the browser fetching {files['files']} files "
        f"({files['js_bytes'] / 2**20:.1f} MB of JavaScript, the last done "
        f"{files['last_done_ms'] / 1000:.1f} s after navigation started) and the server's first "
        "script run, which imports the app's modules.",
        "",
        "What the parts cost in fresh processes of their own (each import is what it adds to "
        "the ones above it):",
        "",
        "| part | seconds |",
        "| --- | ---: |",
        f"| Python interpreter start | {fresh['interpreter_start_s']:.2f} |",
    ]
    lines += [f"| import {i['module']} | {i['seconds']:.2f} |" for i in fresh["imports"]]
    model = fresh["model"]
    lines += [
        f"| offline model load + warm-up ({model['model']}) | {model['model_load_s']:.2f} |",
        f"| embed the 72 sample documents | {model['sample_embed_s']:.2f} |",
        f"| embed one query | {model['query_embed_s']:.3f} |",
        "",
        "First search on the sample (3 queries), milliseconds from pressing Search:",
        "",
        "| step | ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {v} |" for name, v, _ in _rows(cold["first_search"])]
    lines += ["", "### What dominates", "", *dominates(result), ""]
    return "\n".join(lines)


_PIECE_COUNTS = ("points drawn", "map JSON bytes")


def _upload_note(result: dict) -> str:
    data, limit = result["collection_file"], result["configured_upload_mb"]
    if data["file_bytes"] <= limit * 2**20:
        return ""
    per_doc = data["file_bytes"] / data["docs"]
    return (
        f" The file is larger than the app's {limit} MB upload limit (`server.maxUploadSize` in "
        f".streamlit/config.toml), so this run raised it to {result['max_upload_mb']} MB: with "
        f"the app's settings, a saved {data['dim']}-d collection of more than about "
        f"{limit * 2**20 / per_doc:,.0f} documents cannot be uploaded."
    )


def _rows(row: dict) -> list[tuple[str, str, float | None]]:
    out = [
        ("click → server run starts (websocket, rerun scheduling)",
         _ms(row["click_to_run_start_ms"]), row["click_to_run_start_ms"]),
    ]  # fmt: skip
    for key, label in SERVER_STEPS.items():
        if key in row["server_ms"]:
            out.append((f"server: {label}", _ms(row["server_ms"][key]), row["server_ms"][key]))
    out += [
        ("  of which query embedding", _ms(row["embed_ms"]), row["embed_ms"]),
        ("  of which search", f"{row['search_ms']:,.1f}", row["search_ms"]),
        ("server run ends", _ms(row["run_end_ms"]), row["run_end_ms"]),
        ("browser: server run end → results and map drawn", _ms(row["after_server_ms"]),
         row["after_server_ms"]),
        (f"(last websocket message, of {row['ws_messages']}: "
         f"{row['ws_bytes'] / 1024:,.0f} KiB in all)", _ms(row["last_ws_ms"]), row["last_ws_ms"]),
        ("(last Plotly redraw seen)", _ms(row["last_plotly_redraw_ms"]),
         row["last_plotly_redraw_ms"]),
        (f"(JavaScript fetched on demand: {row['js_fetched_bytes'] / 2**20:.1f} MB, done)",
         _ms(row["js_fetched_ms"] or None), row["js_fetched_ms"]),
        (f"(browser main thread busy in {row['long_tasks']} long tasks, in all)",
         _ms(row["long_tasks_ms"]), row["long_tasks_ms"]),
        ("**results and map drawn**", f"**{_ms(row['total_ms'])}**", row["total_ms"]),
    ]  # fmt: skip
    return out


def _search_rows(first: dict, later: dict | None) -> list[str]:
    # Paired by position: the labels carrying counts are the first search's.
    later_values = [v for _, v, _ in _rows(later)] if later else None
    rows = _rows(first)
    return [
        f"| {name} | {v} | {later_values[i] if later_values else '-'} |"
        for i, (name, v, _) in enumerate(rows)
    ]


def dominates(result: dict) -> list[str]:
    """A short explanation computed from the numbers (the largest parts, by name)."""
    large, cold, fresh = result["large"], result["cold_start"], result["fresh_processes"]
    out = []
    for label, row in (("first search", _first(large)), ("later search", large["later_median"])):
        if not row:
            continue
        parts = {
            "before the server run starts": row["click_to_run_start_ms"],
            **{f"server: {SERVER_STEPS[k]}": v for k, v in row["server_ms"].items()},
            "browser after the server's run": row["after_server_ms"],
        }
        top = sorted(parts.items(), key=lambda kv: -kv[1])[:3]
        share = ", ".join(f"{name} {v:,.0f} ms ({v / row['total_ms']:.0%})" for name, v in top)
        out.append(
            f"- **{result['collection_file']['docs']:,} documents, {label}** "
            f"({row['total_ms']:,.0f} ms): {share}. Query embedding {row['embed_ms']:,.0f} ms, "
            f"search {row['search_ms']:,.1f} ms."
        )
    first, later = _first(large), large["later_median"]
    pieces = result["server_pieces_ms"]
    out.append(
        f"- Once per session: the first search fetches Plotly's JavaScript "
        f"({first['js_fetched_bytes'] / 2**20:.1f} MB, parsed and compiled on the page's main "
        f"thread) and fits the map's projection "
        f"({pieces['map projection fit (PCA, once per session)']:,.0f} ms in one process)."
    )
    if later:
        out.append(
            f"- On every search: the whole map is rebuilt and re-sent "
            f"({pieces['points drawn']:,} points, {pieces['map JSON bytes'] / 2**20:.2f} MB of "
            f"JSON; building the figure takes {pieces['map figure built (projection_figure)']:,.0f}"
            f" ms in one process) and Plotly redraws it (the page's main thread spends "
            f"{later['long_tasks_ms']:,.0f} ms in long tasks). The download button's file name "
            f"(`download_name`) costs {pieces['download file name (download_name)']:,.0f} ms; "
            f"the search itself {pieces['search (k = 5, cosine, exact)']:,.0f} ms."
        )
    stages = cold["stages_s"]
    top = sorted(stages.items(), key=lambda kv: -kv[1])[:2]
    imports = sorted(fresh["imports"], key=lambda i: -i["seconds"])[:3]
    out.append(
        f"- **Cold start** ({cold['total_s']:.1f} s): "
        + ", ".join(f"{name} {s:.1f} s" for name, s in top)
        + ". The largest imports: "
        + ", ".join(f"{i['module']} {i['seconds']:.2f} s" for i in imports)
        + f"; the offline model loads in {fresh['model']['model_load_s']:.2f} s and embeds the "
        f"sample in {fresh['model']['sample_embed_s']:.2f} s. Home drawn is the server's first "
        "script run, which imports the app (the import rows above), while the same process "
        "serves the page's web files."
    )
    env = result["environment"]
    out.append(
        f"- The load average was {env['load_average_at_start'][0]:.1f} at the start on "
        f"{env['cores']} cores: other processes shared the CPU, so every figure is inflated; "
        "compare the parts within this run."
    )
    return out


def _first(large: dict) -> dict:
    return next(s for s in large["searches"] if s["first"])


def write(result: dict, out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "DASHBOARD.md").write_text(markdown(result), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.bench._dashboard", description=__doc__)
    p.add_argument("--docs", type=int, default=100_000, help="documents in the large collection")
    p.add_argument("--dim", type=int, default=512, help="their dimension (the offline model's)")
    p.add_argument("--searches", type=int, default=6, help="searches on it (the first is cold)")
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per import timing")
    p.add_argument("--out", type=Path, default=OUT, help="where the two result files go")
    args = p.parse_args(argv)
    if not chromium_available():
        print(f"Chromium ({CHROMIUM}) and Playwright are needed", file=sys.stderr)
        return 2
    result = run(args.docs, args.dim, args.searches, args.repeats)
    write(result, args.out)
    print((args.out / "DASHBOARD.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
