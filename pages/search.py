"""Search: one query or many, cosine / euclidean / dot, top-k, memory modes, and a 2-D map of
the corpus where a click shows a document's nearest neighbours."""

import streamlit as st

from core.batching import EmbeddingJobError
from core.figures import points_to_draw, projection_figure, selected_document
from ui import cache, state
from ui.display import show_figure
from ui.frame import page_frame
from ui.search import MEMORY_MODES, RECALL_K, neighbours, parse_queries, run_search
from ui.tables import display_scores, results_table, score_column

page_frame()
st.title("Search")
collection = state.collection()
if collection is None:
    st.info("No collection yet. Load the sample corpus on **Home** or embed files first.")
    st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
    st.stop()

m = collection.manifest
st.caption(f"Searching {m.count:,} documents × {m.dimension} dimensions embedded with {m.model}.")
with st.form("search_form"):
    st.text_area("Queries, one per line", key=state.bind(state.SEARCH_QUERIES), height=110)
    cols = st.columns([2, 1, 2])
    method = cols[0].radio(
        "Method", ["cosine", "euclidean", "dot"], horizontal=True, key="s_method"
    )
    k = cols[1].number_input("k", 1, min(100, len(collection)), min(5, len(collection)), key="s_k")
    mode = cols[2].selectbox(
        "Memory mode",
        MEMORY_MODES,
        key="s_mode",
        format_func=lambda x: "float32 (exact)" if x == "float32" else f"{x} (compressed)",
    )
    submitted = st.form_submit_button(
        "Search", type="primary", on_click=state.store, args=(state.SEARCH_QUERIES,)
    )

if submitted:
    queries = parse_queries(st.session_state[state.SEARCH_QUERIES])
    if not queries:
        st.error("Type at least one query (one per line).")
    else:
        try:
            result = run_search(collection, queries, method=method, k=int(k), mode=mode)
        except (cache.MissingKeyError, EmbeddingJobError) as exc:
            st.error(f"Could not embed the queries: {exc}")
        else:
            state.put(state.SEARCH_RESULT, result)

result = state.get(state.SEARCH_RESULT)
if result is None:
    st.info("Type one or more queries and press **Search**.")
    st.stop()

cols = st.columns(4)
cols[0].metric("Search latency", f"{result['search_ms']:.2f} ms")
cols[1].metric("Query embedding", f"{result['embed_ms']:.0f} ms")
cols[2].metric(f"Index memory ({result['mode']})", f"{result['memory_mb']:.2f} MB")
recall = result["recall"]
cols[3].metric(
    f"Recall@{RECALL_K} vs exact", "1.000 (exact)" if recall is None else f"{recall:.3f}"
)

table = results_table(
    collection, result["queries"], result["ids"], result["scores"], result["method"]
)
column = score_column(result["method"])
for q, query in enumerate(result["queries"]):
    best = table[(table["query"] == query) & (table["rank"] == 1)].iloc[0]
    st.markdown(
        f"**Q{q + 1}** {query}  \n→ **Top result** ({column} {best[column]:.3f}): {best['text']}"
    )

st.dataframe(
    table.drop(columns=["doc"]),
    hide_index=True,
    width="stretch",
    column_config={column: st.column_config.NumberColumn(format="%.4f")},
)
st.download_button(
    "Download results (CSV)",
    table.to_csv(index=False).encode("utf-8"),
    "search-results.csv",
    "text/csv",
    key="search_download",
    on_click="ignore",
)

st.subheader("Map of the corpus")
proj_method = st.radio(
    "Projection",
    ["pca", "random"],
    horizontal=True,
    key="s_projection",
    format_func=lambda x: {"pca": "PCA (SVD)", "random": "Random projection"}[x],
)
projection = cache.projection(m.content_hash, proj_method, collection.embeddings)
picked = st.session_state.get("s_map", {}).get("selection", {}).get("points", [])
selected = selected_document(picked)
near_ids, near_scores = (None, None)
if selected is not None and selected < len(collection):
    near_ids, near_scores = neighbours(collection, selected, result["k"], result["method"])
hit_ids = [list(map(int, row)) for row in result["ids"]]
must = [i for row in hit_ids for i in row] + ([selected, *near_ids] if selected is not None else [])
drawn = points_to_draw(len(collection), must)
doc_xy = projection.transform(collection.embeddings[drawn])
fig = projection_figure(
    doc_xy,
    [collection.texts[i] for i in drawn],
    doc_ids=drawn,
    query_xy=projection.transform(result["vectors"]),
    query_texts=result["queries"],
    hit_ids=hit_ids,
    selected=selected,
    neighbour_ids=None if near_ids is None else near_ids.tolist(),
    axis_titles=tuple(
        f"{proj_method.upper()} {i + 1} ({r:.0%} of variance)"
        for i, r in enumerate(projection.explained_variance_ratio[:2])
    ),
)
show_figure(fig, key="s_map", selectable=True)
st.caption(
    f"{len(drawn):,} of {len(collection):,} documents drawn. Click a point for its neighbours."
)

if selected is not None and near_ids is not None:
    st.markdown(f"**Nearest neighbours of #{selected}:** {collection.texts[selected]}")
    shown = display_scores(near_scores, result["method"])
    st.dataframe(
        {"doc": near_ids, column: shown, "text": [collection.texts[i] for i in near_ids]},
        hide_index=True,
        width="stretch",
    )
