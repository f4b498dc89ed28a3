"""The Similarity page's documents × documents glue: which documents, in which order, and the
matrix and figure to download."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.search import similarity_matrix
from core.services import csv_bytes, download_name
from core.viz import seriation_order, truncate_label

MAX_DOCS = 150
SEARCH, SAMPLE, CHOSEN, FIRST = (
    "The last search's results",
    "A random sample",
    "Documents I choose",
    "The first documents",
)


def choose_documents(collection, last_search) -> list[int]:
    """Widgets for which documents the documents × documents heatmap shows; their numbers."""
    n = len(collection)
    sources = [SAMPLE, CHOSEN, FIRST]
    if last_search is not None:
        sources.insert(0, SEARCH)
    c1, c2 = st.columns([2, 3])
    source = c1.selectbox("Documents", sources, key="sim_doc_source")
    if source == SEARCH:
        ids = list(dict.fromkeys(int(i) for i in np.asarray(last_search.ids).ravel()))
        c2.caption(
            f"{len(ids)} document(s) found by the last search ({len(last_search.queries)} "
            f"quer{'y' if len(last_search.queries) == 1 else 'ies'}, k = {last_search.k})."
        )
        return ids[:MAX_DOCS]
    if source == CHOSEN:
        picked = c2.multiselect(
            "Choose documents",
            range(n),
            default=list(range(min(8, n))),
            format_func=lambda i: f"#{i} {truncate_label(collection.texts[i], 60)}",
            max_selections=MAX_DOCS,
            key="sim_doc_picked",
        )
        return sorted(int(i) for i in picked)
    count = c2.slider("How many", 2, min(MAX_DOCS, n), min(40, n), key="sim_n_docs")
    if source == SAMPLE:
        seed = c2.number_input("Sample seed", 0, 1_000_000, 0, key="sim_seed")
        rng = np.random.default_rng(int(seed))
        return sorted(int(i) for i in rng.choice(n, size=count, replace=False))
    return list(range(count))


def ordered(doc_ids: list[int], vectors: np.ndarray, method: str, by_similarity: bool):
    """``(doc_ids, matrix)`` with rows and columns in seriation order when ``by_similarity``."""
    matrix = similarity_matrix(vectors[doc_ids], None, method)
    if by_similarity and len(doc_ids) > 2:
        order = seriation_order(matrix, higher_is_better=method != "euclidean")
        doc_ids = [doc_ids[i] for i in order]
        matrix = matrix[np.ix_(order, order)]
    return doc_ids, matrix


def matrix_table(matrix: np.ndarray, doc_ids: list[int], texts: list[str]) -> pd.DataFrame:
    """The shown matrix with its documents: ``doc``, ``text``, then one column per ``#id``."""
    table = pd.DataFrame(matrix, columns=[f"#{i}" for i in doc_ids])
    table.insert(0, "text", texts)
    table.insert(0, "doc", doc_ids)
    return table


def render_downloads(collection, table: pd.DataFrame, fig: go.Figure, method: str) -> None:
    """Download the matrix (CSV, UTF-8 with BOM) and the figure (interactive HTML, offline)."""
    row = st.container(horizontal=True)
    row.download_button(
        "Download the matrix (CSV)",
        csv_bytes(table),
        download_name(collection, f"{method}-matrix", "csv"),
        "text/csv",
        key="sim_dl_csv",
        icon=":material/download:",
        on_click="ignore",
    )
    row.download_button(
        "Download the figure (HTML)",
        lambda: fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8"),
        download_name(collection, f"{method}-heatmap", "html"),
        "text/html",
        key="sim_dl_html",
        help="Interactive, works offline. For a PNG, use the camera icon above the chart.",
        icon=":material/download:",
        on_click="ignore",
    )
