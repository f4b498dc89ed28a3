"""The Search page's Streamlit glue: run the shared search workflow with this session's
embedder, store and indexes; draw its summary and top results."""

from __future__ import annotations

import streamlit as st

from core.search import PairSummary
from core.services import (
    RECALL_K,
    SearchReport,
    embed_value,
    format_bytes,
    format_score,
    memory_label,
    memory_note,
    no_match_note,
    parse_queries,
    recall_note,
    recall_value,
)
from core.services import run_search as _run_search
from ui import cache
from ui.tables import score_column
from ui.text import md


def run_search(collection, queries, *, method: str, k: int, mode: str, where=None) -> SearchReport:
    """The shared search, with this session's embedder and query store (the collection keeps
    its own compressed and approximate indexes, built once per mode)."""
    return _run_search(
        collection,
        queries,
        cache.embedder_for(collection.spec),
        method=method,
        k=k,
        mode=mode,
        query_cache=cache.session_store(),
        where=where,
    )


# Near-duplicate pairs listed at most: the strongest ones when more pass the threshold.
MAX_PAIRS_SHOWN = 500


@st.cache_data(scope="session", show_spinner=False, max_entries=8)
def duplicate_pairs(content_hash: str, method: str, threshold: float, _collection) -> PairSummary:
    """The strongest pairs of this session's collection passing ``threshold`` (at most
    :data:`MAX_PAIRS_SHOWN`), how many pass in all, and the most alike pair: one pass."""
    return _collection.strongest_pairs(threshold, method, limit=MAX_PAIRS_SHOWN)


def is_previous(report: SearchReport, box_text: str) -> bool:
    """Whether the results on screen are not those of the last submitted request: a later
    search failed (any parameter), or the box holds other queries than the ones shown."""
    return report.previous or parse_queries(box_text) != report.queries


def show_summary(report: SearchReport) -> None:
    """Latency, query embedding, memory and recall metrics, with what they mean underneath."""
    cols = st.columns(4)
    cols[0].metric("Search latency", f"{report.search_ms:.2f} ms")
    cols[1].metric("Query embedding", embed_value(report))
    cols[2].metric(memory_label(report.mode), format_bytes(report.memory_bytes))
    cols[3].metric(f"Recall@{RECALL_K} vs exact", recall_value(report))
    notes = [memory_note(report), recall_note(report)]
    st.caption(" ".join(n for n in notes if n))


def show_best(report: SearchReport, table) -> None:
    """One line per query with its top result, and a note when nothing matches well."""
    column = score_column(report.method)
    for q, query in enumerate(report.queries):
        best = table[(table["query"] == query) & (table["rank"] == 1)].iloc[0]
        st.markdown(
            f"**Q{q + 1}** {md(query)}  \n→ **Top result** ({column} "
            f"{format_score(best[column])}): {md(best['text'])}"
        )
        note = no_match_note(report, q)
        if note:
            st.caption(f":material/info: {note}")
