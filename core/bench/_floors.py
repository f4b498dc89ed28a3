"""Hardware floors: streaming the matrix once (memory bound) and the bare GEMM (compute bound)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from core.bench._timing import measure
from core.search._kernels import block_rows, n_workers
from core.search._validation import row_blocks


def _threaded_sum(x: np.ndarray, workers: int) -> float:
    bounds = np.linspace(0, x.shape[0], workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        parts = pool.map(lambda lo, hi: float(x[lo:hi].sum()), bounds[:-1], bounds[1:])
        return sum(parts)


def stream_floor(x: np.ndarray, *, repeats: int = 9) -> dict:
    """Fastest way found to read every byte of ``x`` once: the one-query floor.

    Candidates: a reduction split over the cores (NumPy releases the GIL), and a BLAS
    matrix-vector product with a ones vector (what one query's scores cost at least).
    """
    ones = np.ones(x.shape[1], dtype=np.float32)
    candidates = {
        "numpy sum on each core": lambda: _threaded_sum(x, n_workers()),
        "numpy sum on one core": lambda: float(x.sum()),
        "BLAS sgemv (x @ ones)": lambda: x @ ones,
    }
    times = {
        name: measure(fn, repeats=repeats, warmup=1).median_s for name, fn in candidates.items()
    }
    best = min(times, key=times.get)
    return {
        "seconds": times[best],
        "method": best,
        "candidates_s": times,
        "gb_per_s": x.nbytes / times[best] / 1e9,
    }


def gemm_floor(x: np.ndarray, queries: np.ndarray, *, repeats: int = 5) -> dict:
    """The fastest bare ``x @ queries.T`` found, with no top-k selection: one BLAS call into a
    preallocated (n, m) output (BLAS threads), or the engine's own blocking (a cache-sized
    block per core, single-threaded BLAS, a reused score buffer) without the selection."""
    qt = np.ascontiguousarray(queries.T)
    n, m = x.shape[0], qt.shape[1]
    out = np.empty((n, m), dtype=np.float32)
    workers = n_workers()
    rows = block_rows(n, m, workers=workers)
    bounds = np.linspace(0, n, workers + 1).astype(int)

    def blocked_part(lo: int, hi: int) -> None:
        buf = np.empty((rows, m), dtype=np.float32)
        for b in row_blocks(hi, rows, lo):
            np.matmul(x[b], qt, out=buf[: b.stop - b.start])

    def blocked() -> None:
        with ThreadPoolExecutor(workers) as pool, threadpool_limits(1, user_api="blas"):
            list(pool.map(blocked_part, bounds[:-1], bounds[1:]))

    candidates = {
        "one BLAS GEMM": lambda: np.matmul(x, qt, out=out),
        "blocked GEMM on each core": blocked,
    }
    times = {
        name: measure(fn, repeats=repeats, warmup=1).median_s for name, fn in candidates.items()
    }
    best = min(times, key=times.get)
    flops = 2.0 * n * x.shape[1] * m
    return {
        "seconds": times[best],
        "method": best,
        "candidates_s": times,
        "gflops": flops / times[best] / 1e9,
    }
