"""The tutorial's printed claims, re-measured on this machine, plus peak search memory."""

from __future__ import annotations

import numpy as np

from core.bench._contenders import (
    pure_python_cosine_one_query,
    tutorial_loop_one_query,
    tutorial_one_query,
)
from core.bench._data import Moments, draw
from core.bench._grid import K, log, time_cell
from core.bench._memory import peak_extra_bytes
from core.search._engine import row_norms, search
from core.search._metrics import metric_names

CLAIMS = {
    "loop": "vectorised is 1,477x faster than the Python loop",
    "float32": "float32 is 1.8x faster than float64 and takes half the memory",
    "retrieval_10k": "retrieving from 10,000 documents takes ~2 ms",
}


def tutorial_claims(
    moments: Moments, *, dims=(384, 1536), n=10_000, n_dtype=100_000, repeats=5
) -> list:
    """Each claim next to what this machine measures (one query, cosine)."""
    rows = []
    for d in dims:
        x = draw(moments, n, d, seed=5)
        q = draw(moments, 1, d, seed=6)
        loop = time_cell(lambda x=x, q=q: tutorial_loop_one_query(x, q[0], K, "cosine"), 3)
        rows_py, q_py = x.tolist(), q[0].tolist()
        pure = time_cell(lambda r=rows_py, qp=q_py: pure_python_cosine_one_query(r, qp, K), 1)
        vec = time_cell(lambda x=x, q=q: tutorial_one_query(x, q[0], K, "cosine"), repeats)
        rows.append(
            {
                "claim": CLAIMS["loop"],
                "setting": f"n={n:,}, d={d}, cosine",
                "tutorial": 1477.0,
                "measured": pure["median_s"] / vec["median_s"],
                "detail": {
                    "pure_python_loop_s": pure["median_s"],
                    "numpy_dot_loop_s": loop["median_s"],
                    "vectorised_s": vec["median_s"],
                },
            }
        )
        norms = row_norms(x)
        engine = time_cell(
            lambda x=x, q=q, nr=norms: search(x, q, K, check_finite=False, corpus_norms=nr),
            repeats,
        )
        one_shot = time_cell(lambda x=x, q=q: search(x, q, K), repeats)
        rows.append(
            {
                "claim": CLAIMS["retrieval_10k"],
                "setting": f"n={n:,}, d={d}, one query, cosine",
                "tutorial": 2e-3,
                "measured": vec["median_s"],
                "detail": {
                    "tutorial_s": vec["median_s"],
                    "engine_s": engine["median_s"],
                    "engine_one_shot_s": one_shot["median_s"],
                },
            }
        )
        log(f"claims d={d}: pure-Python loop / vectorised {rows[-2]['measured']:.0f}x")
    d = max(dims)
    x32 = draw(moments, n_dtype, d, seed=7)
    q32 = draw(moments, 1, d, seed=8)
    x64, q64 = x32.astype(np.float64), q32.astype(np.float64)
    t64 = time_cell(lambda: tutorial_one_query(x64, q64[0], K, "cosine"), repeats)["median_s"]
    t32 = time_cell(lambda: tutorial_one_query(x32, q32[0], K, "cosine"), repeats)["median_s"]
    rows.append(
        {
            "claim": CLAIMS["float32"],
            "setting": f"n={n_dtype:,}, d={d}, one query, cosine (tutorial code)",
            "tutorial": 1.8,
            "measured": t64 / t32,
            "detail": {"float64_s": t64, "float32_s": t32, "memory_ratio": x32.nbytes / x64.nbytes},
        }
    )
    return rows


def search_memory(moments: Moments, *, n=1_000_000, d=384, queries=(1, 100)) -> list[dict]:
    """Peak extra bytes during one search, as a fraction of the corpus matrix."""
    x = draw(moments, n, d, seed=11)
    norms = row_norms(x)
    q_all = draw(moments, max(queries), d, seed=12)
    rows = []
    for m in queries:
        for method in metric_names():
            q = q_all[:m]
            calls = {
                "engine": lambda q=q, me=method: search(
                    x, q, K, me, check_finite=False, corpus_norms=norms
                ),
                "engine one-shot": lambda q=q, me=method: search(x, q, K, me),
                "tutorial": lambda q=q, me=method: [tutorial_one_query(x, r, K, me) for r in q],
            }
            if m > 1:
                del calls["tutorial"]  # per query, so the same peak as one query
            for name, fn in calls.items():
                peak = peak_extra_bytes(fn)
                rows.append(
                    {
                        "contender": name,
                        "n": n,
                        "d": d,
                        "m": m,
                        "method": method,
                        "peak_extra_bytes": peak,
                        "fraction_of_matrix": peak / x.nbytes,
                    }
                )
        log(f"memory m={m} done")
    return rows
