"""The search page's Dask section: shown only where the operator configured a cluster.

Two settings, in ``.streamlit/secrets.toml`` or the environment:

- ``WORKBENCH_DASK_SCHEDULER``: the scheduler's address (``tcp://10.0.0.5:8786``);
- ``WORKBENCH_SHARDED_COLLECTION``: a sharded collection on a path every worker can read.

With both set, the search page offers to search that collection on the cluster and says so;
without them (Community Cloud), nothing on the page changes. The collection is the operator's,
the same for every visitor; a visitor's queries and results stay in their own session.
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.data._shards import prepare_where
from core.embedding._batching import EmbeddingJobError
from core.errors import ClusterError, CollectionError, InvalidInputError, MissingDependencyError
from ui import cache
from ui.filters import FILTER_HELP

SCHEDULER_NAME = "WORKBENCH_DASK_SCHEDULER"
COLLECTION_NAME = "WORKBENCH_SHARDED_COLLECTION"


def _setting(name: str) -> str:
    try:
        value = st.secrets.get(name)
    except FileNotFoundError:
        value = None
    return str(value or os.environ.get(name, "")).strip()


@st.cache_resource(show_spinner=False)
def _connection(address: str) -> dict:
    """One client per address for the whole app (held in a dict: a Client is awaitable, which
    the resource cache refuses to keep as such)."""
    from core.distributed import connect

    return {"client": connect(address)}


@st.cache_resource(show_spinner=False)
def _collection(path: str):
    from core.data._shards import ShardedCollection

    return ShardedCollection.open(path)


def search_section() -> None:
    """Render the cluster search, or nothing when no cluster is configured."""
    address, path = _setting(SCHEDULER_NAME), _setting(COLLECTION_NAME)
    if not address or not path:
        return
    try:
        collection = _collection(path)
        client = _connection(address)["client"]
    except (ClusterError, CollectionError, MissingDependencyError) as exc:
        st.warning(f"The configured Dask cluster cannot be used: {exc}")
        return
    n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
    with st.expander(f"Search {len(collection):,} documents on the Dask cluster", expanded=False):
        st.caption(
            f"A sharded collection of {len(collection):,} documents in {len(collection.shards)} "
            f"shards ({collection.spec.model}), searched exactly on the Dask cluster at "
            f"{address} ({n_workers} worker{'s' if n_workers != 1 else ''})."
        )
        with st.form("cluster_search_form"):
            text = st.text_area("Queries, one per line", key="c_queries", height=80)
            cols = st.columns([2, 1])
            method = cols[0].radio("Method", ["cosine", "euclidean", "dot"], horizontal=True,
                                   key="c_method")  # fmt: skip
            k = cols[1].number_input("k", 1, min(100, len(collection)), min(5, len(collection)),
                                     key="c_k")  # fmt: skip
            try:
                columns = ", ".join(map(str, collection.metadata_columns())) or "none"
            except CollectionError:
                columns = "unknown (the first shard cannot be read here)"
            where = st.text_input(
                "Metadata filter (optional)", key="c_where", placeholder='source = "faq.csv"',
                help=FILTER_HELP + f" Columns: {columns}. Each worker filters its own shards.",
            )  # fmt: skip
            submitted = st.form_submit_button("Search on the cluster")
        if not submitted:
            return
        queries = [q.strip() for q in text.splitlines() if q.strip()]
        if not queries:
            st.error("Type at least one query (one per line).")
            return
        where = (where or "").strip() or None
        if where is not None:
            try:  # read and checked against the columns before the queries are embedded
                where = prepare_where(where, collection.shards, len(collection),
                                      collection.metadata_columns)[0]  # fmt: skip
            except InvalidInputError as exc:
                st.error("The metadata filter cannot be used:")
                st.code(str(exc), language=None)
                return
        try:
            vectors = cache.embedder_for(collection.spec).embed_documents(queries)
            ids, scores = collection.search(vectors, int(k), method, client=client, where=where)
        except (cache.MissingKeyError, EmbeddingJobError) as exc:
            st.error(f"Could not embed the queries: {exc}")
            return
        except ClusterError as exc:
            st.error(str(exc))
            return
        if ids.shape[1] == 0:
            st.warning("No document matches the metadata filter; change or clear it.")
            return
        rows = []
        for query, row_ids, row_scores in zip(queries, ids, scores, strict=True):
            docs = collection.documents_at(row_ids)
            for rank, (doc, score) in enumerate(zip(row_ids, row_scores, strict=True), start=1):
                rows.append({"query": query, "rank": rank, "score": float(score),
                             "doc": int(doc), "text": docs.loc[doc, "text"]})  # fmt: skip
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="c_results")
