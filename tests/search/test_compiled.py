"""The compiled kernels of the compressed modes give the NumPy kernels' results, exactly.

SimSIMD (float16 / int8, one query) ranks by an upper bound and rescores; numba (binary)
picks the same Hamming candidates. Each is run against the NumPy path on the same index
(``WORKBENCH_KERNELS=numpy`` switches the compiled kernels off).
"""

from __future__ import annotations

import numpy as np
import pytest

from core.search import _compiled as compiled
from core.search._modes import build_index

METRICS = ("cosine", "dot", "euclidean")


def _both(monkeypatch, index, q, k, metric):
    monkeypatch.delenv("WORKBENCH_KERNELS", raising=False)
    fast = index.search(q, k, metric)
    monkeypatch.setenv("WORKBENCH_KERNELS", "numpy")
    slow = index.search(q, k, metric)
    monkeypatch.delenv("WORKBENCH_KERNELS")
    return fast, slow


def _data(n, d, seed, unit=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    if unit:
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[7] = x[3]  # exact ties: the lower index must come first
    x[11] = x[3]
    q = np.vstack([x[3] + 0.01, rng.standard_normal((3, d)).astype(np.float32)])
    return x, q


def test_the_kernels_pass_their_self_check_on_this_machine():
    assert compiled.available("float16")
    assert compiled.available("int8")
    assert compiled.popcount_module() is not None


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("WORKBENCH_KERNELS", "numpy")
    assert not compiled.available("float16")
    assert compiled.popcount_module() is None


@pytest.mark.parametrize("mode", ["float16", "int8"])
@pytest.mark.parametrize("unit", [True, False])
def test_simsimd_path_matches_numpy(monkeypatch, mode, unit):
    x, q = _data(6000, 96, seed=1 if unit else 2, unit=unit)
    index = build_index(x, mode)
    for metric in METRICS:
        for m in (1, 4):
            for k in (1, 10, 37):
                (fi, fs), (si, ss) = _both(monkeypatch, index, q[:m], k, metric)
                assert np.array_equal(fi, si), (mode, metric, m, k)
                np.testing.assert_allclose(fs, ss, rtol=1e-6, atol=1e-6)
    ids, _ = index.search(q[:1], 3, "cosine")
    assert list(ids[0]) == [3, 7, 11]


@pytest.mark.parametrize("mode", ["float16", "int8"])
def test_a_crowd_of_near_ties_grows_the_rescored_pool(monkeypatch, mode):
    """2,000 rows within 1e-4 of each other: the first pool cannot prove the top 10, the
    search retries with a larger one and still returns the exact order."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal(64).astype(np.float32)
    crowd = base + 1e-4 * rng.standard_normal((2000, 64)).astype(np.float32)
    rest = rng.standard_normal((8000, 64)).astype(np.float32)
    x = np.vstack([rest[:4000], crowd, rest[4000:]])
    index = build_index(x, mode)
    kernel = index._make_kernel()
    terms = (1.0, None, None)

    def exact(j, ids):
        return index._rows(ids[None, :])[0].astype(np.float64) @ base.astype(np.float64)

    ids = compiled.top_candidates(kernel, base[None, :], 10, terms, exact, index.n)
    assert ids is not None and ids.shape[1] > 128  # the first pool was not enough
    (fi, _), (si, _) = _both(monkeypatch, index, base[None, :], 10, "dot")
    assert np.array_equal(fi, si)
    assert set(fi[0]) <= set(range(4000, 6000))


@pytest.mark.parametrize("mode", ["float16", "int8"])
def test_queries_whose_pools_differ_get_distinct_candidates(monkeypatch, mode):
    """One query proven with the first pool, one in a crowd of near-ties that needs a larger
    one: the smaller pool is topped up with other rows, never with copies of its own."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal(64).astype(np.float32)
    crowd = base + 1e-4 * rng.standard_normal((2000, 64)).astype(np.float32)
    rest = rng.standard_normal((8000, 64)).astype(np.float32)
    x = np.vstack([rest[:4000], crowd, rest[4000:]])
    q = np.vstack([rest[10] + 0.01, base])
    index = build_index(x, mode)
    q64 = q.astype(np.float64)

    def exact(j, ids):
        return index._rows(ids[None, :])[0].astype(np.float64) @ q64[j]

    ids = compiled.top_candidates(index._make_kernel(), q, 10, (1.0, None, None), exact, index.n)
    assert ids is not None and ids.shape[1] > 128
    assert all(len(set(row)) == ids.shape[1] for row in ids)
    (fi, _), (si, _) = _both(monkeypatch, index, q, 10, "dot")
    assert np.array_equal(fi, si)


def test_zero_rows_and_many_queries_fall_back_or_agree(monkeypatch):
    x, q = _data(3000, 64, seed=4, unit=False)
    x[100] = 0.0
    for mode in ("float16", "int8"):
        index = build_index(x, mode)
        big = np.vstack([q] * 3)  # 12 queries: more than the compiled path serves
        (fi, _), (si, _) = _both(monkeypatch, index, big, 10, "cosine")
        assert np.array_equal(fi, si)
        (fi, _), (si, _) = _both(monkeypatch, index, x[100], 5, "euclidean")
        assert np.array_equal(fi, si)


@pytest.mark.parametrize("n", [50, 700, 20_000])
def test_numba_hamming_candidates_match_numpy(monkeypatch, n):
    x, q = _data(n, 130, seed=n)
    many = np.vstack([q] * 4)  # 16 queries: NumPy takes its GEMM path, numba its own
    index = build_index(x, "binary", rescore_factor=3)
    for queries in (q[:1], many):
        for pool in (1, 30, min(n, 500)):
            monkeypatch.delenv("WORKBENCH_KERNELS", raising=False)
            fast = index.codec.candidates(queries, pool, None)
            monkeypatch.setenv("WORKBENCH_KERNELS", "numpy")
            slow = index.codec.candidates(queries, pool, None)
            assert fast.shape == slow.shape == (queries.shape[0], pool)
            # the same rows (the order inside a pool does not matter: it is rescored)
            assert np.array_equal(np.sort(fast, axis=1), np.sort(slow, axis=1)), pool
    for metric in METRICS:
        (fi, fs), (si, ss) = _both(monkeypatch, index, many, 10, metric)
        assert np.array_equal(fi, si) and np.array_equal(fs, ss)
