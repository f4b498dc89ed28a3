"""Exact top-k search on a Dask cluster: one task per shard, merged like the local engine.

``core.search.search(corpus, queries, k, method, backend="dask", client=client)`` lands here.

- **Shards are read by the workers**, from a path every worker can read: a task carries only the
  collection's path and the shard's name, count and hash, never the vectors (pickling a
  memory-mapped array into the graph costs seconds per query). Each worker memory-maps its shards
  once and keeps them, with their row norms and any compressed index, in a cache keyed by path,
  shard and content hash, so later queries read nothing again.
- **The same kernel**: each task runs the single-process engine's own per-shard step
  (:meth:`core.data._shards.ShardState.search`, i.e. :func:`core.search.search` on the shard) and
  returns that shard's top-k with global ids; the client merges them with
  :func:`core.search.merge_topk`. Results equal the local search, ties across shards included.
- **A batch of queries is one task per shard**, not one per query.
- **Shard ``i`` prefers worker ``i mod n``** (so its cache is reused) but may run elsewhere: a
  worker lost mid-search has its tasks rerun on another one by the scheduler; if that keeps
  failing, :class:`core.errors.ClusterError` says so. A result is never partial.

Corpora: a sharded collection (object or path), a saved collection (object or path: its
memory-mapped ``vectors.npy`` is cut into row ranges the workers map themselves), or a plain
array (scattered to the workers once per call; for repeated searches, shard it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from core.data._collection import Collection
from core.data._shards import (
    ShardedCollection,
    ShardInfo,
    ShardState,
    check_queries,
    is_sharded,
    open_shard,
)
from core.distributed._cluster import require_distributed, worker_addresses
from core.errors import ClusterError, InvalidInputError
from core.search import Metric, as_matrix, merge_topk
from core.search import search as core_search

# Rows per task when a saved (unsharded) collection or a plain array is cut up.
_ROWS_PER_TASK = 1_000_000
_SCATTER_QUERIES_BYTES = 64 * 1024

# Worker side: opened shards, kept across queries. Key: (path, shard name, content hash).
_SHARDS: dict[tuple, ShardState] = {}
_SHARDS_LOCK = threading.Lock()


def search(
    corpus,
    queries,
    k: int = 10,
    method: str | Metric = "cosine",
    *,
    client,
    mode: str = "float32",
    **options,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k search on the Dask cluster of ``client``; same results as the local engine.

    Parameters
    ----------
    corpus : ShardedCollection, Collection, path, or array_like of shape (n_docs, dim)
        A path may name a sharded or a saved collection; it must be readable by every worker.
    queries : array_like of shape (n_queries, dim) or (dim,)
    k : int
    method : {"cosine", "dot", "euclidean"}
    client : distributed.Client
    mode : {"float32", "float16", "int8", "binary"}
        Compressed modes need a sharded collection (each shard keeps its own index, as in
        :meth:`ShardedCollection.search`).
    **options
        ``memory_budget_mb`` per task; for arrays also ``check_finite``, ``corpus_norms``.

    Returns
    -------
    ids : ndarray of shape (n_queries, min(k, n_docs)), int64
    scores : ndarray of shape (n_queries, min(k, n_docs)), float32
        Higher is better for every metric; ties by lower id.

    Raises
    ------
    InvalidInputError
        Bad queries, k, method, mode or corpus (before anything is sent).
    ClusterError
        Workers kept dying or the cluster is unreachable; no partial result.
    """
    if client is None:
        raise InvalidInputError('backend="dask" needs client= (a distributed.Client)')
    require_distributed()
    method = Metric.parse(method)
    if isinstance(corpus, str | os.PathLike):
        corpus = _open_path(Path(corpus))
    if isinstance(corpus, ShardedCollection):
        queries = check_queries(queries, corpus.dimension, len(corpus), k)
        tasks = [(_search_shard, (str(corpus.root), shard)) for shard in corpus.shards]
        total = len(corpus)
    else:
        if isinstance(corpus, Collection):  # checked when it was made or loaded
            corpus = corpus.embeddings
            options.setdefault("check_finite", False)
        if mode != "float32":
            raise InvalidInputError(
                f"mode={mode!r} on a cluster needs a sharded collection (each shard keeps its own "
                "index): save the vectors as a collection and shard it "
                "(`embedding-workbench shard COLLECTION --rows-per-shard N`)"
            )
        tasks, total, queries = _array_tasks(client, corpus, queries, k, options)
    return _run(client, tasks, queries, k, method, mode, options, total)


def _open_path(path: Path):
    if is_sharded(path):
        return ShardedCollection.open(path)
    return Collection.load(path, mmap=True, verify=False)


def _array_tasks(client, corpus, queries, k, options):
    """Tasks over row ranges of an array: by file path if it is memory-mapped, else scattered."""
    check_finite = options.pop("check_finite", True)
    norms = options.pop("corpus_norms", None)
    file = _mapped_file(corpus)
    # A memory-mapped corpus is checked by the workers (each its rows, once); others here.
    matrix = corpus if file else as_matrix(corpus, "corpus", check_finite=check_finite)
    if matrix.ndim != 2:
        raise InvalidInputError(f"corpus must be 2-D (n_docs, dim), got shape {matrix.shape}")
    queries = check_queries(queries, matrix.shape[1], matrix.shape[0], k)
    n = matrix.shape[0]
    ranges = [(lo, min(lo + _ROWS_PER_TASK, n)) for lo in range(0, n, _ROWS_PER_TASK)]
    tasks = []
    for lo, hi in ranges:
        part_norms = None if norms is None else np.ascontiguousarray(norms[lo:hi], np.float32)
        if file is not None:
            tasks.append((_search_file_rows, (*file, lo, hi, part_norms, check_finite)))
        else:
            block = client.scatter(np.ascontiguousarray(matrix[lo:hi]), hash=False)
            tasks.append((_search_block, (block, lo, part_norms)))
    return tasks, n, queries


def _mapped_file(matrix: np.ndarray):
    """(path, byte offset, shape) if ``matrix`` is a whole C-ordered float32 memory map."""
    if not isinstance(matrix, np.memmap) or getattr(matrix, "filename", None) is None:
        return None
    if matrix.dtype != np.float32 or not matrix.flags.c_contiguous or matrix.ndim != 2:
        return None
    if isinstance(matrix.base, np.memmap):  # a view: its offset attribute is the parent's
        return None
    return (str(matrix.filename), int(matrix.offset), tuple(int(s) for s in matrix.shape))


def _run(client, tasks, queries, k, method, mode, options, total):
    distributed = require_distributed()
    workers = worker_addresses(client)
    if queries.nbytes > _SCATTER_QUERIES_BYTES:
        queries = client.scatter(queries, hash=False, broadcast=False)
    futures = [
        client.submit(
            function,
            *args,
            queries,
            k,
            method.value,
            mode,
            options,
            workers=[workers[i % len(workers)]],
            allow_other_workers=True,
            pure=False,
        )
        for i, (function, args) in enumerate(tasks)
    ]
    try:
        parts = client.gather(futures)
    except distributed.KilledWorker as exc:
        raise ClusterError(
            f"the search failed: {exc.last_worker.address if exc.last_worker else 'a worker'} "
            f"died while scoring a shard, and so did the workers it was retried on; no partial "
            "result is returned. Check the workers' memory and logs, then search again."
        ) from None
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"the search failed: lost contact with the Dask cluster ({exc}); no partial result "
            "is returned. Check the scheduler, then search again."
        ) from None
    finally:
        client.cancel(futures)
    return merge_topk(parts, min(k, total))


# ------------------------------------------------------------------------ worker side


def _search_shard(root: str, shard: ShardInfo, queries, k, method, mode, options):
    """Worker task: this shard's top-k (global ids), from the worker's kept copy of it."""
    key = (root, shard.name, shard.content_hash)
    with _SHARDS_LOCK:
        state = _SHARDS.get(key)
        if state is None:
            state = _SHARDS[key] = open_shard(root, shard)
    return state.search(queries, k, Metric.parse(method), mode, options)


def _search_file_rows(path, offset, shape, lo, hi, norms, check_finite, queries, k, method, mode,
                      options):  # fmt: skip
    """Worker task: rows ``lo:hi`` of a memory-mapped ``.npy`` the worker opens itself."""
    key = (path, offset, shape, lo, hi)
    with _SHARDS_LOCK:
        state = _SHARDS.get(key)
        if state is None:
            try:
                whole = np.memmap(path, dtype=np.float32, mode="r", offset=offset, shape=shape)
            except (OSError, ValueError) as exc:
                raise ClusterError(
                    f"a worker cannot read {path} ({exc}); the collection must be on a path every "
                    "worker can read"
                ) from None
            if check_finite:  # once, when the rows are first mapped
                as_matrix(whole[lo:hi], f"corpus rows {lo}:{hi}", check_finite=True)
            state = _SHARDS[key] = ShardState(whole[lo:hi], lo, norms)
    return state.search(queries, k, Metric.parse(method), mode, options)


def _search_block(block, lo, norms, queries, k, method, mode, options):
    """Worker task: a scattered block of an in-memory corpus (checked by the client)."""
    ids, scores = core_search(
        block, queries, min(k, block.shape[0]), method, check_finite=False,
        corpus_norms=norms, **options,
    )  # fmt: skip
    return ids.astype(np.int64) + lo, scores
