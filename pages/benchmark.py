"""Benchmark: live, configurable timings of what makes batch embedding search fast."""

import streamlit as st

from core.errors import BudgetExceededError
from core.services import csv_bytes, download_name
from ui import state
from ui.benchmarks import (
    COLLECTION_DRAW,
    METHOD_NOTE,
    SCALING_SIZES,
    SUITES,
    BenchConfig,
    busy_note,
    caption,
    combined_table,
    run_on_collection,
)
from ui.budget import process_budget
from ui.display import show_figure
from ui.frame import page_frame
from ui.text import md

page_frame()
st.title("Benchmark")
st.write(METHOD_NOTE)

with st.form("bench_form"):
    cols = st.columns(5)
    n_docs = cols[0].number_input("Documents", 100, 200_000, 20_000, step=1_000, key="b_docs")
    dim = cols[1].selectbox("Dimension", [128, 256, 384, 512, 768, 1024, 1536], 2, key="b_dim")
    k = cols[2].number_input("k", 1, 100, 10, key="b_k")
    # No help tooltip: its "Help for Repeats" button would share the label (the browser tests
    # find this box by label); the method note above says what Repeats means.
    repeats = cols[3].number_input("Repeats", 1, 50, BenchConfig.min_samples, key="b_repeats")
    n_queries = cols[4].number_input("Queries", 1, 256, 16, key="b_queries")
    chosen = st.multiselect(
        "Benchmarks",
        list(SUITES),
        default=list(SUITES),
        format_func=lambda name: SUITES[name].title,
        key="b_suites",
    )
    sizes = st.multiselect(
        "Corpus sizes for the scaling curve",
        SCALING_SIZES,
        default=[1_000, 5_000, 20_000, 50_000],
        format_func=lambda n: f"{n:,}",
        key="b_sizes",
    )
    on_collection = st.checkbox(
        "Also run on the current collection",
        value=state.collection() is not None,
        disabled=state.collection() is None,
        key="b_on_collection",
    )
    submitted = st.form_submit_button("Run benchmarks", type="primary")

config = BenchConfig(int(n_docs), int(dim), int(k), int(repeats), int(n_queries), tuple(sizes))
if submitted:
    if "scaling" in chosen and not sizes:
        st.error("Choose at least one corpus size for the scaling curve, or untick Scaling.")
    elif problems := config.problems():
        for problem in problems:
            st.error(problem)
    else:
        try:  # the arrays are reserved in the app's shared memory budget while they exist
            with process_budget().reserving(config.peak_bytes(), "these benchmarks"):
                results = {}
                with st.status("Running benchmarks…", expanded=True) as status:
                    bar = st.progress(0.0)
                    for name in chosen:
                        status.update(label=f"Running: {SUITES[name].title}…")

                        def report(
                            fraction: float, message: str, title: str = SUITES[name].title
                        ) -> None:
                            bar.progress(fraction, text=f"{title}: {message}")

                        results[name] = SUITES[name].run(config, report)
                        st.write(f"✓ {SUITES[name].title}")
                    if on_collection and state.collection() is not None:
                        status.update(label="Running on the current collection…")
                        results |= run_on_collection(state.collection().embeddings, config)
                        st.write("✓ current collection")
                    status.update(label="Benchmarks finished", state="complete", expanded=False)
                state.put(state.BENCH_RESULTS, results)
                state.put(state.BENCH_CONFIG, config)
        except BudgetExceededError as exc:
            st.error(md(exc))

results = state.get(state.BENCH_RESULTS)
measured = state.get(state.BENCH_CONFIG)
if not results:
    st.info("Choose the sizes above and press **Run benchmarks**. A default run takes 10–20 s.")
    st.stop()

st.caption(caption(measured))
for name, table in results.items():
    suite = SUITES.get(name)
    title = suite.title if suite else name.replace("_", " ").capitalize()
    st.subheader(title)
    if suite:
        st.caption(suite.description)
        if problems := suite.check(table):
            st.warning(busy_note(problems))
    draws = suite.draw if suite else COLLECTION_DRAW[name]
    for column, draw in zip(st.columns(len(draws)), draws, strict=True):
        with column:
            show_figure(draw(table), key=f"bench_fig_{name}_{draws.index(draw)}")
    st.dataframe(table, hide_index=True, width="stretch")

st.download_button(
    "Download all results (CSV)",
    csv_bytes(combined_table(results)),  # UTF-8 with BOM: Excel reads it right
    # Named after the collection when the run measured it, else "collection-…" like the others.
    download_name(
        state.collection() if set(results) & set(COLLECTION_DRAW) else None,
        "benchmark results",
        "csv",
    ),
    "text/csv",
    key="bench_download",
    on_click="ignore",
)
