"""Hardware floors: streaming the matrix once (memory bound) and the bare GEMM (compute bound)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from core.kernels import n_workers
from core.timing import measure


def _threaded_sum(x: np.ndarray, workers: int) -> float:
    bounds = np.linspace(0, x.shape[0], workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        parts = pool.map(lambda lo, hi: float(x[lo:hi].sum()), bounds[:-1], bounds[1:])
        return sum(parts)


def stream_floor(x: np.ndarray, *, repeats: int = 5) -> dict:
    """Fastest way found to read every byte of ``x`` once: the one-query floor.

    Candidates: a reduction split over the cores (NumPy releases the GIL), and a BLAS
    matrix-vector product with a ones vector (what one query's scores cost at least).
    """
    ones = np.ones(x.shape[1], dtype=np.float32)
    candidates = {
        "numpy sum on each core": lambda: _threaded_sum(x, n_workers()),
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


def gemm_floor(x: np.ndarray, queries: np.ndarray, *, repeats: int = 3) -> dict:
    """Bare ``x @ queries.T`` into a preallocated (n, m) output: scores with no selection."""
    qt = np.ascontiguousarray(queries.T)
    out = np.empty((x.shape[0], qt.shape[1]), dtype=np.float32)
    t = measure(lambda: np.matmul(x, qt, out=out), repeats=repeats, warmup=1).median_s
    flops = 2.0 * x.shape[0] * x.shape[1] * qt.shape[1]
    return {"seconds": t, "gflops": flops / t / 1e9}
