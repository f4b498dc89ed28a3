"""Blocked top-k scan shared by exact and quantised search.

A search walks the corpus in row blocks. Each block is scored against all queries at once
(one GEMM into a reused buffer) and only the scores that beat the current k-th best of their
query leave the block, so top-k selection costs one compare per score instead of a partition.
The corpus is split into one contiguous row range per worker thread; NumPy and BLAS release the
GIL, so two workers with single-threaded BLAS use both cores for the GEMM *and* the selection.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np

from core.errors import InvalidInputError
from core.search import _blas as blas

# Work below this many score-multiply-adds runs inline: threads would cost more than they save.
PARALLEL_MIN_WORK = 1 << 24
# Per-thread scratch targets: decoded corpus rows in L3, a score block in L2.
DECODE_BUFFER_BYTES = 8 << 20
SCORE_BLOCK_BYTES = 512 << 10
MIN_BLOCK_ROWS = 64

ScoreBlock = Callable[[int, int, dict], np.ndarray]


def n_workers() -> int:
    """Worker threads for a large scan: the usable cores (at most 8)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


_executor_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _executor(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool, created once (starting threads per search costs ~0.5 ms)."""
    global _pool, _pool_size
    with _executor_lock:
        if _pool is None or _pool_size < workers:
            _pool_size = max(workers, n_workers())
            _pool = ThreadPoolExecutor(_pool_size, thread_name_prefix="scan")
        return _pool


def block_rows(
    n: int, m: int, *, row_bytes: int = 0, budget_bytes: float | None = None, workers: int = 1
) -> int:
    """Rows per block so a worker's scratch stays in cache and within the budget.

    Parameters
    ----------
    n : int
        Corpus rows.
    m : int
        Queries scored per block (columns of the score block).
    row_bytes : int
        Scratch bytes per corpus row besides its scores (a decoded float32 row), 0 if none.
    budget_bytes : float, optional
        Total scratch allowed across workers; ``None`` means only the cache targets apply.
    workers : int
        Threads sharing the budget.
    """
    score_rows = SCORE_BLOCK_BYTES // (4 * m)
    rows = score_rows if row_bytes == 0 else min(score_rows, DECODE_BUFFER_BYTES // row_bytes)
    if m == 1 and row_bytes == 0:
        rows = 1 << 16  # one query streams the matrix: large blocks, tiny score vector
    if budget_bytes is not None:
        rows = min(rows, int(budget_bytes / workers / (4 * m + row_bytes + 8)))
    return int(max(MIN_BLOCK_ROWS, min(rows, max(n, 1))))


_SIGN = np.uint32(0x80000000)
MAX_ROWS = 1 << 32  # corpus indices must fit the low half of an ``order_keys`` key


def order_keys(scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """uint64 keys whose ascending order is score descending, then id ascending.

    The high half is the float32 score mapped to an order-preserving uint32 and inverted, the
    low half the id (``0 <= id < MAX_ROWS``; TopK's empty slots, id int64-max, sort last).
    Scores are finite or infinite, never NaN: the public entry points refuse NaN input (with
    ``check_finite=False`` the caller vouches for it), and a NaN would sort as the best score.
    """
    # + 0.0 turns -0.0 into +0.0: the two compare equal, so they must get the same key.
    bits = (np.asarray(scores, dtype=np.float32) + np.float32(0.0)).view(np.uint32)
    # Negative floats order backwards as integers: flip all their bits; set the sign bit of the
    # others. Then a larger float is a larger uint32.
    mono = np.where(bits & _SIGN, ~bits, bits | _SIGN)
    high = (~mono).astype(np.uint64) << np.uint64(32)
    return high | np.minimum(ids, MAX_ROWS - 1).astype(np.uint64)


class TopK:
    """Running k best (score, index) per query; higher score wins, lower index breaks ties.

    Parameters
    ----------
    m : int
        Number of queries.
    k : int
        Results kept per query, at least 1.
    """

    def __init__(self, m: int, k: int) -> None:
        self.m, self.k = m, k
        self.scores = np.full((m, k), -np.inf, dtype=np.float32)
        self.ids = np.full((m, k), np.iinfo(np.int64).max, dtype=np.int64)
        self.threshold = np.full(m, -np.inf, dtype=np.float32)
        self._filled = False
        self._mask = np.empty(0, dtype=bool)

    def push(self, block: np.ndarray, offset: int) -> None:
        """Offer a score block of shape (rows, m) whose row ``r`` is corpus index ``offset + r``.

        Blocks must arrive in increasing ``offset`` order, so an equal score never displaces an
        earlier (lower) index and the strict ``>`` test is exact.
        """
        if not self._filled:
            kth = min(self.k, block.shape[0])
            # ``>=`` keeps every tie at the boundary; the merge below orders them by index.
            # Partitioning each query's scores as a contiguous row is ~1.4x faster than along
            # the strided axis 0; flatnonzero + divmod is ~5x faster than a 2-D nonzero.
            per_query = np.ascontiguousarray(block.T)
            cut = np.partition(per_query, block.shape[0] - kth, axis=1)[:, block.shape[0] - kth]
            rows, cols = np.divmod(np.flatnonzero(block >= cut), self.m)
        else:
            size = block.size
            if self._mask.size < size:
                self._mask = np.empty(size, dtype=bool)
            mask = self._mask[:size].reshape(block.shape)
            np.greater(block, self.threshold, out=mask)
            flat = np.flatnonzero(mask)
            if not flat.size:
                return
            rows, cols = np.divmod(flat, self.m)
        if rows.size:
            self._merge(cols, block[rows, cols], rows + offset)

    def _merge(self, q: np.ndarray, scores: np.ndarray, ids: np.ndarray) -> None:
        """Merge candidates (query, score, id) into the running top-k of the queries they hit.

        One sort of packed keys (``order_keys``) plus a stable counting sort by query: about
        a quarter of the cost of a three-key ``lexsort``, and merges run once per block.
        """
        if q.size == 0:
            return
        k = self.k
        counts = np.bincount(q, minlength=self.m)
        hit = np.flatnonzero(counts)
        a = hit.size
        small = a <= np.iinfo(np.uint16).max
        rank = (np.cumsum(counts > 0) - 1).astype(np.uint16 if small else np.int64)
        group = np.concatenate([np.repeat(np.arange(a, dtype=rank.dtype), k), rank[q]])
        all_s = np.concatenate([self.scores[hit].ravel(), scores.astype(np.float32, copy=False)])
        all_i = np.concatenate([self.ids[hit].ravel(), ids.astype(np.int64, copy=False)])
        order = np.argsort(order_keys(all_s, all_i))
        order = order[np.argsort(group[order], kind="stable")]  # radix sort for uint16
        sizes = counts[hit] + k  # each hit query's k kept entries and its new candidates
        starts = np.cumsum(sizes) - sizes
        take = order[(starts[:, None] + np.arange(k)).ravel()]
        self.scores[hit] = all_s[take].reshape(a, k)
        self.ids[hit] = all_i[take].reshape(a, k)
        self.threshold[hit] = self.scores[hit, -1]
        if not self._filled:
            self._filled = bool(np.all(np.isfinite(self.threshold)))


def topk_of_blocks(blocks: Iterable[tuple[int, np.ndarray]], m: int, k: int):
    """The kernel: top-k of score blocks taken from an iterator.

    Parameters
    ----------
    blocks : iterable of (offset, scores)
        ``scores`` of shape (rows, m), higher is better, row ``r`` being corpus index
        ``offset + r``; offsets increasing. At least ``k`` rows in all.
    m, k : int
        Queries (columns of every block), results kept per query.

    Returns
    -------
    ids : ndarray of int64, shape (m, k)
    scores : ndarray of float32, shape (m, k)
        Best first, ties by lower index: the same order as :func:`core.search.merge_topk`.
    """
    acc = TopK(m, k)
    for offset, block in blocks:
        acc.push(block, offset)
    return acc.ids, acc.scores


def scan(
    n: int,
    m: int,
    k: int,
    score_block: ScoreBlock,
    *,
    rows_per_block: int,
    workers: int | None = None,
    work: int | None = None,
    executor: Executor | None = None,
    shards: Iterable[slice] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k over ``n`` corpus rows using ``score_block(start, stop, scratch) -> (rows, m)``.

    The corpus is cut into shards (one per worker), each shard into blocks by
    :func:`core.search._validation.row_blocks`; :func:`topk_of_blocks` runs on every shard in
    the executor, and the partial results are reduced by :func:`core.search.merge_topk`.

    Parameters
    ----------
    n, m, k : int
        Corpus rows, queries, results per query (``1 <= k <= n``).
    score_block : callable
        Returns ranking scores (higher is better) of rows ``start:stop`` for every query, as an
        array of shape (stop - start, m); may reuse buffers kept in ``scratch`` (a dict private
        to the calling worker).
    rows_per_block : int
        Block height.
    workers : int, optional
        Threads; default: the usable cores when ``work`` is large enough, else 1.
    work : int, optional
        Multiply-adds of the whole scan, used to decide whether threads pay off.
    executor : concurrent.futures.Executor, optional
        Where the shards run; default a process-wide thread pool (or inline for one worker).
    shards : iterable of slice, optional
        Row ranges covering ``0:n`` in order; default ``workers`` equal ranges.

    Returns
    -------
    ids : ndarray of int64, shape (m, k)
    scores : ndarray of float32, shape (m, k)
        Ranking scores, best first, ties by lower index.
    """
    from core.search._merge import merge_topk
    from core.search._validation import row_blocks

    if n >= MAX_ROWS:
        raise InvalidInputError(
            f"a scan covers fewer than {MAX_ROWS:,} rows, got {n:,}; split the corpus"
        )
    if workers is None:
        big = work is None or work >= PARALLEL_MIN_WORK
        workers = n_workers() if big else 1
    if workers > 1:  # a corpus that fits one cache-sized block is still split across the cores
        rows_per_block = min(rows_per_block, max(MIN_BLOCK_ROWS, -(-n // workers)))
    workers = max(1, min(workers, -(-n // rows_per_block)))
    if shards is None:
        bounds = np.linspace(0, n, workers + 1).astype(int)
        shards = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
    shards = [s for s in shards if s.stop > s.start]

    def run(shard: slice):
        scratch: dict = {}
        blocks = (
            (b.start, score_block(b.start, b.stop, scratch))
            for b in row_blocks(shard.stop, rows_per_block, shard.start)
        )
        return topk_of_blocks(blocks, m, min(k, shard.stop - shard.start))

    # Our threads split the corpus; BLAS threads inside them would only contend (and small
    # calls never gain from them), so BLAS runs single-threaded for the whole scan.
    with blas.single_threaded():
        if len(shards) == 1 and executor is None:
            return run(shards[0])
        parts = list((executor or _executor(workers)).map(run, shards))
    return merge_topk(parts, k)


def buffer(scratch: dict, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A reusable scratch array of at least ``shape[0]`` rows, sliced to ``shape``."""
    buf = scratch.get(name)
    if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != shape[1:] or buf.dtype != dtype:
        buf = np.empty(shape, dtype=dtype)
        scratch[name] = buf
    return buf[: shape[0]]
