"""core.bench._live_checks: which live results are called suspect, in which words."""

from __future__ import annotations

import pandas as pd

from core.bench import _live as lb
from core.bench._live_checks import suspect_results


def loop_table(vectorised_ms: float, loop_ms: float, pure_ms: float = 500.0) -> pd.DataFrame:
    """A vectorised-vs-loop table as the function makes it, from chosen times at 2,000 docs."""
    return pd.DataFrame(
        {
            "variant": [lb.VECTORISED, lb.NUMPY_LOOP, lb.PURE_PYTHON],
            "n_docs": [2_000, 2_000, 2_000],
            "median_ms": [vectorised_ms, loop_ms, pure_ms],
            "us_per_doc": [t * 1e3 / 2_000 for t in (vectorised_ms, loop_ms, pure_ms)],
        }
    )


def test_suspect_results_names_the_reviewers_contradiction():
    # Measured on a busy 2-core machine with multithreaded BLAS: 4.73 ms against 3.81 ms.
    problems = suspect_results("vectorised_vs_loop", loop_table(4.73, 3.81))
    assert len(problems) == 1
    assert problems[0].startswith(f"{lb.VECTORISED}: 2.37 µs per document against")
    assert "1.2x slower" in problems[0] and "normally at least 3x faster" in problems[0]


def test_suspect_results_accepts_the_expected_order_and_small_misses():
    assert suspect_results("vectorised_vs_loop", loop_table(0.05, 1.8)) == []
    # 2.5x instead of the conservative 3x: within the margin (3 / 1.5 = 2).
    assert suspect_results("vectorised_vs_loop", loop_table(1.0, 2.5)) == []
    assert len(suspect_results("vectorised_vs_loop", loop_table(1.0, 1.9))) == 1
    assert suspect_results("memory_modes", loop_table(9.0, 1.0)) == []  # not judged
    assert suspect_results("vectorised_vs_loop", loop_table(9.0, 1.0).iloc[:0]) == []


def test_suspect_results_dtype_and_topk_respect_margin_and_size():
    dtype = pd.DataFrame(
        {"dtype": ["float64", "float32"], "n_docs": [20_000, 20_000], "median_ms": [1.0, 2.5]}
    )
    (problem,) = suspect_results("float64_vs_float32", dtype)
    assert "float32: 2.5 ms against float64's 1 ms (2.5x slower)" in problem
    assert suspect_results("float64_vs_float32", dtype.assign(median_ms=[1.0, 1.2])) == []
    topk = pd.DataFrame(
        {"variant": [lb.ARGSORT, lb.ARGPARTITION], "n_docs": [20_000] * 2, "median_ms": [1, 5]}
    )
    assert len(suspect_results("argsort_vs_argpartition", topk)) == 1
    # Below 5,000 documents fixed overheads decide, so the order is not judged.
    small = topk.assign(n_docs=[1_000, 1_000])
    assert suspect_results("argsort_vs_argpartition", small) == []


def test_suspect_results_scaling_per_size_and_growth():
    rows = [
        # The reviewer's sweep: float32 argsort 10x slower than float64 at 5,000 documents, and
        # engine.search faster on the larger corpus.
        (lb.MATMUL_ARGSORT32, 5_000, 8.07),
        (lb.MATMUL_ARGSORT64, 5_000, 0.80),
        (lb.ENGINE, 20_000, 5.04),
        (lb.ENGINE, 50_000, 2.57),
        (lb.MATMUL_ARGSORT32, 20_000, 9.0),
        (lb.MATMUL_ARGSORT64, 20_000, 10.0),
    ]
    table = pd.DataFrame(rows, columns=["variant", "n_docs", "median_ms"])
    problems = suspect_results("scaling", table)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{lb.MATMUL_ARGSORT32} at 5,000 documents: 8.07 ms")
    assert problems[1] == (
        f"{lb.ENGINE}: 2.57 ms at 50,000 documents but 5.04 ms at 20,000; "
        "more documents never take less time."
    )
    fixed = table.assign(median_ms=[0.4, 0.8, 5.04, 9.0, 2.0, 3.0])
    assert suspect_results("scaling", fixed) == []
