"""The search workflow the dashboard and the CLI share: embed the queries with the collection's
model, search exactly or in a memory mode, time it, and report it as a :class:`SearchReport`;
plus the sentences that say honestly what its numbers mean (memory, recall, weak matches)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.data import Collection
from core.embedding import embed_texts
from core.errors import InvalidInputError
from core.search import get_metric, recall_at_k, row_cosines
from core.search._hnsw import available as hnsw_available

EXACT = "float32"  # the collection's own vectors, exact search
# Exact, compressed, and the approximate graph when FAISS is installed.
MEMORY_MODES = ("float32", "float16", "int8", "binary") + (("hnsw",) if hnsw_available() else ())
_MODE_KINDS = {"float32": "exact", "hnsw": "approximate"}  # the others: compressed
RECALL_K = 10
# Below this cosine the best hit is unrelated to the query: unrelated texts score about 0.05-0.18
# with the default model, real answers in the sample from 0.24 up (OpenAI's models run higher,
# so this only flags clear misses).
LOW_COSINE = 0.2


@dataclass(frozen=True)
class SearchReport:
    """One search, as run and measured.

    Attributes
    ----------
    queries : list of str
    vectors : ndarray of shape (n_queries, dim), float32
        The query vectors.
    ids, scores : ndarray of shape (n_queries, k')
        Results best first (``k' = min(k, n_docs)``); scores as :func:`core.search.search`
        returns them (euclidean: negative distances).
    method, k, mode : str, int, str
    embed_ms, search_ms : float
        Wall time to embed the queries and to search.
    n_cached : int
        Queries served from the query cache (not sent).
    memory_bytes : int
        Bytes of the index searched; ``rescore_bytes``: float32 vectors binary mode reads to
        rescore (else 0); ``exact_bytes``: the float32 matrix.
    n_docs : int
    rescore_pool, search_pool : int or None
        Binary mode: candidates rescored per query for recall@10 / for the top k (before
        capping at ``n_docs``); else None.
    recall : float or None
        recall@10 against exact float32 search (None when exact).
    best_cosine : ndarray of shape (n_queries,), float32
        Cosine of each query with its top result.
    content_hash : str
        The collection searched.
    n_passing : int
        Documents passing the metadata filter (``n_docs`` without one).
    previous : bool
        True when a later request did not search and this report is the previous one's.
    """

    queries: list[str]
    vectors: np.ndarray
    ids: np.ndarray
    scores: np.ndarray
    method: str
    k: int
    mode: str
    embed_ms: float
    n_cached: int
    search_ms: float
    memory_bytes: int
    rescore_bytes: int
    exact_bytes: int
    n_docs: int
    rescore_pool: int | None
    search_pool: int | None
    recall: float | None
    best_cosine: np.ndarray
    content_hash: str
    previous: bool = False
    n_passing: int | None = None

    def __post_init__(self) -> None:
        if self.n_passing is None:  # no metadata filter: every document could be a result
            object.__setattr__(self, "n_passing", self.n_docs)

    def as_previous(self) -> SearchReport:
        """This report marked as no longer the current request's."""
        return dataclasses.replace(self, previous=True)


def mode_label(mode: str) -> str:
    """How a mode is named to people: "float32 (exact)", "int8 (compressed)", ..."""
    return f"{mode} ({_MODE_KINDS.get(mode, 'compressed')})"


def parse_queries(text: str) -> list[str]:
    """One query per non-blank line, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_queries(queries: Sequence[str]) -> list[str]:
    """The queries, refusing an empty list or an empty query (named by its 1-based number)."""
    queries = list(queries)
    if not queries:
        raise InvalidInputError("no query given: give at least one text to search for")
    for number, query in enumerate(queries, start=1):
        if not str(query).strip():
            raise InvalidInputError(
                f"query {number} is empty; give the text to search for, e.g. "
                '"how do I reset my password"'
            )
    return queries


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def run_search(
    collection: Collection,
    queries: Sequence[str],
    embedder,
    *,
    method: str = "cosine",
    k: int = 10,
    mode: str = EXACT,
    query_cache="default",
    where=None,
    mmr: float | None = None,
) -> SearchReport:
    """Embed ``queries`` with ``embedder`` (the collection's model) and search ``collection``.

    Parameters
    ----------
    collection : Collection
    queries : sequence of str
        Non-empty texts.
    embedder
        A provider of the collection's model (:func:`core.embedding.providers.get_embedder`).
    method : {"cosine", "euclidean", "dot"}
    k : int
        Results per query, from 1 (capped at the collection's size).
    mode : {"float32", "float16", "int8", "binary", "hnsw"}
        ``float32`` is exact; the others search a compressed index or (``hnsw``, when FAISS is
        installed) an approximate graph.
    query_cache : "default", EmbeddingCache, a ByteStore or None
        Where query vectors are cached (the dashboard passes the session's own store).
    where : dict, str, callable or bool array, optional
        Metadata filter applied before top-k (see :meth:`core.data.Collection.search`).
    mmr : float in [0, 1], optional
        Re-rank by maximal marginal relevance with this lambda.

    Returns
    -------
    SearchReport
    """
    queries = check_queries(queries)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a whole number of at least 1, got {k!r}")
    if mode not in MEMORY_MODES:
        raise InvalidInputError(f"unknown memory mode {mode!r}; choose one of: {MEMORY_MODES}")
    start = time.perf_counter()
    embedded = embed_texts(queries, embedder, cache=query_cache, role="query")
    embed_ms = _ms(start)
    vectors = embedded.vectors
    recall, pool, search_pool = None, None, None
    exact_bytes = int(collection.embeddings.nbytes)
    if mode == EXACT:
        memory_bytes, rescore_bytes = exact_bytes, 0
    else:
        quant = collection.index(mode)  # built once per mode and kept by the collection
        pool, search_pool = quant.rescore_pool(RECALL_K), quant.rescore_pool(k)

    def searcher(n: int, search_mode: str = mode):
        return collection.search(vectors, n, method, mode=search_mode, where=where, mmr=mmr)

    start = time.perf_counter()
    ids, scores = searcher(int(k))
    search_ms = _ms(start)
    ids, scores = np.asarray(ids), np.asarray(scores)
    if mode != EXACT:
        # Read after searching: an HNSW graph is built on its first search.
        memory_bytes, rescore_bytes = int(quant.nbytes), int(quant.rescore_nbytes)
        exact_ids, _ = searcher(RECALL_K, EXACT)
        approx_ids, _ = searcher(RECALL_K)
        recall = float(recall_at_k(approx_ids, exact_ids))
    return SearchReport(
        queries=queries,
        vectors=vectors,
        ids=ids,
        scores=scores,
        method=method,
        k=int(k),
        mode=mode,
        embed_ms=embed_ms,
        n_cached=int(embedded.n_cached),
        search_ms=search_ms,
        memory_bytes=memory_bytes,
        rescore_bytes=rescore_bytes,
        exact_bytes=exact_bytes,
        n_docs=len(collection),
        rescore_pool=pool,
        search_pool=search_pool,
        recall=recall,
        best_cosine=top_cosines(vectors, collection.embeddings, ids, scores, method, mode),
        content_hash=collection.manifest.content_hash,
        n_passing=len(collection) if where is None else int(collection.select(where).size),
    )


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
    if get_metric(method) is get_metric("cosine") and mode == EXACT:
        return np.asarray(scores[:, 0], dtype=np.float32)
    return row_cosines(vectors, embeddings[ids[:, 0]])


def neighbours(collection: Collection, doc: int, k: int, method: str):
    """The ``k`` nearest other documents of collection row ``doc``: (ids, scores) 1-D."""
    ids, scores = collection.search(collection.embeddings[doc], k + 1, method)
    keep = ids[0] != doc
    return ids[0][keep][:k], scores[0][keep][:k]
