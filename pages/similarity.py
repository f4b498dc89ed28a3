"""Similarity matrix: heatmaps of queries × documents or documents × documents, per-query top-5,
and near-duplicate pairs above a threshold."""

import numpy as np
import streamlit as st

from core.errors import EmbeddingJobError
from core.search import get_metric, metric_names, similarity_matrix
from core.services import (
    format_score,
    no_pairs_message,
    pairs_heading,
    parse_queries,
    too_many_pairs_note,
)
from core.viz import similarity_heatmap
from ui import cache, state
from ui.display import show_figure
from ui.frame import page_frame
from ui.jobs import embed_queries
from ui.search import duplicate_pairs
from ui.similarity import choose_documents, matrix_table, ordered, render_downloads
from ui.tables import pairs_table, results_table, score_config
from ui.text import md

MAX_DOCS = 60

page_frame()
st.title("Similarity matrix")
collection = state.collection()
if collection is None:
    st.info("No collection yet. Load the sample corpus on **Home** or embed files first.")
    st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
    st.stop()

last = state.get(state.SEARCH_RESULT)
if state.get(state.SIM_QUERIES) is None:  # start from the last search, or the Search box
    searched = "\n".join(last.queries) if last else state.get(state.SEARCH_QUERIES)
    st.session_state[state.SIM_QUERIES] = searched

left, right = st.columns([2, 1])
with left:
    mode = st.radio(
        "Compare",
        ["Queries × documents", "Documents × documents"],
        horizontal=True,
        key="sim_mode",
    )
    if mode == "Queries × documents":
        st.text_area(
            "Queries, one per line",
            key=state.bind(state.SIM_QUERIES),
            on_change=state.store,
            args=(state.SIM_QUERIES,),
            height=110,
        )
with right:
    method = st.radio("Method", metric_names(), horizontal=True, key="sim_method")
    if mode == "Queries × documents":
        n_docs = st.slider(
            "Documents shown",
            2,
            min(MAX_DOCS, len(collection)),
            min(20, len(collection)),
            key="sim_n_docs_q",
        )
    else:
        by_similarity = st.toggle(
            "Order by similarity",
            value=True,
            key="sim_order",
            help="Hierarchical clustering order: similar documents sit together, so groups "
            "show as bright blocks along the diagonal.",
        )
if mode == "Documents × documents":
    doc_ids = choose_documents(collection, last)

queries = parse_queries(state.get(state.SIM_QUERIES) or "")
vectors = collection.embeddings
if mode == "Queries × documents":
    if not queries:
        st.warning("Type at least one query, or switch to Documents × documents.")
        st.stop()
    try:
        query_vectors = embed_queries(queries, cache.embedder_for(collection.spec)).vectors
    except (cache.MissingKeyError, EmbeddingJobError) as exc:
        st.error(f"Could not embed the queries: {md(exc)}")
        st.stop()
    top_ids, top_scores = collection.search(query_vectors, 5, method)
    # Show the documents the queries found first, then fill up with the rest in order.
    found = list(dict.fromkeys(int(i) for i in top_ids.ravel()))
    doc_ids = (found + [i for i in range(len(collection)) if i not in set(found)])[:n_docs]
    matrix = similarity_matrix(query_vectors, vectors[doc_ids], method)
    fig = similarity_heatmap(matrix, queries, [collection.texts[i] for i in doc_ids], method=method)
else:
    if len(doc_ids) < 2:
        st.warning("Choose at least two documents.")
        st.stop()
    doc_ids, matrix = ordered(doc_ids, vectors, method, by_similarity)
    texts = [collection.texts[i] for i in doc_ids]
    fig = similarity_heatmap(
        matrix,
        texts,
        texts,
        method=method,
        row_title="documents",
        col_title="documents",
        row_ids=doc_ids,
        col_ids=doc_ids,
    )
show_figure(fig, key="sim_heatmap")
st.caption(
    f"{matrix.shape[0]} × {matrix.shape[1]} {method} "
    f"{'distances' if get_metric(method).is_distance else 'similarities'}; "
    "hover a cell for both texts. "
    f"Values range from {format_score(np.min(matrix))} to {format_score(np.max(matrix))}."
)

if mode == "Documents × documents":
    render_downloads(collection, matrix_table(matrix, doc_ids, texts), fig, method)
else:
    st.subheader("Top 5 per query (whole collection)")
    table = results_table(collection, queries, top_ids, top_scores, method)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="sim_top5",
        column_config=score_config(method),
    )

st.subheader("Near-duplicate pairs")
# Near-duplicates sit near 1 (distance near 0); the full range lets a collection of merely
# related texts be explored too. A loose threshold lists the strongest pairs (the count says
# how many pass) instead of failing; when none pass, the message says where the closest is.
if get_metric(method).is_distance:
    threshold = st.slider("Distance at most", 0.0, 2.0, 0.35, 0.01, key="sim_dup_dist")
else:
    threshold = st.slider("Similarity at least", 0.0, 1.0, 0.9, 0.01, key="sim_dup_sim")
found = duplicate_pairs(collection.manifest.content_hash, method, float(threshold), collection)
if found.pairs:
    st.write(pairs_heading(method, float(threshold), found))
    if note := too_many_pairs_note(method, found):
        st.caption(note)
    st.dataframe(
        pairs_table(collection, found.pairs, method),
        hide_index=True,
        width="stretch",
        column_config=score_config(method),
    )
else:
    st.info(no_pairs_message(method, float(threshold), found.best))
