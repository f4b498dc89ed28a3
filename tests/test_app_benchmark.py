"""Benchmark page: a small live run draws every chart and table; bad sizes are refused;
results that contradict the expected order come with a warning to re-run."""

from __future__ import annotations

import codecs
import io
import re

import pandas as pd
import pytest

from core.bench import _live as live_bench
from core.search import _kernels as kernels
from tests.app_support import assert_ok, charts, load_sample, new_app, open_page, trace_names

RUN = "FormSubmitter:bench_form-Run benchmarks"


def small_run(at, **overrides):
    """Configure a run that takes about a second and start it."""
    settings = {"b_docs": 1_000, "b_repeats": 1, "b_queries": 4} | overrides
    for key, value in settings.items():
        at.number_input(key=key).set_value(value)
    at.selectbox(key="b_dim").set_value(128)
    at.multiselect(key="b_sizes").set_value([1_000, 2_000])
    # The run times FAISS, the one-shot engine and builds an HNSW graph too: on a busy shared
    # machine that takes longer than the default 60 s.
    at.button(key=RUN).click().run(timeout=240)
    assert_ok(at)
    return at


@pytest.fixture(scope="module")
def benchmarked():
    return small_run(open_page(new_app(), "benchmark"))


def test_page_invites_a_run():
    at = open_page(new_app(), "benchmark")
    assert "press **Run benchmarks**" in at.info[0].value
    # BLAS is single-threaded, but the engine's own searches still use its worker threads.
    (note,) = [m.value for m in at.markdown if "BLAS runs on one thread" in m.value]
    assert (
        f"**{live_bench.ENGINE}** (in *Search time vs corpus size*), the memory modes and the "
        "searches on your collection split a large scan across the engine's worker threads — "
        f"up to {kernels.n_workers()} here, one per usable core (at most 8) — each with "
        "single-threaded BLAS" in note
    )
    assert not at.get("plotly_chart")
    assert at.checkbox(key="b_on_collection").disabled  # no collection yet


def test_every_benchmark_draws_its_charts_and_table(benchmarked):
    figures = charts(benchmarked)
    titles = [f["layout"]["title"]["text"] for f in figures]
    assert titles == [
        "Time per document",
        "Search time",
        "Corpus memory",
        "Top-k selection time",
        "Search time vs corpus size",
        "Memory vs recall (exact float32 search = 1.0)",
        "Search time per memory mode",
    ]
    loop, *_ = figures
    assert list(loop["data"][0]["x"]) == [
        "vectorised (corpus @ query)",
        "Python loop of np.dot",
        "pure-Python loop",
    ]
    scaling = figures[4]
    assert "Python loop of np.dot" in trace_names(scaling)
    assert scaling["layout"]["xaxis"]["type"] == "log"
    # Log axes carry whole-number labels at chosen ticks, not Plotly's "2, 5" minor labels.
    assert scaling["layout"]["xaxis"]["ticktext"] == ["1,000", "2,000"]
    for axis in (loop["layout"]["yaxis"], scaling["layout"]["yaxis"]):
        assert axis["tickmode"] == "array"
        labels = [float(label.replace(",", "")) for label in axis["ticktext"]]
        assert labels == pytest.approx(axis["tickvals"])
    tables = [df.value for df in benchmarked.dataframe]
    assert len(tables) == 5
    for table in tables:  # every timing with its spread and sample count, for the CSV too
        assert {"median_ms", "min_ms", "q1_ms", "q3_ms", "samples"} <= set(table.columns)
        assert (table["samples"] >= 1).all()
    dtype_table = tables[1].set_index("dtype")
    assert dtype_table.loc["float64", "memory_mb"] == pytest.approx(
        2 * dtype_table.loc["float32", "memory_mb"]
    )
    assert list(tables[4]["mode"]) == ["float32", "float16", "int8", "binary", "hnsw"]
    assert tables[4].loc[0, "recall_at_k"] == pytest.approx(1.0)
    assert (tables[4]["build_s"] >= 0).all()
    # The scaling table names what it timed: the prepared engine beside the one-shot call
    # and FAISS, and the page says what each line measures.
    assert {live_bench.ENGINE, live_bench.ENGINE_ONE_SHOT, live_bench.FAISS_FLAT} <= set(
        tables[3]["variant"]
    )
    captions = [c.value for c in benchmarked.caption]
    for name, what in live_bench.SCALING_LINES.items():
        assert any(f"**{name}**: {what}" in c for c in captions)
    assert any("int8 and binary can be slower than float32" in c for c in captions)
    assert benchmarked.caption[0].value == (
        "Measured with 1,000 documents × 128 dimensions, k = 10, 4 queries, "
        "at least 1 timed run per measurement."
    )
    button = benchmarked.get("download_button")[0]
    assert button.proto.label == "Download all results (CSV)"


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """File name -> bytes of every download the page hands Streamlit's real media storage."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    stored = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        stored[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return stored


def csv_downloads(stored: dict) -> list[str]:
    return [name for name in stored if name and name.endswith(".csv")]


def test_results_download_is_utf8_with_bom_named_after_the_time(benchmarked, downloads):
    stored = downloads
    benchmarked.run()  # the kept results are drawn again, the download with them
    assert_ok(benchmarked)
    names = csv_downloads(stored)
    assert len(names) == 1, stored.keys()
    # No collection was measured: the synthetic run is named like every other download.
    assert re.fullmatch(r"collection-benchmark-results-\d{4}-\d\d-\d\d-\d{4}\.csv", names[0])
    data = stored[names[0]]
    assert data.startswith(codecs.BOM_UTF8)
    table = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert {"benchmark", "median_ms"} <= set(table.columns), table.columns


def test_results_survive_a_rerun_without_recomputing(benchmarked):
    before = benchmarked.session_state["bench_results"]
    benchmarked.run()
    assert benchmarked.session_state["bench_results"] is before
    assert len(charts(benchmarked)) == 7


def test_run_on_the_current_collection(downloads):
    at = open_page(load_sample(new_app()), "benchmark")
    assert at.checkbox(key="b_on_collection").value
    at.multiselect(key="b_suites").set_value(["topk"])
    small_run(at)
    titles = [f["layout"]["title"]["text"] for f in charts(at)]
    assert titles == [
        "Top-k selection time",
        "Search time per query on the collection",
        "Memory vs recall (exact float32 search = 1.0)",
    ]
    methods = at.dataframe[1].value
    assert list(methods["method"]) == ["cosine", "dot", "euclidean"]
    assert (methods["n_docs"] == 72).all()
    (name,) = csv_downloads(downloads)  # the run measured the collection: named after it
    assert name.startswith("sample-benchmark-results-"), name


def test_too_large_a_corpus_is_refused_before_running():
    at = open_page(new_app(), "benchmark")
    at.number_input(key="b_docs").set_value(200_000)
    at.selectbox(key="b_dim").set_value(1536)
    at.button(key=RUN).click().run()
    assert_ok(at)
    assert "the limit is 50,000,000" in at.error[0].value
    assert not at.get("plotly_chart")


def test_scaling_without_sizes_is_refused():
    at = open_page(new_app(), "benchmark")
    at.multiselect(key="b_sizes").set_value([])
    at.button(key=RUN).click().run()
    assert_ok(at)
    assert "Choose at least one corpus size" in at.error[0].value


def test_contradictory_results_come_with_a_warning_to_rerun(monkeypatch):
    """The reviewer's numbers (vectorised slower than the loop) are flagged, not just drawn."""
    busy = pd.DataFrame(
        {
            "variant": [live_bench.VECTORISED, live_bench.NUMPY_LOOP, live_bench.PURE_PYTHON],
            "n_docs": [2_000, 2_000, 2_000],
            "median_ms": [4.73, 3.81, 90.0],
            "min_ms": [0.05, 1.7, 80.0],
            "q1_ms": [0.06, 1.8, 85.0],
            "q3_ms": [9.0, 4.0, 95.0],
            "samples": [1, 1, 1],
            "us_per_doc": [2.365, 1.905, 45.0],
            "slowdown_vs_vectorised": [1.0, 0.81, 19.0],
        }
    )
    monkeypatch.setattr(live_bench, "vectorised_vs_loop", lambda *a, **kw: busy)
    at = open_page(new_app(), "benchmark")
    at.multiselect(key="b_suites").set_value(["loop"])
    small_run(at, b_queries=1)
    (warning,) = at.warning
    assert "contradict the expected order" in warning.value
    assert f"{live_bench.VECTORISED}: 2.37 µs per document" in warning.value
    assert "Run the benchmark again" in warning.value
    assert len(charts(at)) == 1  # the numbers are still shown, with the warning above them
    assert "1 query, at least 1 timed run per measurement." in at.caption[0].value
