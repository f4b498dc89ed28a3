"""Search: one query or many, cosine / euclidean / dot, top-k, memory modes, and a 2-D map of
the corpus where a click shows a document's nearest neighbours."""

import streamlit as st

from core.errors import EmbeddingJobError
from core.search import metric_names
from core.services import (
    MEMORY_MODES,
    clamp_k,
    csv_bytes,
    download_name,
    mode_label,
    neighbours,
    parse_queries,
    previous_note,
)
from core.viz import points_to_draw, projection_figure, selected_document
from ui import cache, state
from ui.cluster import search_section as cluster_search_section
from ui.display import show_figure
from ui.filters import FilterRefused, check_filter, filter_input
from ui.frame import page_frame
from ui.search import is_previous, run_search, show_best, show_summary
from ui.tables import neighbours_table, results_table, score_config
from ui.text import md
from ui.timings import laps

lap = laps("search")  # no-op unless WORKBENCH_TIMINGS is set (the dashboard benchmark)

page_frame()
lap("frame")
st.title("Search")
cluster_search_section()  # only where the operator configured a Dask cluster
collection = state.collection()
if collection is None:
    st.info("No collection yet. Load the sample corpus on **Home** or embed files first.")
    st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
    st.stop()

m = collection.manifest
st.caption(
    f"Searching {m.count:,} documents × {m.dimension} dimensions embedded with {md(m.model)}."
)
with st.form("search_form"):
    st.text_area("Queries, one per line", key=state.bind(state.SEARCH_QUERIES), height=110)
    cols = st.columns([2, 1, 2])
    method = cols[0].radio("Method", metric_names(), horizontal=True, key="s_method")
    # No bounds on the box: a bounded box turns red on 0 or 100 and Search then does nothing;
    # out-of-range values are brought into range below, and the page says so.
    k = cols[1].number_input("k", value=min(5, len(collection)), step=1, key="s_k")
    mode = cols[2].selectbox(
        "Memory mode",
        MEMORY_MODES,
        key="s_mode",
        format_func=mode_label,
    )
    filter_text = filter_input(collection, key="s_where")
    submitted = st.form_submit_button(
        "Search", type="primary", on_click=state.store, args=(state.SEARCH_QUERIES,)
    )

if submitted:
    queries = parse_queries(st.session_state[state.SEARCH_QUERIES])
    failed = True  # this request did not search: what stays on screen is the previous search
    if not queries:
        st.error("Type at least one query (one per line).")
    else:
        k, k_note = clamp_k(int(k), len(collection))
        if k_note:
            st.warning(k_note)
        try:
            where = check_filter(collection, filter_text)
            result = run_search(collection, queries, method=method, k=k, mode=mode, where=where)
        except FilterRefused:
            pass  # the reason is on screen
        except (cache.MissingKeyError, EmbeddingJobError) as exc:
            st.error(f"Could not embed the queries: {md(exc)}")
        else:
            state.put(state.SEARCH_RESULT, result)
            failed = False
    if failed and state.get(state.SEARCH_RESULT) is not None:
        state.put(state.SEARCH_RESULT, state.get(state.SEARCH_RESULT).as_previous())
lap("embed_search")

result = state.get(state.SEARCH_RESULT)
if result is None:
    st.info("Type one or more queries and press **Search**.")
    st.stop()
# Labelled until a search succeeds: on this run and on any rerun (a map click, a page change).
if is_previous(result, state.get(state.SEARCH_QUERIES) or ""):
    st.info(md(previous_note(result)), icon=":material/history:")

show_summary(result)
if result.n_passing < result.n_docs:
    st.caption(f"Metadata filter: {result.n_passing:,} of {result.n_docs:,} documents pass.")
table = results_table(collection, result.queries, result.ids, result.scores, result.method)
lap("table_build")
show_best(result, table)
st.dataframe(
    table.drop(columns=["doc"]),
    hide_index=True,
    width="stretch",
    column_config=score_config(result.method),
)
st.download_button(
    "Download results (CSV)",
    csv_bytes(table),
    download_name(collection, "search results", "csv"),
    "text/csv",
    key="search_download",
    on_click="ignore",
)
lap("table_draw")

st.subheader("Map of the corpus")
st.page_link("pages/map.py", label="UMAP / t-SNE, clusters, colours and selection: the Map page")
proj_method = st.radio(
    "Projection",
    ["pca", "random"],
    horizontal=True,
    key="s_projection",
    format_func=lambda x: {"pca": "PCA (SVD)", "random": "Random projection"}[x],
)
projection = cache.projection(m.content_hash, proj_method, collection.embeddings)
lap("projection")
picked = st.session_state.get("s_map", {}).get("selection", {}).get("points", [])
selected = selected_document(picked)
near_ids, near_scores = (None, None)
if selected is not None and selected < len(collection):
    near_ids, near_scores = neighbours(collection, selected, result.k, result.method)
hit_ids = [list(map(int, row)) for row in result.ids]
must = [i for row in hit_ids for i in row] + ([selected, *near_ids] if selected is not None else [])
drawn = points_to_draw(len(collection), must)
doc_xy = projection.transform(collection.embeddings[drawn])
fig = projection_figure(
    doc_xy,
    [collection.texts[i] for i in drawn],
    doc_ids=drawn,
    query_xy=projection.transform(result.vectors),
    query_texts=result.queries,
    hit_ids=hit_ids,
    selected=selected,
    neighbour_ids=None if near_ids is None else near_ids.tolist(),
    axis_titles=projection.axis_titles()[:2],
)
lap("figure_build")
show_figure(fig, key="s_map", selectable=True)
lap("figure_draw")
st.caption(
    f"{len(drawn):,} of {len(collection):,} documents drawn. Click a point for its neighbours."
)

if selected is not None and near_ids is not None:
    st.markdown(f"**Nearest neighbours of #{selected}:** {md(collection.texts[selected])}")
    st.dataframe(
        neighbours_table(collection, near_ids, near_scores, result.method),
        hide_index=True,
        width="stretch",
        column_config=score_config(result.method),
        key="s_neighbours",
    )
lap.done(submitted=bool(submitted), embed_ms=result.embed_ms, search_ms=result.search_ms)
