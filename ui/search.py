"""Running a search for the Search page: embed the queries, search exactly or in a memory mode,
time it, and keep everything the page needs to redraw without recomputing; plus the sentences
that say honestly what the numbers mean (memory, recall, cached queries, weak matches)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from core.batching import embed_texts
from core.collection import Collection
from core.engine import search
from core.quant import recall_at_k
from core.timing import measure
from ui import cache
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
    collection: Collection, queries: Sequence[str], *, method: str, k: int, mode: str = EXACT
) -> dict:
    """Embed ``queries`` with the collection's model and search it.

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
        lambda: out.update(
            embedded=embed_texts(list(queries), embedder, cache=cache.session_store())
        ),
        repeats=1,
        warmup=0,
    )
    vectors = out["embedded"].vectors
    recall, pool, search_pool = None, None, None
    exact_bytes = int(collection.embeddings.nbytes)
    if mode == EXACT:
        memory_bytes, rescore_bytes = exact_bytes, 0

        def searcher(n: int):
            return collection.search(vectors, n, method)
    else:
        index = cache.quant_index(collection.manifest.content_hash, mode, collection.embeddings)
        memory_bytes, rescore_bytes = int(index.nbytes), int(index.rescore_nbytes)
        pool, search_pool = index.rescore_pool(RECALL_K), index.rescore_pool(k)

        def searcher(n: int):
            return index.search(vectors, n, method)

    search_timing = measure(lambda: out.update(result=searcher(k)), repeats=1, warmup=0)
    ids, scores = out["result"]
    if mode != EXACT:
        exact_ids, _ = collection.search(vectors, RECALL_K, method)
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
        "best_cosine": top_cosines(vectors, collection.embeddings, np.asarray(ids)),
        "content_hash": collection.manifest.content_hash,
    }


def top_cosines(vectors: np.ndarray, embeddings: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Cosine of each query with its first result (0 for a zero vector): float32 (m,)."""
    if ids.shape[1] == 0:
        return np.zeros(len(vectors), dtype=np.float32)
    top = np.asarray(embeddings[ids[:, 0]], dtype=np.float32)
    dots = np.einsum("ij,ij->i", vectors, top)
    norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(top, axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0).astype(np.float32)


def neighbours(collection: Collection, doc: int, k: int, method: str):
    """The ``k`` nearest other documents of collection row ``doc``: (ids, scores) 1-D."""
    ids, scores = collection.search(collection.embeddings[doc], k + 1, method)
    keep = ids[0] != doc
    return ids[0][keep][:k], scores[0][keep][:k]


@st.cache_data(scope="session", show_spinner=False, max_entries=8)
def closest_pair(
    content_hash: str, method: str, _embeddings: np.ndarray
) -> tuple[int, int, float] | None:
    """The most alike pair of different rows of this session's collection, or None (< 2 rows).

    ``(i, j, score)`` with ``i < j``; the score as the engine gives it (``-distance`` for
    euclidean). One chunked top-2 search of the collection against itself.
    """
    if _embeddings.shape[0] < 2:
        return None
    ids, scores = search(_embeddings, _embeddings, k=2, method=method)
    rows = np.arange(ids.shape[0])
    other = np.where(ids[:, 0] != rows, 0, 1)  # the first hit that is not the row itself
    best_ids = ids[rows, other]
    best_scores = scores[rows, other]
    row = int(np.argmax(best_scores))
    i, j = sorted((row, int(best_ids[row])))
    return i, j, float(best_scores[row])


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
    """No pair passed the threshold: say where the most alike pair is, so the slider can go."""
    if method == "euclidean":
        head = f"No pairs within {threshold:.2f}"
        if pair is None:
            return head + "."
        i, j, score = pair
        return f"{head}; the closest pair (#{i} and #{j}) is {format_score(-score)} apart."
    head = f"No pairs above {threshold:.2f}"
    if pair is None:
        return head + "."
    i, j, score = pair
    return f"{head}; the most similar pair (#{i} and #{j}) scores {format_score(score)}."


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
