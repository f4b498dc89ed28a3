"""Compiled scoring for the compressed modes' one-query path, with exact results.

A query against float16 or int8 rows is memory-bound: the fastest kernel is the one that reads
the codes once, at their own width, with SIMD conversion inside the dot product. NumPy cannot
(its float16 cast is scalar; a GEMM needs float32 operands), SimSIMD can: ``cdist`` on float16
rows uses F16C conversion and float32 FMA, on int8 rows an int32 dot product (VNNI). SimSIMD
needs the query in the rows' type, so its scores are approximations of the decoded rows'
scores, with an error bound this module computes per row and per query:

* float16: the query is rounded to half floats (after a power-of-two scale into their normal
  range) and the products summed in float32, so ``|r_i - x_i . q| <= |x_i| * delta`` with
  ``delta = (|q s - q_h| + (gamma_d + u) |q_h|) / s``;
* int8: ``x_i . q = codes_i . (q * scale) + offset . q``; the first term is computed from an
  int8 rounding ``q8 / t`` of ``q * scale`` exactly in integers, so
  ``|r_i - x_i . q| <= |codes_i| * |q * scale - q8 / t| + 2u |x_i| |q|`` (Cauchy-Schwarz; the
  last term covers the float32 decode the exact path rescores with).

:func:`top_candidates` ranks rows by an *upper bound* of their score (approximation plus twice
the bound), keeps the best ``pool`` of them and the next bound, rescores the pool exactly and
accepts when the k-th exact score beats every excluded row's upper bound; otherwise it retries
with a larger pool, and in the end tells the caller to use the NumPy path. So the result is the
exact search of the decoded rows, ties by index, whatever the kernel's rounding — the same as
the NumPy kernels, which the tests check against each other.

Whether a kernel is used: SimSIMD importable, its self-check passed on this CPU (some CPUs
have native half-float FMA, whose float16 accumulation breaks the float32 bound above: the
check measures that and turns the kernel off), and ``WORKBENCH_KERNELS`` is not ``numpy``.
"""

from __future__ import annotations

import functools
import math
import os
import threading

import numpy as np

from core.search import _kernels as kernels

MAX_QUERIES = 4  # the compiled path serves few queries; batches are GEMMs in NumPy
_U32 = 2.0**-24
_SAFETY = 2.0  # the bounds are rigorous for the kernels as documented; keep a factor in hand
_POOLS = (128, 1024, 16384)  # candidates rescored per try, at least 4k

_lock = threading.Lock()
_checked: dict[str, bool] = {}  # kind -> the self-check's verdict, once per process


def _simsimd():
    try:
        import simsimd
    except ImportError:
        return None
    return simsimd


def _switched_off() -> bool:
    return os.environ.get("WORKBENCH_KERNELS", "").strip().lower() == "numpy"


def available(kind: str) -> bool:
    """Whether the compiled kernel for ``kind`` ("float16" or "int8") is used here."""
    if _switched_off():
        return False
    with _lock:
        if kind not in _checked:
            _checked[kind] = _self_check(kind)
        return _checked[kind]


def _self_check(kind: str) -> bool:
    """Run the kernel on random rows and check its errors are inside the bound (or exact)."""
    sims = _simsimd()
    if sims is None:
        return False
    rng = np.random.default_rng(12345)
    d = 384
    try:
        if kind == "int8":
            a = rng.integers(-128, 128, (257, d)).astype(np.int8)
            q = rng.integers(-128, 128, (1, d)).astype(np.int8)
            got = np.asarray(sims.cdist(q, a, metric="dot", out_dtype="float64"))[0]
            return bool(np.array_equal(got, a.astype(np.int64) @ q[0].astype(np.int64)))
        a = rng.standard_normal((257, d)).astype(np.float16)
        q = rng.standard_normal((1, d)).astype(np.float16)
        got = np.asarray(sims.cdist(q, a, metric="dot", out_dtype="float64"))[0]
        exact = a.astype(np.float64) @ q[0].astype(np.float64)
        bound = _gamma(d) * np.linalg.norm(a.astype(np.float64), axis=1) * np.linalg.norm(q[0])
        # float32 accumulation errs well inside the bound; a float16 accumulator by ~1e3x more
        return bool(np.all(np.abs(got - exact) <= bound))
    except (TypeError, ValueError):  # an older SimSIMD without these types
        return False


def popcount_module():
    """``core.search._popcount`` (numba) when it is usable here, else None."""
    return None if _switched_off() else _import_popcount()


@functools.cache
def _import_popcount():
    try:
        from core.search import _popcount
    except ImportError:  # numba is optional (the `kernels` and `map` extras bring it)
        return None
    return _popcount


def _gamma(d: int) -> float:
    return (d + 1) * _U32 / (1 - (d + 1) * _U32)


class Float16Kernel:
    """SimSIMD float16 dot products of half-float rows with a rounded query."""

    def __init__(self, codes: np.ndarray, norms: np.ndarray) -> None:
        self.codes = codes
        self.row_len = self.norms64 = norms.astype(np.float64)

    def prepare(self, q: np.ndarray):
        """(query operand, divisor, delta): ``r = kernel / divisor``, error ``|x| * delta``."""
        q = q.astype(np.float64)
        peak = float(np.abs(q).max(initial=0.0))
        s = 2.0 ** (14 - math.ceil(math.log2(peak))) if peak > 0 else 1.0
        qs = q * s
        qh = qs.astype(np.float16)
        qh64 = qh.astype(np.float64)
        err = np.linalg.norm(qs - qh64) + (_gamma(self.codes.shape[1]) + _U32) * np.linalg.norm(
            qh64
        )
        # |x_i| comes from float32 norms: inflate for their rounding
        return qh[None, :], s, float(err / s) * (1 + 1e-6), 0.0

    def dots(self, operand, lo: int, hi: int, out: np.ndarray) -> np.ndarray:
        sims = _simsimd()
        return sims.cdist(operand, self.codes[lo:hi], metric="dot", out=out[None, :])


class Int8Kernel:
    """SimSIMD int8 dot products of the codes with an int8 rounding of ``q * scale``."""

    def __init__(self, codes: np.ndarray, scale: np.ndarray, offset: np.ndarray, norms) -> None:
        self.codes, self.scale, self.offset = codes, scale, offset
        self.norms64 = norms.astype(np.float64)
        lens = np.empty(codes.shape[0], dtype=np.float64)
        for lo in range(0, codes.shape[0], 1 << 16):
            block = codes[lo : lo + (1 << 16)].astype(np.float32)
            lens[lo : lo + block.shape[0]] = np.sqrt(np.einsum("ij,ij->i", block, block))
        self.row_len = lens

    def prepare(self, q: np.ndarray):
        q = q.astype(np.float64)
        qs = q * self.scale.astype(np.float64)
        peak = float(np.abs(qs).max(initial=0.0))
        t = 127.0 / peak if peak > 0 else 1.0
        q8 = np.clip(np.rint(qs * t), -127, 127)
        delta = float(np.linalg.norm(qs - q8 / t))
        shift = float(q @ self.offset.astype(np.float64))
        # the exact path rescores float32-decoded rows: |x_dec - x| <= u |x| per value
        self._decode_err = 2 * _U32 * float(np.linalg.norm(q)) * (1 + 1e-6)
        return q8.astype(np.int8)[None, :], t, delta, shift

    def extra_error(self, lo: int, hi: int) -> np.ndarray:
        return self.norms64[lo:hi] * self._decode_err

    def dots(self, operand, lo: int, hi: int, out: np.ndarray) -> np.ndarray:
        sims = _simsimd()
        return sims.cdist(operand, self.codes[lo:hi], metric="dot", out=out[None, :])


def top_candidates(kernel, q: np.ndarray, k: int, terms, exact_ranks, n: int):
    """Ids of shape (m, pool) holding each query's exact top ``k``, or None (use NumPy).

    Parameters
    ----------
    kernel : Float16Kernel or Int8Kernel
    q : ndarray of shape (m, d), float32
        Queries as the metric scores them (``m <= MAX_QUERIES``).
    k : int
        Results per query (``k <= n``).
    terms : (qf, row_scale, row_sub)
        The metric's ranking ``(x . q) * qf * row_scale - row_sub`` (``row_scale`` and
        ``row_sub`` arrays of shape (n,) or None), monotone in the metric's score.
    exact_ranks : callable
        ``(query_index, ids) -> float64 ranking`` of rows ``ids`` computed exactly.
    n : int
        Rows.
    """
    qf, row_scale, row_sub = terms
    rows_mag = kernel.norms64 if row_scale is None else kernel.norms64 * row_scale
    magnitude = qf * np.linalg.norm(q.astype(np.float64), axis=1) * float(rows_mag.max())
    if row_sub is not None:
        magnitude = magnitude + float(row_sub.max())
    out = []
    for j in range(q.shape[0]):
        operand, divisor, delta, shift = kernel.prepare(q[j])
        found = None
        for pool in _POOLS:
            pool = max(pool, 4 * k)
            if pool >= n:
                found = np.arange(n, dtype=np.int64)
                break
            ids, next_upper = _scan_upper(
                kernel, operand, divisor, delta, shift, qf, row_scale, row_sub, n, pool
            )
            ranks = np.sort(exact_ranks(j, ids))[::-1]
            kth = ranks[k - 1]
            # The ranking's row terms are float32 (norms, their inverses, squared norms), as in
            # the exact path: allow their rounding on both sides of the comparison.
            slack = 16 * _U32 * magnitude[j]
            if next_upper + slack < kth:
                found = ids
                break
        if found is None:
            return None
        out.append(found)
    # Pools can differ in size between queries; a smaller one is topped up with other rows (a
    # superset of a proven pool still holds the exact top k, and every row is distinct, so no
    # row can come back twice).
    width = max(len(f) for f in out)
    return np.stack([_top_up(f, width, n) for f in out])


def _top_up(ids: np.ndarray, width: int, n: int) -> np.ndarray:
    """``ids`` followed by the first rows not among them, ``width`` distinct rows in all."""
    if ids.size == width:
        return ids
    others = np.setdiff1d(np.arange(min(n, width + ids.size)), ids)[: width - ids.size]
    return np.concatenate([ids, others.astype(np.int64)])


def _scan_upper(kernel, operand, divisor, delta, shift, qf, row_scale, row_sub, n, pool):
    """Best ``pool`` rows by upper bound, and the best upper bound left out (pool + 1-th)."""
    extra = getattr(kernel, "extra_error", None)

    def score_block(lo, hi, scratch):
        raw = kernels.buffer(scratch, "raw", (hi - lo,), np.float64)
        kernel.dots(operand, lo, hi, raw)
        upper = kernels.buffer(scratch, "upper", (hi - lo,), np.float64)
        # r = raw / divisor + shift; upper = (r + SAFETY * |row| * delta) * qf * scale - sub
        np.divide(raw, divisor, out=upper)
        upper += shift
        err = kernel.row_len[lo:hi] * (_SAFETY * delta)
        if extra is not None:
            err += _SAFETY * extra(lo, hi)
        upper += err
        upper *= qf
        if row_scale is not None:
            upper *= row_scale[lo:hi]
        if row_sub is not None:
            upper -= row_sub[lo:hi]
        # float32 for the running top-k, rounded up so it stays an upper bound
        up32 = kernels.buffer(scratch, "up32", (hi - lo, 1), np.float32)
        np.copyto(up32[:, 0], upper + np.abs(upper) * 2.0**-23, casting="unsafe")
        return up32

    rows = min(1 << 16, max(kernels.MIN_BLOCK_ROWS, n))
    ids, scores = kernels.scan(n, 1, pool + 1, score_block, rows_per_block=rows, work=n * 64)
    return ids[0, :pool], float(scores[0, pool])
