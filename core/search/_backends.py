"""Search backends: where :func:`core.search.search` runs, chosen by one argument.

``backend="local"`` (default) is this process (:mod:`core.search._engine`); ``backend="dask"``
runs the same per-block kernel on a Dask cluster (:mod:`core.distributed`, the optional ``dask``
extra) and merges with :func:`core.search.merge_topk`. A backend is one entry here: the name and
where its ``search(corpus, queries, k, method, *, client, **options)`` lives, imported only when
asked for, so the local engine never needs the cluster packages.
"""

from __future__ import annotations

import importlib

from core.errors import InvalidInputError
from core.search._engine import search as local_search

# name -> "module:function"; the function takes (corpus, queries, k, method, *, client, **options).
BACKENDS: dict[str, str] = {"dask": "core.distributed._search:search"}


def search(corpus, queries, k: int = 10, method="cosine", *, backend: str = "local", client=None,
           **options):  # fmt: skip
    """Top-k search of every query against the corpus, here or on a cluster.

    Parameters
    ----------
    corpus : array_like of shape (n_docs, dim), or (with ``backend="dask"``) a collection or the
        path of a saved collection
    queries : array_like of shape (n_queries, dim) or (dim,)
    k : int
    method : {"cosine", "dot", "euclidean"}
    backend : {"local", "dask"}
        ``"local"``: this process. ``"dask"``: the cluster of ``client``; identical results.
    client : distributed.Client, optional
        Required by ``backend="dask"``.
    **options
        Passed on (``mode``, ``memory_budget_mb``, ``check_finite``, ``corpus_norms``).

    Returns
    -------
    ids : ndarray of shape (n_queries, min(k, n_docs)), int64
    scores : ndarray of shape (n_queries, min(k, n_docs)), float32
        Higher is better for every metric (euclidean: the negative distance); ties by lower id.
    """
    if backend == "local":
        if client is not None:
            raise InvalidInputError('client= is for backend="dask"; pass backend="dask" with it')
        return local_search(corpus, queries, k, method, **options)
    if backend not in BACKENDS:
        raise InvalidInputError(
            f"unknown search backend {backend!r}; choose one of {['local', *BACKENDS]}"
        )
    module, _, name = BACKENDS[backend].partition(":")
    return getattr(importlib.import_module(module), name)(
        corpus, queries, k, method, client=client, **options
    )
