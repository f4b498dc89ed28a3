"""Running a search for the Search page: embed the queries, search exactly or in a memory mode,
time it, and keep everything the page needs to redraw without recomputing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.collection import Collection
from core.quant import recall_at_k
from core.timing import measure
from ui import cache
from ui.jobs import embed_queries

EXACT = "float32"  # the collection's own vectors, exact search
MEMORY_MODES = ("float32", "float16", "int8", "binary")
RECALL_K = 10


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
        ``k``, ``mode``, ``embed_ms``, ``search_ms``, ``memory_mb`` (of the index searched),
        ``recall`` (recall@10 against exact float32, None in exact mode), ``content_hash``.
    """
    embedder = cache.embedder_for(collection.spec)
    out: dict = {}
    embed_timing = measure(
        lambda: out.update(vectors=embed_queries(queries, embedder)), repeats=1, warmup=0
    )
    vectors = out["vectors"]
    recall = None
    if mode == EXACT:
        memory_mb = collection.embeddings.nbytes / 2**20

        def searcher(n: int):
            return collection.search(vectors, n, method)
    else:
        index = cache.quant_index(collection.manifest.content_hash, mode, collection.embeddings)
        memory_mb = index.nbytes / 2**20

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
        "search_ms": search_timing.median_ms,
        "memory_mb": memory_mb,
        "recall": recall,
        "content_hash": collection.manifest.content_hash,
    }


def neighbours(collection: Collection, doc: int, k: int, method: str):
    """The ``k`` nearest other documents of collection row ``doc``: (ids, scores) 1-D."""
    ids, scores = collection.search(collection.embeddings[doc], k + 1, method)
    keep = ids[0] != doc
    return ids[0][keep][:k], scores[0][keep][:k]
