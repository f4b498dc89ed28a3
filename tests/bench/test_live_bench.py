"""Live benchmark computations: table shapes and columns, honest bookkeeping, correct answers.

No timing is asserted (timings belong to benchmarks); what is checked is that every variant is
measured, positive, labelled with what it actually processed, that the fast variants compute the
same answer as the slow ones, how a measurement is taken (BLAS threads, warm-up, sample count
against an injected clock: tests/test_timing.py; which results are called suspect:
tests/test_live_bench_checks.py).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from core.bench import _live as lb
from core.bench._env import faiss_available
from core.search._engine import search

QUICK = {"min_samples": 1, "budget_s": 0.0}  # one timed run per measurement: tests stay fast
SPREAD_COLUMNS = ["median_ms", "min_ms", "q1_ms", "q3_ms", "samples"]


def assert_spread(table: pd.DataFrame) -> None:
    """Every row carries the median with its spread, in order, from at least one sample."""
    assert set(SPREAD_COLUMNS) <= set(table.columns)
    assert (table["samples"] >= 1).all()
    assert (table["min_ms"] > 0).all()
    for low, high in itertools.pairwise(["min_ms", "q1_ms", "median_ms", "q3_ms"]):
        assert (table[low] <= table[high] + 1e-12).all(), (low, high)


def test_synthetic_corpus_is_unit_float32_and_seeded():
    corpus, queries = lb.synthetic_corpus(120, 16, n_queries=3, seed=7)
    assert corpus.shape == (120, 16) and queries.shape == (3, 16)
    assert corpus.dtype == np.float32 and corpus.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(corpus, axis=1), 1.0, rtol=1e-5)
    again, _ = lb.synthetic_corpus(120, 16, n_queries=3, seed=7)
    np.testing.assert_array_equal(corpus, again)


@pytest.mark.parametrize(("args", "match"), [((0, 8), "n_docs"), ((5, 0), "dim")])
def test_synthetic_corpus_refuses_empty_shapes(args, match):
    with pytest.raises(ValueError, match=f"{match} must be at least 1"):
        lb.synthetic_corpus(*args)


def test_loop_variants_compute_the_vectorised_scores(rng):
    corpus = rng.standard_normal((50, 8)).astype(np.float32)
    query = rng.standard_normal(8).astype(np.float32)
    want = lb._cosine_scores_vectorised(corpus, query)
    np.testing.assert_allclose(lb._cosine_scores_numpy_loop(corpus, query), want, rtol=1e-5)
    py = lb._cosine_scores_pure_python(corpus.tolist(), query.tolist())
    np.testing.assert_allclose(py, want, rtol=1e-4, atol=1e-5)


def test_vectorised_vs_loop_table_caps_pure_python(monkeypatch):
    monkeypatch.setattr(lb, "PURE_PYTHON_MAX_DOCS", 100)
    table = lb.vectorised_vs_loop(300, 16, **QUICK)
    assert_spread(table)
    assert list(table["variant"]) == [
        "vectorised (corpus @ query)",
        "Python loop of np.dot",
        "pure-Python loop",
    ]
    assert list(table["n_docs"]) == [300, 300, 100]
    assert (table["median_ms"] > 0).all()
    assert table["slowdown_vs_vectorised"].iloc[0] == pytest.approx(1.0)
    np.testing.assert_allclose(
        table["us_per_doc"], table["median_ms"] * 1e3 / table["n_docs"], rtol=1e-9
    )


def test_float64_vs_float32_memory_and_agreement():
    table = lb.float64_vs_float32(500, 32, k=5, n_queries=4, **QUICK)
    assert list(table["dtype"]) == ["float64", "float32"]
    assert_spread(table)
    assert (table["n_docs"] == 500).all()
    mb = dict(zip(table["dtype"], table["memory_mb"], strict=True))
    assert mb["float64"] == pytest.approx(500 * 32 * 8 / 2**20)
    assert mb["float32"] == pytest.approx(mb["float64"] / 2)
    assert table["top_k_agreement"].between(0.8, 1.0).all()
    assert (table["median_ms"] > 0).all()


def test_argsort_vs_argpartition_agree():
    table = lb.argsort_vs_argpartition(2_000, k=10, n_queries=3, **QUICK)
    assert list(table["variant"]) == ["argsort (full sort)", "argpartition + sort k"]
    assert_spread(table)
    assert table["same_result"].all()


def test_top_k_helpers_match_engine_search(rng):
    corpus, queries = lb.synthetic_corpus(400, 24, seed=1)
    want, _ = search(corpus, queries, 7, "dot")
    np.testing.assert_array_equal(lb._top_k_by_partition(corpus, queries[0], 7), want[0])
    np.testing.assert_array_equal(lb._top_k_by_argsort(corpus, queries[0], 7), want[0])


def test_scaling_sizes_variants_and_progress():
    seen = []
    table = lb.scaling(
        [200, 50, 200], 16, k=5, loop_max_docs=100, progress=lambda f, m: seen.append(f), **QUICK
    )
    assert_spread(table)
    assert sorted(set(table["n_docs"])) == [50, 200]
    loop = table[table["variant"] == "Python loop of np.dot"]
    assert list(loop["n_docs"]) == [50]  # the loop is skipped above loop_max_docs
    # Per size: prepared and one-shot engine, three matmul variants, FAISS when installed;
    # the loop only at 50 documents.
    faiss_variant = {lb.FAISS_FLAT} if faiss_available() else set()
    per_size = 5 + len(faiss_variant)
    assert len(table) == 2 * per_size + 1
    at_200 = set(table.loc[table["n_docs"] == 200, "variant"])
    expected = set(lb.SCALING_LINES) - {lb.NUMPY_LOOP} - ({lb.FAISS_FLAT} - faiss_variant)
    assert at_200 == expected
    assert seen == [0.5, 1.0]
    assert (table["median_ms"] > 0).all()


def test_scaling_can_be_cancelled_from_progress():
    class Stop(Exception):
        pass

    def stop(fraction, message):
        raise Stop(message)

    with pytest.raises(Stop, match="10 documents done"):
        lb.scaling([10, 20], 8, progress=stop, **QUICK)


def test_scaling_refuses_bad_sizes():
    with pytest.raises(ValueError, match="sizes must be positive"):
        lb.scaling([0, 10], 8)
    with pytest.raises(ValueError, match="sizes must be positive"):
        lb.scaling([], 8)


def test_collection_search_times_and_sample_queries():
    corpus, _ = lb.synthetic_corpus(300, 16, seed=2)
    queries = lb.sample_queries(corpus, 5, seed=2)
    assert queries.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, rtol=1e-5)
    table = lb.collection_search_times(corpus, queries, k=3, **QUICK)
    assert_spread(table)
    assert list(table["method"]) == ["cosine", "dot", "euclidean"]
    assert (table["n_queries"] == 5).all()
    np.testing.assert_allclose(table["ms_per_query"] * 5, table["median_ms"])
    assert lb.sample_queries(corpus[:3], 10).shape == (3, 16)


@pytest.mark.parametrize("method", ["cosine", "dot", "euclidean"])
def test_memory_modes_float32_is_exact_and_quantised_modes_are_smaller(method):
    corpus, queries = lb.synthetic_corpus(600, 64, n_queries=8, seed=3)
    table = lb.memory_modes(corpus, queries, k=10, method=method, **QUICK)
    assert_spread(table)
    assert list(table["mode"]) == list(lb.MEMORY_MODES)
    by_mode = table.set_index("mode")
    assert by_mode.loc["float32", "recall_at_k"] == pytest.approx(1.0)
    # Each mode's vector codes plus small per-vector extras (norms, scales).
    assert 64 * 4 <= by_mode.loc["float32", "bytes_per_vector"] < 64 * 4 + 16
    assert 64 // 8 <= by_mode.loc["binary", "bytes_per_vector"] < 64 // 8 + 16
    np.testing.assert_allclose(by_mode["memory_mb"], by_mode["bytes_per_vector"] * 600 / 2**20)
    assert by_mode["memory_mb"].is_monotonic_decreasing
    assert table["recall_at_k"].between(0.0, 1.0).all()
    assert by_mode.loc["float16", "recall_at_k"] >= 0.9
