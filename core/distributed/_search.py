"""Exact top-k search on a Dask cluster: one task per shard, merged like the local engine.

``core.search.search(corpus, queries, k, method, backend="dask", client=client)`` lands here.

- **Shards are read by the workers**, from a path every worker can read: a task carries only the
  collection's path and the shard's name, count and hash, never the vectors (pickling a
  memory-mapped array into the graph costs seconds per query). Each worker memory-maps its shards
  once and keeps them, with their row norms and any compressed index, in a cache keyed by path,
  shard and content hash, so later queries read nothing again. The cache is bounded by bytes,
  least recently used shard first out (:class:`ShardCache`).
- **The same kernel**: each task runs the single-process engine's own per-shard step
  (:meth:`core.data._shards.ShardState.search`, i.e. :func:`core.search.search` on the shard) and
  returns that shard's top-k with global ids; the client merges them with
  :func:`core.search.merge_topk`. Results equal the local search, ties across shards included.
- **A batch of queries is one task per shard**, not one per query.
- **Filters and MMR**: with ``where`` each task first filters its shard's documents (the
  shard's Parquet metadata, read by the worker) and scores only the passing rows; with ``mmr``
  the top ``fetch_k`` candidates come from the cluster and are re-ranked here by the same
  selection as the local search.
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
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.data._collection import Collection
from core.data._shards import (
    ShardedCollection,
    ShardInfo,
    ShardState,
    check_mmr,
    check_queries,
    is_sharded,
    merge_parts,
    mmr_rerank,
    open_shard,
    prepare_where,
    shard_rows,
)
from core.distributed._cluster import require_distributed, worker_addresses
from core.errors import ClusterError, InvalidInputError
from core.search import Metric, as_matrix

# Rows per task when a saved (unsharded) collection or a plain array is cut up.
_ROWS_PER_TASK = 1_000_000
_SCATTER_QUERIES_BYTES = 64 * 1024

SHARD_CACHE_ENV = "WORKBENCH_DASK_SHARD_CACHE_MB"


class ShardCache:
    """A worker's opened shards, kept across queries, least recently used evicted first.

    Bounded by bytes (:attr:`ShardState.nbytes`: the mapped vectors, which a search reads
    whole and so keeps resident while mapped, plus the row norms and indexes built for it).
    The bound, in MB: the ``shard_cache_mb`` of the latest search, else
    ``$WORKBENCH_DASK_SHARD_CACHE_MB`` on the worker, else the worker's Dask memory limit (none:
    unbounded). The shard just used stays even if it alone is over the bound; an evicted shard
    is simply opened again (memory-mapped: no copy) when next needed.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple, ShardState] = OrderedDict()
        self.limit_bytes: int | None = None  # set by a search's shard_cache_mb
        self.evictions = 0

    def get(self, key: tuple, opener) -> ShardState:
        with self.lock:
            state = self.entries.get(key)
            if state is None:
                state = self.entries[key] = opener()
            self.entries.move_to_end(key)
            return state

    def nbytes(self) -> int:
        with self.lock:
            return sum(state.nbytes for state in self.entries.values())

    def trim(self, limit_mb: float | None) -> None:
        """Apply the bound after a search (a state grows when it builds norms or an index)."""
        limit = _limit_bytes(limit_mb) if limit_mb is not None else self.limit_bytes
        if limit_mb is not None:
            self.limit_bytes = limit
        if limit is None:
            limit = _default_limit_bytes()
        if limit is None:
            return
        with self.lock:
            total = sum(state.nbytes for state in self.entries.values())
            while total > limit and len(self.entries) > 1:
                _, state = self.entries.popitem(last=False)
                total -= state.nbytes
                self.evictions += 1


def _limit_bytes(limit_mb) -> int:
    if isinstance(limit_mb, bool) or not isinstance(limit_mb, int | float) or limit_mb <= 0:
        raise InvalidInputError(f"shard_cache_mb must be a positive number, got {limit_mb!r}")
    return int(limit_mb * 2**20)


def _default_limit_bytes() -> int | None:
    raw = os.environ.get(SHARD_CACHE_ENV, "").strip()
    if raw:
        try:
            return _limit_bytes(float(raw))
        except (ValueError, InvalidInputError):
            raise InvalidInputError(
                f"{SHARD_CACHE_ENV}={raw!r} on this worker: give the shard cache bound in MB, "
                "a positive number"
            ) from None
    try:
        worker = require_distributed().get_worker()
    except ValueError:
        return None
    limit = getattr(getattr(worker, "memory_manager", None), "memory_limit", None)
    return int(limit) if limit else None


# Worker side: opened shards, kept across queries. Key: (path, shard name, content hash).
_SHARDS = ShardCache()


def search(
    corpus,
    queries,
    k: int = 10,
    method: str | Metric = "cosine",
    *,
    client,
    mode: str = "float32",
    where=None,
    mmr: float | None = None,
    fetch_k: int | None = None,
    shard_cache_mb: float | None = None,
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
    where : dict, str, callable or bool array of shape (n_docs,), optional
        Metadata filter (see :meth:`core.data.Collection.search`), applied before top-k. On a
        sharded collection each worker filters its own shards' documents (their Parquet); on a
        saved collection the client selects the rows and each task scores only its share.
        Plain arrays have no metadata: filter with a bool array.
    mmr : float in [0, 1], optional
        Re-rank by maximal marginal relevance: the top ``fetch_k`` candidates (default
        ``max(20, 4k)``) are found on the cluster, then re-ranked here with the same selection
        as the local search.
    shard_cache_mb : float, optional
        Bound of each worker's cache of opened shards (see :class:`ShardCache`); kept by the
        workers for later searches.
    **options
        ``memory_budget_mb`` per task; for arrays also ``check_finite``, ``corpus_norms``.

    Returns
    -------
    ids : ndarray of shape (n_queries, k'), int64
    scores : ndarray of shape (n_queries, k'), float32
        Higher is better for every metric; ties by lower id. ``k'`` is ``min(k, n_docs)``, or
        the number of documents passing the filter when fewer.

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
    fetch = k if mmr is None else check_mmr(mmr, k, fetch_k)
    if shard_cache_mb is not None:
        _limit_bytes(shard_cache_mb)  # checked here, applied on the workers
    if isinstance(corpus, str | os.PathLike):
        corpus = _open_path(Path(corpus))
    vectors_at = None
    if isinstance(corpus, ShardedCollection):
        queries = check_queries(queries, corpus.dimension, len(corpus), k)
        wheres = prepare_where(where, corpus.shards, len(corpus), corpus.metadata_columns)
        tasks = [
            (_search_shard, (str(corpus.root), shard, None if wheres is None else wheres[i]))
            for i, shard in enumerate(corpus.shards)
        ]
        vectors_at = corpus.vectors_at
    else:
        rows = None
        if isinstance(corpus, Collection):  # checked when it was made or loaded
            if where is not None:
                rows = corpus.select(where)
            corpus = corpus.embeddings
            options.setdefault("check_finite", False)
        elif where is not None:
            if not isinstance(where, np.ndarray):
                raise InvalidInputError(
                    "a plain array has no metadata to filter on: search a collection, or give "
                    "where= as a bool array of shape (n_docs,)"
                )
            n_docs = np.shape(corpus)[0]
            if where.dtype != bool or where.shape != (n_docs,):
                raise InvalidInputError(
                    f"a filter array must be bool of shape ({n_docs},), got {where.dtype} of "
                    f"shape {where.shape}"
                )
            rows = np.flatnonzero(where)
        if mode != "float32":
            raise InvalidInputError(
                f"mode={mode!r} on a cluster needs a sharded collection (each shard keeps its own "
                "index): save the vectors as a collection and shard it "
                "(`embedding-workbench shard COLLECTION --rows-per-shard N`)"
            )
        tasks, queries = _array_tasks(client, corpus, queries, k, options, rows)
        matrix = corpus
        vectors_at = lambda ids: np.asarray(matrix[ids], dtype=np.float32)  # noqa: E731
    ids, scores = _run(client, tasks, queries, fetch, method, mode, options, shard_cache_mb)
    if mmr is None:
        return ids, scores
    return mmr_rerank(queries, ids, scores, vectors_at, k, mmr)


def _open_path(path: Path):
    if is_sharded(path):
        return ShardedCollection.open(path)
    return Collection.load(path, mmap=True, verify=False)


def _array_tasks(client, corpus, queries, k, options, rows=None):
    """Tasks over row ranges of an array: by file path if it is memory-mapped, else scattered.
    ``rows``: the sorted rows passing a filter (each task gets its share), or None for all."""
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
        part_rows = None
        if rows is not None:
            part_rows = rows[(rows >= lo) & (rows < hi)] - lo
        part_norms = None if norms is None else np.ascontiguousarray(norms[lo:hi], np.float32)
        if file is not None:
            tasks.append((_search_file_rows, (*file, lo, hi, part_norms, check_finite, part_rows)))
        else:
            block = client.scatter(np.ascontiguousarray(matrix[lo:hi]), hash=False)
            tasks.append((_search_block, (block, lo, part_norms, part_rows)))
    return tasks, queries


def _mapped_file(matrix: np.ndarray):
    """(path, byte offset, shape) if ``matrix`` is a whole C-ordered float32 memory map."""
    if not isinstance(matrix, np.memmap) or getattr(matrix, "filename", None) is None:
        return None
    if matrix.dtype != np.float32 or not matrix.flags.c_contiguous or matrix.ndim != 2:
        return None
    if isinstance(matrix.base, np.memmap):  # a view: its offset attribute is the parent's
        return None
    return (str(matrix.filename), int(matrix.offset), tuple(int(s) for s in matrix.shape))


def _run(client, tasks, queries, k, method, mode, options, shard_cache_mb):
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
            shard_cache_mb,
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
    return merge_parts(parts, k, queries.shape[0])


# ------------------------------------------------------------------------ worker side


def _search_shard(root: str, shard: ShardInfo, where, queries, k, method, mode, options,
                  cache_mb):  # fmt: skip
    """Worker task: this shard's top-k (global ids), from the worker's kept copy of it; with a
    filter, only the shard's rows passing it (read from its Parquet metadata) are scored."""
    state = _SHARDS.get((root, shard.name, shard.content_hash), lambda: open_shard(root, shard))
    rows = shard_rows(root, shard, where)
    try:
        return state.search(queries, k, Metric.parse(method), mode, options, rows)
    finally:
        _SHARDS.trim(cache_mb)


def _search_file_rows(path, offset, shape, lo, hi, norms, check_finite, rows, queries, k, method,
                      mode, options, cache_mb):  # fmt: skip
    """Worker task: rows ``lo:hi`` of a memory-mapped ``.npy`` the worker opens itself."""

    def opener():
        try:
            whole = np.memmap(path, dtype=np.float32, mode="r", offset=offset, shape=shape)
        except (OSError, ValueError) as exc:
            raise ClusterError(
                f"a worker cannot read {path} ({exc}); the collection must be on a path every "
                "worker can read"
            ) from None
        if check_finite:  # once, when the rows are first mapped
            as_matrix(whole[lo:hi], f"corpus rows {lo}:{hi}", check_finite=True)
        return ShardState(whole[lo:hi], lo, norms)

    state = _SHARDS.get((path, offset, shape, lo, hi), opener)
    try:
        return state.search(queries, k, Metric.parse(method), mode, options, rows)
    finally:
        _SHARDS.trim(cache_mb)


def _search_block(block, lo, norms, rows, queries, k, method, mode, options, cache_mb):
    """Worker task: a scattered block of an in-memory corpus (checked by the client)."""
    del cache_mb  # a scattered block is Dask's to keep, not the shard cache's
    return ShardState(block, lo, norms).search(queries, k, Metric.parse(method), mode, options,
                                               rows)  # fmt: skip
