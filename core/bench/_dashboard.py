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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.bench._app_server import CHROMIUM, app_env, streamlit_app
from core.bench._dashboard_browser import (
    SETTLE_MS,
    TIMEOUT_MS,
    VIEWPORT,
    _epoch_ms,
    _probe,
    _wait_idle,
    breakdown,
    chromium,
    new_tab,
    search_once,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"
SERVER_START_TIMEOUT_S = 120


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
    """:func:`app_env` with this checkout importable (the fresh-process measurements run
    ``python -c``, not from the repository's folder)."""
    env = app_env(**extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
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
    timings = workdir / "timings.jsonl"
    env = _child_env(
        EMBEDDING_WORKBENCH_CACHE_DIR=str(workdir / "cache"), WORKBENCH_TIMINGS=str(timings)
    )
    options = ("--server.maxUploadSize", str(max_upload_mb))
    with streamlit_app(env, *options, timeout_s=SERVER_START_TIMEOUT_S) as app:
        yield Server(app.url, app.launched, app.ready, timings, app.log)


# ----------------------------------------------------------------------------- the browser


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
# The Markdown report lives in core.bench._dashboard_report.


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


_PIECE_COUNTS = ("points drawn", "map JSON bytes")


def write(result: dict, out: Path = OUT) -> None:
    from core.bench._dashboard_report import markdown

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
