"""Hamming candidates for the binary mode, compiled with numba (imported only when present).

NumPy has no popcount matrix product, so its batch path unpacks bits into a float32 GEMM as
large as exact search. Here each worker walks its own row range in blocks of 512 codes, turns
the block word-major (so the inner loop is ``popcount(words ^ query_word)`` over contiguous
rows, which LLVM turns into SIMD popcounts where the CPU has them, e.g. AVX-512 VPOPCNTDQ),
and keeps, per query, the best ``pool`` rows by (distance, row) exactly: a buffer of
candidates below the current cut-off, compacted by a counting pass when it fills. Rows arrive
in index order, so among equal distances the first ones kept are the lowest rows, the same
ties as :func:`core.search._kernels.scan`. The caller merges the workers' pools.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_BLOCK = 512


@intrinsic
def _popcount(typingctx, x):
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.ctpop.i64")
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True)
def _compact(bd, bi, cnt, pool, maxd):
    """Keep the best ``pool`` of ``cnt`` buffered (distance, row) pairs, in row order.

    Returns the new count and the cut-off: the pool-th distance, which a later row (a higher
    index) must beat strictly.
    """
    hist = np.zeros(maxd + 2, np.int64)
    for e in range(cnt):
        hist[bd[e]] += 1
    below = 0
    v = 0
    while v <= maxd and below + hist[v] < pool:
        below += hist[v]
        v += 1
    ties = pool - below  # rows at distance v kept: the first ones, i.e. the lowest indices
    out = 0
    for e in range(cnt):
        dv = bd[e]
        if dv < v or (dv == v and ties > 0):
            if dv == v:
                ties -= 1
            bd[out] = dv
            bi[out] = bi[e]
            out += 1
    return out, v


@njit(parallel=True, cache=True)
def _pools(codes, qc, pool, chunks, out_d, out_i, out_n):
    n, w = codes.shape
    m = qc.shape[0]
    maxd = 64 * w
    cap = 2 * pool
    for c in prange(chunks):
        lo = n * c // chunks
        hi = n * (c + 1) // chunks
        tb = np.empty((w, _BLOCK), np.uint64)
        dist = np.empty(_BLOCK, np.uint64)
        bd = np.empty((m, cap), np.int64)
        bi = np.empty((m, cap), np.int64)
        cnt = np.zeros(m, np.int64)
        thr = np.full(m, maxd + 1, np.int64)
        for b0 in range(lo, hi, _BLOCK):
            rows = min(_BLOCK, hi - b0)
            for i in range(rows):
                for t in range(w):
                    tb[t, i] = codes[b0 + i, t]
            for j in range(m):
                for i in range(rows):
                    dist[i] = 0
                for t in range(w):
                    qw = qc[j, t]
                    for i in range(rows):
                        dist[i] += _popcount(tb[t, i] ^ qw)
                th = thr[j]
                for i in range(rows):
                    dv = np.int64(dist[i])
                    if dv < th:
                        e = cnt[j]
                        bd[j, e] = dv
                        bi[j, e] = b0 + i
                        cnt[j] = e + 1
                        if e + 1 == cap:
                            cnt[j], th = _compact(bd[j], bi[j], cap, pool, maxd)
                            thr[j] = th
        for j in range(m):
            if cnt[j] > pool:
                cnt[j], _ = _compact(bd[j], bi[j], cnt[j], pool, maxd)
            out_n[c, j] = cnt[j]
            for e in range(cnt[j]):
                out_d[c, j, e] = bd[j, e]
                out_i[c, j, e] = bi[j, e]


def hamming_candidates(codes: np.ndarray, qc: np.ndarray, pool: int, chunks: int) -> np.ndarray:
    """Ids (m, pool) of the ``pool`` rows nearest each query code, by (distance, row).

    Parameters
    ----------
    codes : ndarray of uint64, shape (n, words)
    qc : ndarray of uint64, shape (m, words)
    pool : int
        Rows per query, ``1 <= pool <= n``.
    chunks : int
        Row ranges scanned in parallel (the worker threads).
    """
    n = codes.shape[0]
    m = qc.shape[0]
    chunks = max(1, min(chunks, n // max(pool, 1)))
    out = np.empty((m, pool), np.int64)
    group = 256  # queries per pass: bounds the per-worker buffers (group x 2 pool pairs)
    for g0 in range(0, m, group):
        q = np.ascontiguousarray(qc[g0 : g0 + group])
        out_d = np.empty((chunks, q.shape[0], pool), np.int64)
        out_i = np.empty_like(out_d)
        out_n = np.empty((chunks, q.shape[0]), np.int64)
        _pools(np.ascontiguousarray(codes), q, pool, chunks, out_d, out_i, out_n)
        for j in range(q.shape[0]):
            ids = np.concatenate([out_i[c, j, : out_n[c, j]] for c in range(chunks)])
            dist = np.concatenate([out_d[c, j, : out_n[c, j]] for c in range(chunks)])
            out[g0 + j] = ids[np.lexsort((ids, dist))[:pool]]
    return out
