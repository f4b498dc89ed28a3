"""The exact-search grid: corpus size x dimension x queries x method, every contender, floors."""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass, field

from core.bench import _contenders as cs
from core.bench._data import Moments, draw
from core.bench._env import available_memory, faiss_available
from core.bench._floors import gemm_floor, stream_floor
from core.bench._timing import measure
from core.search._metrics import metric_names

METHODS = metric_names()  # the built-in metrics (nothing else is registered at import)
K = 10


@dataclass
class GridSpec:
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    dims: tuple[int, ...] = (384, 1536)
    queries: tuple[int, ...] = (1, 10, 100)
    methods: tuple[str, ...] = METHODS
    contenders: tuple[str, ...] = (
        "engine",
        "engine one-shot",
        "numpy",
        "faiss",
        "tutorial",
        "tutorial loop",
    )
    loop_max_n: int = 100_000  # the Python loop only where it finishes in reasonable time
    max_call_s: float = 20.0  # skip a per-query-loop cell whose estimate exceeds this
    memory_fraction: float = 0.8  # of MemAvailable at start, for the matrix plus extras
    repeats: int = 5
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def time_cell(fn, repeats: int) -> dict:
    """Median of ``repeats`` calls after one untimed call; calls under 50 ms are timed
    ``2 * repeats + 1`` times, slow ones fewer (one untimed + one timed above 3 s)."""
    first = measure(fn, repeats=1, warmup=0).median_s
    if first > 3.0:
        reps = 1
    elif first > 0.3:
        reps = min(repeats, 3)
    elif first > 0.05:
        reps = repeats
    else:
        reps = max(repeats, 2 * repeats + 1)  # short calls: more samples against time-slicing
    t = measure(fn, repeats=reps, warmup=0)
    return {"median_s": t.median_s, "min_s": t.min_s, "samples": len(t.samples)}


def run_grid(spec: GridSpec, moments: Moments) -> dict:
    """All cells; returns {"cells": [...], "floors": [...], "skipped": [...]}."""
    budget = spec.memory_fraction * available_memory()
    cells, floors, skipped = [], [], []
    names = [c for c in spec.contenders if c != "faiss" or faiss_available()]
    if len(names) < len(spec.contenders):
        skipped.append({"what": "faiss", "why": "faiss-cpu is not installed"})
    max_m = max(spec.queries)
    for d in spec.dims:
        queries_all = draw(moments, max_m, d, seed=99)
        for n in spec.sizes:
            matrix = n * d * 4
            if matrix * 1.2 > budget:
                skipped.append(
                    {"n": n, "d": d, "why": f"matrix {matrix / 2**30:.1f} GiB does not fit"}
                )
                continue
            log(f"n={n:,} d={d}: drawing vectors")
            x = draw(moments, n, d, seed=n + d)
            fl = {"n": n, "d": d, "matrix_bytes": matrix, "stream": stream_floor(x)}
            fl["gemm"] = {m: gemm_floor(x, queries_all[:m]) for m in spec.queries}
            floors.append(fl)
            log(f"  stream floor {fl['stream']['seconds'] * 1e3:.1f} ms")
            for name in names:
                cells += _run_contender(spec, name, x, queries_all, budget, skipped)
            del x
            gc.collect()
    return {"cells": cells, "floors": floors, "skipped": skipped}


def _run_contender(spec, name, x, queries_all, budget, skipped) -> list[dict]:
    contender = cs.CONTENDERS[name]
    n, d = x.shape
    out = []
    states: dict[str, object] = {}
    single: dict[str, float] = {}
    for method in spec.methods:
        key = cs.faiss_index_key(method) if name == "faiss" else method
        for m in sorted(spec.queries):
            where = {"n": n, "d": d, "m": m, "method": method, "contender": name}
            why = None
            extra = contender.extra_bytes(n, d, m, method)
            if n * d * 4 + extra > budget:
                why = f"needs {(n * d * 4 + extra) / 2**30:.1f} GiB"
            elif name == "tutorial loop" and (n > spec.loop_max_n or m > 1):
                why = "Python loop timed only for one query and n <= 100k"
            elif contender.per_query_loop and method in single:
                estimate = single[method] * m
                if estimate > spec.max_call_s:
                    why = f"estimated {estimate:.0f} s per call ({m} x one query)"
            if why:
                skipped.append({**where, "why": why})
                continue
            if key not in states:
                for old in list(states):  # one FAISS index in memory at a time
                    del states[old]
                gc.collect(1)  # freed by reference counts; young cycles only
                states[key] = contender.prepare(x, method)
            state, queries = states[key], queries_all[:m]
            t = time_cell(
                lambda s=state, q=queries, me=method: contender.run(s, q, K, me), spec.repeats
            )
            if m == 1:
                single[method] = t["median_s"]
            out.append({**where, **t})
            log(f"  {name:16s} m={m:<3d} {method:9s} {t['median_s'] * 1e3:10.2f} ms")
    states.clear()
    gc.collect(1)
    return out
