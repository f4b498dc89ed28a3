"""How :meth:`core.data.Collection.search` works: its arguments checked once, the exact or
compressed top-k (metadata filter before top-k) and the MMR re-ranking.

:func:`check_search_arguments` is the one place a collection's search checks ``k``, the query
matrix, the metric and the dimension.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data._versions import TEXT_COLUMN
from core.errors import InvalidInputError
from core.search._engine import as_matrix, search
from core.search._metrics import get_metric
from core.search._mmr import mmr as mmr_select
from core.search._modes import QuantIndex

# Candidates MMR chooses from when the caller does not say (LangChain's default fetch_k).
DEFAULT_FETCH_K = 20


def check_search_arguments(
    query_vectors, k, method, dimension: int, model: str
) -> tuple[np.ndarray, int, str]:
    """``(queries, k, metric)`` of a search, checked before any work.

    Parameters
    ----------
    query_vectors : array_like of shape (n_queries, dimension) or (dimension,)
    k : int
        Must be a positive integer (not a bool).
    method : str or Metric
        Any registered metric.
    dimension : int
        The collection's dimension.
    model : str
        How to name the collection's model in the message when the dimensions differ.

    Returns
    -------
    queries : ndarray of shape (n_queries, dimension), float32
    k : int
    metric : str
        The metric's registered name.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    queries = as_matrix(query_vectors, "queries")
    metric = get_metric(method).name  # any registered metric
    if queries.shape[1] != dimension:
        raise InvalidInputError(
            f"dimension mismatch: queries have d={queries.shape[1]} but the collection has "
            f"d={dimension}; embed the queries with {model}"
        )
    return queries, int(k), metric


def top_k(collection, queries, k, metric, mode, rows, options):
    """Top-``k`` of checked ``queries`` among ``rows`` (None: every row) of ``collection``."""
    if mode != "float32":
        index = collection.index(mode)
        if rows is None:
            return index.search(queries, k, metric, **options)
        return filtered_index_search(index, queries, k, metric, rows, options)
    return exact_top_k(
        collection.embeddings, collection._kept_norms(), queries, k, metric, rows, options
    )


def exact_top_k(vectors, norms, queries, k, metric, rows, options):
    """Exact (float32) top-``k`` of checked ``queries`` among ``rows`` (None: every row) of
    ``vectors``, whose row ``norms`` are known: the one step of a collection's search and of a
    shard's (:meth:`core.data._shards.ShardState.search`)."""
    if rows is None or rows.size == vectors.shape[0]:
        options = {"corpus_norms": norms, **options}
        return search(vectors, queries, k, metric, check_finite=False, **options)
    # Only the passing rows are scored: the filter comes before top-k.
    subset = np.asarray(vectors[rows], dtype=np.float32)
    options = {"corpus_norms": norms[rows], **options}
    ids, scores = search(subset, queries, k, metric, check_finite=False, **options)
    return rows[ids], scores


def fetch_count(k: int, fetch_k: int | None) -> int:
    """The candidates MMR chooses ``k`` from: ``fetch_k``, or ``max(20, 4k)``; never below k."""
    fetch = max(DEFAULT_FETCH_K, 4 * k) if fetch_k is None else int(fetch_k)
    if fetch < k:
        raise InvalidInputError(f"fetch_k ({fetch}) must be at least k ({k})")
    return fetch


def mmr_top_k(collection, queries, k, metric, mode, rows, lambda_mult, fetch_k, options):
    """:func:`top_k` of ``fetch_k`` candidates, re-ranked to ``k`` by maximal marginal
    relevance with ``lambda_mult``."""
    fetch = fetch_count(k, fetch_k)
    cand_ids, cand_scores = top_k(collection, queries, fetch, metric, mode, rows, options)
    return mmr_rerank(
        queries, cand_ids, cand_scores, lambda ids: collection.embeddings[ids], k, lambda_mult
    )


def mmr_rerank(queries, cand_ids, cand_scores, vectors_at, k: int, lambda_mult: float):
    """Re-rank each query's candidates by maximal marginal relevance; ``vectors_at(ids)`` gives
    the candidates' vectors (a collection's rows, or a sharded collection's across its shards).
    Returns ids and scores of shape ``(n_queries, min(k, n_candidates))``."""
    width = min(k, cand_ids.shape[1])
    out_ids = np.empty((queries.shape[0], width), dtype=np.int64)
    out_scores = np.empty((queries.shape[0], width), dtype=np.float32)
    if width == 0:
        return out_ids, out_scores
    for q in range(queries.shape[0]):
        pool = cand_ids[q]
        picked, _ = mmr_select(queries[q], vectors_at(pool), width, lambda_mult)
        out_ids[q], out_scores[q] = pool[picked], cand_scores[q][picked]
    return out_ids, out_scores


def filtered_index_search(index: QuantIndex, queries, k, metric, rows, options):
    """Top-k among ``rows`` from a compressed index: fetch more candidates until ``k`` of each
    query's pass (or every row has been ranked), so the filter still comes before top-k."""
    allowed = np.zeros(index.n, dtype=bool)
    allowed[rows] = True
    width = min(k, rows.size)
    fetch = min(index.n, max(4 * k, k + 16))
    while True:
        ids, scores = index.search(queries, fetch, metric, **options)
        passing = allowed[ids]
        if fetch >= index.n or np.all(passing.sum(axis=1) >= width):
            break
        fetch = min(index.n, fetch * 4)
    out_ids = np.empty((queries.shape[0], width), dtype=np.int64)
    out_scores = np.empty((queries.shape[0], width), dtype=np.float32)
    for q in range(queries.shape[0]):
        keep = np.flatnonzero(passing[q])[:width]
        out_ids[q], out_scores[q] = ids[q, keep], scores[q, keep]
    return out_ids, out_scores


def results_frame(results, queries=None) -> pd.DataFrame:
    """:meth:`SearchResults.to_frame` (documented there): one row per result."""
    ids, scores = results
    if queries is not None and len(queries) != ids.shape[0]:
        raise InvalidInputError(f"{len(queries)} query texts for {ids.shape[0]} queries")
    if results.collection is None:
        raise InvalidInputError("these results have no collection to read texts from")
    c = results.collection
    flat = ids.reshape(-1)
    reserved = ("query", "rank", "score", "id", "row", TEXT_COLUMN)
    meta = _suffixed(c.metadata.iloc[flat].reset_index(drop=True), reserved)
    labels = list(queries) if queries is not None else list(range(ids.shape[0]))
    head = pd.DataFrame(
        {
            "query": np.repeat(np.asarray(labels, dtype=object), ids.shape[1]),
            "rank": np.tile(np.arange(1, ids.shape[1] + 1), ids.shape[0]),
            "score": scores.reshape(-1),
            "id": [c.ids[i] for i in flat],
            "row": flat,
            TEXT_COLUMN: [c.texts[i] for i in flat],
        }
    )
    return pd.concat([head, meta], axis=1)


def _suffixed(frame: pd.DataFrame, names) -> pd.DataFrame:
    """``frame`` with a trailing ``_`` on the columns named like one of ``names``."""
    clash = {c: f"{c}_" for c in frame.columns if c in names}
    return frame.rename(columns=clash) if clash else frame
