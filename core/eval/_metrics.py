"""Retrieval metrics at a cut-off k, per query and averaged, following trec_eval's definitions.

Input is a ranking (the ids a search returned, best first) and each query's judged documents
with a relevance grade. A document is *relevant* when its grade is above 0; grades are the gains
of nDCG (linear gain, ``log2(rank + 1)`` discount, as trec_eval's ``ndcg_cut``).

==================  =============================================================  ============
metric              per query                                                      trec_eval
==================  =============================================================  ============
``recall@k``        relevant documents in the top k / all relevant documents       recall_k
``precision@k``     relevant documents in the top k / k                            P_k
``hit_rate@k``      1 if any relevant document is in the top k, else 0             success_k
``mrr@k``           1 / rank of the first relevant document in the top k, else 0   recip_rank
``ndcg@k``          DCG of the top k / DCG of the ideal top k                      ndcg_cut_k
``map@k``           sum of precision@rank at each relevant hit in the top k / R    map_cut_k
==================  =============================================================  ============

Conventions:

* **Ties** are broken before a metric sees the ranking: equal scores rank by the lower document
  index first, as ``core.search`` returns them; :func:`rank_scores` applies the same rule to a
  score matrix.
* ``precision@k`` divides by k even when fewer than k documents exist (trec_eval's ``P_k``).
* A query with **no relevant document** has no defined value: its per-query metrics are NaN and
  the averages leave it out (trec_eval skips such queries too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.errors import InvalidInputError

METRICS = ("recall@k", "precision@k", "hit_rate@k", "mrr@k", "ndcg@k", "map@k")

__all__ = ["METRICS", "mean_metrics", "per_query_metrics", "rank_scores"]


def rank_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """Top-``k`` column indices of each row of ``scores``, best first, ties by lower index.

    Parameters
    ----------
    scores : array_like of shape (n_queries, n_docs)
        Higher is better.
    k : int
        Cut-off; more than ``n_docs`` returns ``n_docs`` columns.

    Returns
    -------
    ndarray of int64, shape (n_queries, min(k, n_docs))
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise InvalidInputError(f"scores must be (n_queries, n_docs), got shape {scores.shape}")
    _check_k(k)
    index = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    order = np.lexsort((index, -scores), axis=1)
    return np.ascontiguousarray(order[:, :k], dtype=np.int64)


def _check_k(k) -> None:
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")


def per_query_metrics(
    ranked: np.ndarray, relevance: Sequence[Mapping[int, float]], k: int
) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRICS` for each query.

    Parameters
    ----------
    ranked : array_like of int, shape (n_queries, n_ranked)
        Document indices per query, best first (only the first ``k`` count); ``-1`` pads a row
        with fewer results.
    relevance : sequence of mapping, length n_queries
        Per query, document index -> grade; grades above 0 are relevant, higher is more.
    k : int
        Cut-off.

    Returns
    -------
    dict of str to ndarray of float64, shape (n_queries,)
        Keyed by the names in :data:`METRICS`; NaN for a query with no relevant document.
    """
    _check_k(k)
    ranked = np.asarray(ranked)
    if ranked.ndim != 2:
        raise InvalidInputError(f"ranked must be (n_queries, n_ranked), got shape {ranked.shape}")
    if len(relevance) != ranked.shape[0]:
        raise InvalidInputError(
            f"{ranked.shape[0]} rankings but relevance for {len(relevance)} queries; "
            "give one relevance mapping per query"
        )
    top = ranked[:, :k]
    m, width = top.shape
    gains = np.zeros((m, k), dtype=np.float64)
    n_relevant = np.zeros(m, dtype=np.float64)
    ideal = np.zeros(m, dtype=np.float64)
    discount = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    for q, grades in enumerate(relevance):
        positive = sorted((float(g) for g in grades.values() if g > 0), reverse=True)
        n_relevant[q] = len(positive)
        ideal[q] = float(np.dot(positive[:k], discount[: min(k, len(positive))]))
        for r in range(width):
            gains[q, r] = max(float(grades.get(int(top[q, r]), 0.0)), 0.0)
    hits = gains > 0
    n_hits = hits.sum(axis=1)
    cum_hits = np.cumsum(hits, axis=1)
    ranks = np.arange(1, k + 1, dtype=np.float64)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "recall@k": n_hits / n_relevant,
            "precision@k": n_hits / k,
            "hit_rate@k": (n_hits > 0).astype(np.float64),
            "mrr@k": np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0),
            "ndcg@k": (gains * discount).sum(axis=1) / ideal,
            "map@k": (hits * (cum_hits / ranks)).sum(axis=1) / n_relevant,
        }
    undefined = n_relevant == 0
    for values in out.values():
        values[undefined] = np.nan
    return out


def mean_metrics(per_query: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Average of each per-query metric over the queries that have a relevant document.

    Returns
    -------
    dict of str to float
        NaN for a metric when no query has a relevant document.
    """
    out = {}
    for name, values in per_query.items():
        values = np.asarray(values, dtype=np.float64)
        defined = values[~np.isnan(values)]
        out[name] = float(defined.mean()) if defined.size else float("nan")
    return out
