"""Running a search for the Search page: embed the queries, search exactly or in a memory mode,
time it, and keep everything the page needs to redraw without recomputing; plus the sentences
that say honestly what the numbers mean (memory, recall, cached queries, weak matches)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from core.bench._timing import measure
from core.data._collection import Collection, filtered_index_search
from core.search._modes import recall_at_k
from core.search._pairs import PairSummary, row_cosines
from ui import cache
from ui.jobs import embed_queries
from ui.tables import format_score, score_column

EXACT = "float32"  # the collection's own vectors, exact search
MEMORY_MODES = ("float32", "float16", "int8", "binary")
RECALL_K = 10
# Below this cosine the best hit is unrelated to the query: unrelated texts score about 0.05-0.18
# with the default model, real answers in the sample from 0.24 up (OpenAI's models run higher,
# so this only flags clear misses).
LOW_COSINE = 0.2

_MEMORY_LABELS = {
    "float32": "Index memory (float32 vectors)",
    "float16": "Index memory (float16 codes)",
    "int8": "Index memory (int8 codes)",
    "binary": "Index memory (binary codes)",
}


def parse_queries(text: str) -> list[str]:
    """One query per non-blank line, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def run_search(
    collection: Collection,
    queries: Sequence[str],
    *,
    method: str,
    k: int,
    mode: str = EXACT,
    where=None,
) -> dict:
    """Embed ``queries`` with the collection's model and search it (among the documents
    passing the metadata filter ``where``, if given: see :mod:`core.data._filters`).

    Returns
    -------
    dict
        ``queries``, ``vectors`` (float32 (m, d)), ``ids``/``scores`` ((m, k')), ``method``,
        ``k``, ``mode``, ``embed_ms``, ``n_cached`` (queries served from this session's store),
        ``search_ms``, ``memory_bytes`` (of the index searched), ``rescore_bytes`` (float
        vectors binary reads for rescoring, else 0), ``exact_bytes`` (the float32 matrix),
        ``n_docs``, ``rescore_pool`` / ``search_pool`` (binary: candidates rescored per query
        for recall@10 / for the top k, before capping at n_docs; else None),
        ``recall`` (recall@10 against exact float32, None in exact mode), ``best_cosine``
        (float32 (m,): cosine of each query with its top result), ``content_hash``.
    """
    embedder = cache.embedder_for(collection.spec)
    out: dict = {}
    embed_timing = measure(
        lambda: out.update(embedded=embed_queries(queries, embedder)), repeats=1, warmup=0
    )
    vectors = out["embedded"].vectors
    recall, pool, search_pool = None, None, None
    exact_bytes = int(collection.embeddings.nbytes)
    if mode == EXACT:
        memory_bytes, rescore_bytes = exact_bytes, 0

        def searcher(n: int):
            return collection.search(vectors, n, method, where=where)
    else:
        index = collection.index(mode)  # kept by the collection; edits carry it on
        memory_bytes, rescore_bytes = int(index.nbytes), int(index.rescore_nbytes)
        pool, search_pool = index.rescore_pool(RECALL_K), index.rescore_pool(k)

        def searcher(n: int):
            if where is None:
                return index.search(vectors, n, method)
            return filtered_index_search(index, vectors, n, method, collection.select(where), {})

    search_timing = measure(lambda: out.update(result=searcher(k)), repeats=1, warmup=0)
    ids, scores = out["result"]
    if mode != EXACT:
        exact_ids, _ = collection.search(vectors, RECALL_K, method, where=where)
        approx_ids, _ = searcher(RECALL_K)
        recall = float(recall_at_k(approx_ids, exact_ids))
    return {
        "queries": list(queries),
        "vectors": vectors,
        "ids": np.asarray(ids),
        "scores": np.asarray(scores),
        "method": method,
        "k": int(k),
        "mode": mode,
        "embed_ms": embed_timing.median_ms,
        "n_cached": int(out["embedded"].n_cached),
        "search_ms": search_timing.median_ms,
        "memory_bytes": memory_bytes,
        "rescore_bytes": rescore_bytes,
        "exact_bytes": exact_bytes,
        "n_docs": len(collection),
        "rescore_pool": pool,
        "search_pool": search_pool,
        "recall": recall,
        "best_cosine": top_cosines(
            vectors, collection.embeddings, np.asarray(ids), np.asarray(scores), method, mode
        ),
        "content_hash": collection.manifest.content_hash,
        "n_passing": len(collection) if where is None else int(np.count_nonzero(where)),
    }


def top_cosines(
    vectors: np.ndarray,
    embeddings: np.ndarray,
    ids: np.ndarray,
    scores: np.ndarray,
    method: str,
    mode: str,
) -> np.ndarray:
    """Cosine of each query with its first result (0 for a zero vector): float32 (m,).

    Exact cosine search already returned it (``scores[:, 0]``); only dot, euclidean and the
    compressed modes (approximate scores) read the top documents' vectors to compute it.
    """
    if ids.shape[1] == 0:
        return np.zeros(len(vectors), dtype=np.float32)
    if method == "cosine" and mode == EXACT:
        return np.asarray(scores[:, 0], dtype=np.float32)
    return row_cosines(vectors, embeddings[ids[:, 0]])


def neighbours(collection: Collection, doc: int, k: int, method: str):
    """The ``k`` nearest other documents of collection row ``doc``: (ids, scores) 1-D."""
    ids, scores = collection.search(collection.embeddings[doc], k + 1, method)
    keep = ids[0] != doc
    return ids[0][keep][:k], scores[0][keep][:k]


# Near-duplicate pairs listed at most: the strongest ones when more pass the threshold.
MAX_PAIRS_SHOWN = 500


@st.cache_data(scope="session", show_spinner=False, max_entries=8)
def duplicate_pairs(
    content_hash: str, method: str, threshold: float, _collection: Collection
) -> PairSummary:
    """The strongest pairs of this session's collection passing ``threshold`` (at most
    :data:`MAX_PAIRS_SHOWN`), how many pass in all, and the most alike pair: one pass."""
    return _collection.strongest_pairs(threshold, method, limit=MAX_PAIRS_SHOWN)


# -- what the numbers mean -------------------------------------------------------------------


def format_bytes(n: int) -> str:
    """``6.78 KB``, ``144 KB``, ``1.50 MB``: three significant digits, binary units."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:.3g} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n} B"


def memory_label(mode: str) -> str:
    """Metric label naming what the memory figure counts."""
    return _MEMORY_LABELS[mode]


def memory_note(result: dict) -> str:
    """What the memory figure holds, and what a search reads besides it."""
    size, exact = format_bytes(result["memory_bytes"]), format_bytes(result["exact_bytes"])
    mode = result["mode"]
    if mode == EXACT:
        return f"Exact search over the float32 vectors ({exact})."
    if mode == "binary":
        pool, n = result["search_pool"], result["n_docs"]
        rescored = f"all {n:,} documents" if pool >= n else f"{pool:,} Hamming candidates"
        return (
            f"Binary: {size} of 1-bit codes, row norms and calibration, plus "
            f"{format_bytes(result['rescore_bytes'])} of float32 vectors read to rescore "
            f"{rescored} per query (they can stay on disk, memory-mapped: only the rows rescored "
            "are read)."
        )
    what = "half-precision codes" if mode == "float16" else "8-bit codes, calibration"
    return (
        f"{mode}: {size} of {what} and row norms, against {exact} for float32; ranked and "
        "scored from the codes alone, the float32 vectors are not read."
    )


def recall_value(result: dict) -> str:
    recall = result["recall"]
    return "1.000 (exact)" if recall is None else f"{recall:.3f}"


def recall_note(result: dict) -> str | None:
    """Why recall is 1 when the binary rescoring pool covers the whole collection."""
    pool = result.get("rescore_pool")
    if pool is None or pool < result["n_docs"]:
        return None
    return (
        f"Recall is exact here: the rescoring pool ({pool:,}) covers all {result['n_docs']:,} "
        "documents; binary pays off on large collections."
    )


def embed_value(result: dict) -> str:
    """``cached`` when no query was embedded; otherwise the time (and how many were cached)."""
    m, cached = len(result["queries"]), result.get("n_cached", 0)
    if cached >= m:
        return "cached"
    ms = result["embed_ms"]
    text = "<1 ms" if ms < 1 else f"{ms:,.0f} ms"
    return f"{text} ({cached} of {m} cached)" if cached else text


def no_match_note(result: dict, q: int) -> str | None:
    """A gentle note when query ``q``'s best result is unrelated to it (cosine < LOW_COSINE)."""
    cosine = float(result["best_cosine"][q])
    if cosine >= LOW_COSINE:
        return None
    what = (
        "the best cosine score is"
        if result["method"] == "cosine"
        else "the top result's cosine similarity is"
    )
    return (
        f"No close match for Q{q + 1}: {what} {format_score(cosine)}; "
        "the corpus may not cover this topic."
    )


def previous_note(result: dict, max_chars: int = 200) -> str:
    """Label for results left on screen when a new search did not run."""
    queries = " · ".join(result["queries"])
    if len(queries) > max_chars:
        queries = queries[: max_chars - 1].rstrip() + "…"
    return f"Showing results for the previous search: {queries}"


def no_pairs_message(method: str, threshold: float, pair: tuple[int, int, float] | None) -> str:
    """No pair passed the threshold: say where the most alike pair is, so the slider can go.

    ``pair`` is ``(i, j, score)`` as :class:`core.search.PairSummary` gives it (a distance for
    euclidean), or None when the collection has fewer than two documents.
    """
    if method == "euclidean":
        head = f"No pairs within {threshold:.2f}"
        if pair is None:
            return head + "."
        i, j, distance = pair
        return f"{head}; the closest pair (#{i} and #{j}) is {format_score(distance)} apart."
    head = f"No pairs above {threshold:.2f}"
    if pair is None:
        return head + "."
    i, j, score = pair
    return f"{head}; the most similar pair (#{i} and #{j}) scores {format_score(score)}."


def pairs_heading(method: str, threshold: float, found: PairSummary) -> str:
    """How many pairs pass, and which of them the table lists."""
    where = "within" if method == "euclidean" else "above"
    head = f"**{found.n_passing:,} pair(s)** {where} {threshold:.2f}"
    if not found.truncated:
        return f"{head}, most alike first."
    return f"{head}; the {len(found.pairs):,} most alike are listed, most alike first."


def too_many_pairs_note(method: str, found: PairSummary) -> str | None:
    """When the list is cut: which way the slider narrows it (a distance goes down, a
    similarity up), and where the listed pairs end."""
    if not found.truncated:
        return None
    last = found.pairs[-1][2]
    if method == "euclidean":
        return (
            f"The listed pairs are at most {format_score(last)} apart: lower the distance to "
            "list only the closest pairs."
        )
    return (
        f"The listed pairs score at least {format_score(last)}: raise the similarity to list "
        "only the most similar pairs."
    )


# Key in a search result: a later search did not run, so what is shown is the previous one.
_PREVIOUS = "previous"


def as_previous(result: dict) -> dict:
    """``result`` marked as no longer the current request's (a later search failed or was
    empty); a successful search stores a fresh, unmarked result."""
    return {**result, _PREVIOUS: True}


def is_previous(result: dict, box_text: str) -> bool:
    """Whether the results on screen are not those of the last submitted request: a later
    search failed (any parameter), or the box holds other queries than the ones shown."""
    return bool(result.get(_PREVIOUS)) or parse_queries(box_text) != result["queries"]


def show_summary(result: dict) -> None:
    """Latency, query embedding, memory and recall metrics, with what they mean underneath."""
    cols = st.columns(4)
    cols[0].metric("Search latency", f"{result['search_ms']:.2f} ms")
    cols[1].metric("Query embedding", embed_value(result))
    cols[2].metric(memory_label(result["mode"]), format_bytes(result["memory_bytes"]))
    cols[3].metric(f"Recall@{RECALL_K} vs exact", recall_value(result))
    notes = [memory_note(result), recall_note(result)]
    st.caption(" ".join(n for n in notes if n))


def show_best(result: dict, table) -> None:
    """One line per query with its top result, and a note when nothing matches well."""
    column = score_column(result["method"])
    for q, query in enumerate(result["queries"]):
        best = table[(table["query"] == query) & (table["rank"] == 1)].iloc[0]
        st.markdown(
            f"**Q{q + 1}** {query}  \n→ **Top result** ({column} "
            f"{format_score(best[column])}): {best['text']}"
        )
        note = no_match_note(result, q)
        if note:
            st.caption(f":material/info: {note}")
