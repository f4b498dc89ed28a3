"""Merging partial top-k results: the reduce step of any blocked or sharded search."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import InvalidInputError


def merge_topk(
    parts: Sequence[tuple[np.ndarray, np.ndarray]], k: int, *, higher_is_better: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Merge partial top-k results of the same queries over disjoint parts of a corpus.

    Parameters
    ----------
    parts : sequence of (ids, scores)
        Each ``ids`` of shape ``(n_queries, k_i)`` (int, global corpus indices) and ``scores``
        of the same shape, as :func:`core.search.search` returns for one part (with its ids
        offset to the whole corpus). The ``k_i`` may differ (a part smaller than k).
    k : int
        Results kept per query (at most the total number of candidates).
    higher_is_better : bool
        False for distances (lower is better), e.g. euclidean.

    Returns
    -------
    ids : ndarray of shape (n_queries, k), int64
    scores : ndarray of shape (n_queries, k), float32
        Best first; equal scores ordered by the lower id, so the merge of any split of the
        corpus equals one search over the whole of it.
    """
    if not parts:
        raise InvalidInputError("merge_topk needs at least one part")
    ids = np.concatenate([np.asarray(i, dtype=np.int64) for i, _ in parts], axis=1)
    scores = np.concatenate([np.asarray(s, dtype=np.float32) for _, s in parts], axis=1)
    if ids.shape != scores.shape:
        raise InvalidInputError(
            f"ids of shape {ids.shape} and scores of shape {scores.shape} do not match"
        )
    if not 1 <= k <= ids.shape[1]:
        raise InvalidInputError(f"k must be from 1 to {ids.shape[1]} (the candidates), got {k}")
    # Ascending key = best first; -0.0 and +0.0 are one score (ties then go by id), as in the
    # scan's kernel (``core.search._kernels.TopK``), so a merge and a scan agree exactly.
    key = scores + np.float32(0.0)
    if higher_is_better:
        np.negative(key, out=key)
        key += np.float32(0.0)
    order = np.lexsort((ids, key), axis=-1)[:, :k]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)
