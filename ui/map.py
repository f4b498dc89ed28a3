"""Streamlit glue for the Map page: controls, the session's map cache, filters, selection.

The map of a collection is computed once per content hash + parameters and kept in this
session's state (at most :data:`MAX_MAPS`, least recently used dropped), never in a cache another
session could read; while it runs a progress bar says what is happening.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd
import streamlit as st

from core.data._collection import Collection
from core.data._formats import to_parquet_bytes
from core.embedding.providers import provider_info
from core.errors import WorkbenchError
from core.search._engine import search
from core.viz._clusters import ClusterParams
from core.viz._figures import truncate_label
from core.viz._layout import (
    METHOD_NAMES,
    LayoutParams,
    default_neighbours,
    default_perplexity,
    umap_available,
)
from core.viz._map_figure import points_in_selection
from core.viz._maps import CorpusMap, compute_map
from ui import cache, state

MAX_MAPS = 4
MAX_FILTER_VALUES = 50  # a metadata column with more distinct values is not offered as a filter
CLUSTER = "cluster"
SCORE = "score against the query"
_MAPS = "map_cache"  # OrderedDict (content hash, params) -> CorpusMap, this session only
SELECTION = "map_selection"  # np.ndarray of collection rows selected with box / lasso
SEARCH = "map_search"  # dict: queries, vectors, ids, scores, within (rows or None)


WARM_UPS: list[threading.Thread] = []  # every warm-up this process started (one, normally)


@st.cache_resource(show_spinner=False)
def warm_umap() -> threading.Thread | None:
    """Prepare UMAP once per process, in the background, from the first visit to the app
    (``app.py`` calls this on every run; it starts one thread per process): its code is
    compiled in a short-lived helper process and loaded here from numba's disk cache
    (:mod:`core.viz._umap_warm`, which says why), so a visitor who then picks UMAP waits for
    the layout, not the compiler, and the server keeps none of the compiler's memory."""
    if not umap_available():
        return None

    from core.viz._umap_warm import prepare_umap

    thread = threading.Thread(target=prepare_umap, name="umap-warm-up", daemon=True)
    thread.start()
    WARM_UPS.append(thread)
    return thread


def render_controls(n_docs: int) -> tuple[LayoutParams, ClusterParams]:
    """Layout and cluster controls; returns what they ask for."""
    methods = ["pca", "umap", "tsne"]
    cols = st.columns([3, 2])
    method = cols[0].radio(
        "Layout",
        methods,
        horizontal=True,
        key="map_method",
        format_func=lambda m: (
            METHOD_NAMES[m] + (" (not installed)" if m == "umap" and not umap_available() else "")
        ),
        help="PCA: fast, linear. UMAP and t-SNE keep neighbourhoods, so topics come apart.",
    )
    if method == "umap" and not umap_available():
        st.warning(
            "UMAP is an optional part of this app and is not installed on this server "
            "(it needs the umap-learn package, about 150 MB with numba). Showing PCA; "
            "t-SNE is available."
        )
        method = "pca"
    cluster_method = cols[1].radio(
        "Clusters",
        ["hdbscan", "kmeans", "none"],
        horizontal=True,
        key="map_clusters",
        format_func={"hdbscan": "HDBSCAN", "kmeans": "k-means", "none": "none"}.get,
        help="HDBSCAN finds the groups itself and leaves points in no group as noise (grey); "
        "k-means makes exactly k groups.",
    )
    with st.expander("Layout and cluster parameters"):
        c = st.columns(4)
        neighbours = c[0].slider(
            "UMAP neighbours", 2, 100, default_neighbours(n_docs), key="map_neighbours"
        )
        min_dist = c[1].slider("UMAP min distance", 0.0, 1.0, 0.0, 0.05, key="map_min_dist")
        perplexity = c[2].slider(
            "t-SNE perplexity", 2, 100, int(default_perplexity(n_docs)), key="map_perplexity"
        )
        metric = c[3].radio("Metric", ["cosine", "euclidean"], key="map_metric")
        c = st.columns(4)
        k = c[0].number_input("k-means k", 1, 100, 8, key="map_k")
        min_size = c[1].number_input(
            "HDBSCAN min cluster size (0: automatic)", 0, 10_000, 0, key="map_min_size"
        )
        seed = c[2].number_input("Seed", 0, 10_000, 0, key="map_seed")
    layout = LayoutParams(
        method=method,
        n_neighbors=int(neighbours),
        min_dist=float(min_dist),
        perplexity=float(perplexity),
        metric=metric,
        seed=int(seed),
    )
    clusters = ClusterParams(
        method=cluster_method,
        k=int(k),
        min_cluster_size=int(min_size) or None,
        seed=int(seed),
    )
    return layout, clusters


def corpus_map(collection: Collection, layout: LayoutParams, clusters: ClusterParams) -> CorpusMap:
    """This session's map of ``collection`` for these parameters, computed at most once."""
    maps: OrderedDict = st.session_state.setdefault(_MAPS, OrderedDict())
    key = (collection.manifest.content_hash, layout, clusters)
    if key in maps:
        maps.move_to_end(key)
        return maps[key]
    bar = st.progress(0.0, text=f"{METHOD_NAMES[layout.method]}: starting…")
    result = compute_map(
        collection.embeddings,
        collection.texts,
        layout,
        clusters,
        progress=lambda message, fraction: bar.progress(min(1.0, fraction), text=message),
        term_embedder=term_embedder(collection),
    )
    bar.empty()
    maps[key] = result
    while len(maps) > MAX_MAPS:
        maps.popitem(last=False)
    return result


def term_embedder(collection: Collection):
    """The collection's own model, to rank its cluster labels' terms, when it runs here (free,
    no key); None for a remote provider (labels by counts, no request is sent for them)."""
    try:
        if provider_info(collection.spec.provider).remote:
            return None
        return cache.embedder_for(collection.spec)
    except (cache.MissingKeyError, WorkbenchError, ImportError):
        return None


def filter_columns(metadata: pd.DataFrame) -> list[str]:
    """Metadata columns with few enough distinct values to colour and filter by."""
    out = []
    for column in metadata.columns:
        values = metadata[column].astype(str)
        if 1 < values.nunique() <= MAX_FILTER_VALUES:
            out.append(str(column))
    return out


def render_filters(collection: Collection) -> np.ndarray:
    """One multiselect per categorical metadata column; the rows passing all of them."""
    meta = collection.metadata
    keep = np.ones(len(collection), dtype=bool)
    columns = filter_columns(meta)
    if not columns:
        return np.arange(len(collection))
    with st.expander("Filter by metadata (narrows the map and the search)"):
        cols = st.columns(min(4, len(columns)))
        for i, column in enumerate(columns):
            values = sorted(meta[column].astype(str).unique())
            chosen = cols[i % len(cols)].multiselect(column, values, key=f"map_filter_{column}")
            if chosen:
                keep &= meta[column].astype(str).isin(chosen).to_numpy()
    return np.flatnonzero(keep)


def update_selection(event, xy: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, int | None]:
    """The box/lasso selection (kept in session state until cleared) and a clicked document.

    A box or lasso selects every document inside it among ``rows`` (drawn or not); a click
    without one names a document to show the neighbours of.
    """
    selection = (getattr(event, "selection", None) or {}) if event is not None else {}
    boxes, lassos = selection.get("box") or [], selection.get("lasso") or []
    clicked = None
    if boxes or lassos:
        st.session_state[SELECTION] = points_in_selection(xy, boxes=boxes, lassos=lassos, rows=rows)
    else:
        for point in selection.get("points") or []:
            custom = point.get("customdata")
            if isinstance(custom, dict):
                custom = custom.get("0")
            if isinstance(custom, list | tuple):
                custom = custom[0] if custom else None
            if custom is not None:
                clicked = int(custom)
                break
    chosen = st.session_state.get(SELECTION)
    if chosen is not None:
        chosen = chosen[np.isin(chosen, rows)]
    return (chosen if chosen is not None else np.empty(0, dtype=np.int64)), clicked


def scope_rows(rows: np.ndarray, selection: np.ndarray | None) -> np.ndarray:
    """The rows a search looks at: the filtered rows, or the selected ones among them."""
    if selection is None:
        return rows
    return np.asarray(selection, dtype=np.int64)[np.isin(selection, rows)]


def search_rows(
    collection: Collection, vectors: np.ndarray, k: int, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k of each query among ``rows`` (all when None): collection ids and scores."""
    if rows is None or len(rows) == len(collection):
        return collection.search(vectors, k, "cosine")
    ids, scores = search(collection.embeddings[rows], vectors, k, "cosine")
    return rows[ids], scores


def query_scores(collection: Collection, vector: np.ndarray) -> np.ndarray:
    """Cosine of every document with one query: float32 (n_docs,)."""
    ids, scores = collection.search(vector, len(collection), "cosine")
    out = np.empty(len(collection), dtype=np.float32)
    out[ids[0]] = scores[0]
    return out


def colour_values(
    collection: Collection, result: CorpusMap, choice: str
) -> tuple[list[str] | None, list[str] | None, str | None]:
    """(categories per document, their order, the noise category) for a colour choice."""
    if choice == CLUSTER:
        names = result.labels()
        # The size stays readable however long the label (the legend cuts at 40 columns).
        legend = {s.cluster: f"{truncate_label(s.label, 32)} ({s.size})" for s in result.summaries}
        cats = [legend[int(c)] for c in result.clusters]
        order = [legend[s.cluster] for s in result.summaries]
        noise = next((legend[c] for c in names if c < 0), None)
        return cats, order, noise
    values = collection.metadata[choice].astype(str).tolist()
    return values, None, None


def selection_table(collection: Collection, rows: np.ndarray, result: CorpusMap) -> pd.DataFrame:
    """The selected documents: row, cluster label, text and metadata."""
    table = collection.documents().iloc[rows].copy()
    labels = result.labels()
    table.insert(0, "cluster", [labels[int(c)] for c in result.clusters[rows]])
    table.insert(0, "row", rows)
    return table.reset_index(drop=True)


def subset_collection(collection: Collection, rows: np.ndarray) -> Collection:
    """A new collection of the selected rows (same model, metadata kept)."""
    rows = np.asarray(rows, dtype=np.int64)
    return Collection.create(
        [collection.texts[i] for i in rows],
        np.ascontiguousarray(collection.embeddings[rows]),
        collection.spec,
        collection.metadata.iloc[rows].reset_index(drop=True),
        normalized=collection.manifest.normalized,
        extra={"origin": "selection", "parent": collection.manifest.content_hash[:16]},
    )


def clear_selection() -> None:
    st.session_state[SELECTION] = None
    st.session_state.pop("map_chart", None)


def adopt_selection(collection: Collection, rows: np.ndarray) -> None:
    """Make the selection this session's collection (button callback)."""
    state.set_collection(subset_collection(collection, rows))
    clear_selection()
    st.session_state[SEARCH] = None
    state.flash("success", f"The {len(rows):,} selected documents are now the collection.")


def render_selection(collection: Collection, selected: np.ndarray, result: CorpusMap) -> None:
    """The selected documents (text as text), CSV and collection downloads, and the buttons
    that make the selection the current collection or clear it."""
    if not len(selected):
        return
    st.subheader(f"Selection: {len(selected):,} documents")
    table = selection_table(collection, selected, result)
    st.dataframe(table, hide_index=True, width="stretch", key="map_selection_table")
    row = st.container(horizontal=True)
    row.download_button(
        "Download the selection (CSV)",
        table.to_csv(index=False).encode("utf-8"),
        "selection.csv",
        "text/csv",
        key="map_dl_csv",
        on_click="ignore",
    )
    row.download_button(
        "Download as a collection (Parquet)",
        lambda: to_parquet_bytes(subset_collection(collection, selected)),
        "selection.parquet",
        "application/octet-stream",
        key="map_dl_collection",
        on_click="ignore",
    )
    row.button(
        "Make the selection the current collection",
        key="map_adopt",
        on_click=adopt_selection,
        args=(collection, selected),
    )
    row.button("Clear the selection", key="map_clear", on_click=clear_selection)


def render_clusters(collection: Collection, result: CorpusMap) -> None:
    """Each cluster's label and size, with its two most central documents."""
    st.subheader("Clusters")
    if result.label_note:
        st.warning(result.label_note, icon=":material/warning:")
    if not result.label_model:
        st.caption("Labels: each cluster's most distinctive terms, by word counts (c-TF-IDF).")
    else:
        st.caption(
            "Labels: each cluster's most distinctive terms (c-TF-IDF), ranked by the collection's "
            f"model ({result.label_model}) for how close they are to the cluster's documents."
        )
    for s in result.summaries:
        st.text(f"{s.label} — {s.size:,} documents")
        for doc in s.representatives:
            st.text(f"    #{doc}: {collection.texts[doc][:200]}")
