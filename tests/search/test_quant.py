"""core.search._modes / core.search._kernels: every mode against an exact float64 reference,
with stated bounds."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.search import _kernels as kernels
from core.search._modes import MODES, build_index, recall_at_k

METHODS = ("cosine", "dot", "euclidean")
SCORE_RTOL = 1e-5  # float32 accumulation vs float64 over d <= 64 terms
SCORE_ATOL = 1e-5
# Recall floors on the clustered 48-d data below (computed, not assumed; measured: float16 1.0,
# int8 0.988, binary 0.96 when rescoring 100 x k Hamming candidates; 48 bits are few, real
# 512-d embeddings need far fewer candidates: see BENCHMARKS.md).
RECALL_FLOOR = {"float32": 1.0, "float16": 0.99, "int8": 0.95, "binary": 0.9}
OPTIONS = {"binary": {"rescore_factor": 100}}


def all_scores(corpus, queries, method):
    """Every query-row score in float64, shape (m, n)."""
    x, q = corpus.astype(np.float64), queries.astype(np.float64)
    if method == "euclidean":
        s = -np.sqrt(((q[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    else:
        s = q @ x.T
        if method == "cosine":
            xn, qn = np.linalg.norm(x, axis=1), np.linalg.norm(q, axis=1)
            denom = qn[:, None] * xn[None, :]
            s = np.divide(s, denom, out=np.zeros_like(s), where=denom > 0)
    return s


def reference(corpus, queries, k, method):
    """Exact top-k in float64 by a full stable sort (ties to the lower index)."""
    s = all_scores(corpus, queries, method)
    ids = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(s, ids, 1)


def clustered(rng, n, d, centers=40):
    """Embedding-like data: unit vectors around a few dozen topics."""
    c = rng.standard_normal((centers, d))
    x = c[rng.integers(0, centers, n)] + 0.6 * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    x = clustered(rng, 3_000, 48)
    q = clustered(rng, 25, 48)
    return x, q


def decoded_matrix(index, n):
    return index._rows(np.arange(n)[None, :])[0].astype(np.float64)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_against_exact_search(mode, method, data):
    x, q = data
    index = build_index(x, mode, **OPTIONS.get(mode, {}))
    ids, scores = index.search(q, k=10, method=method)
    assert ids.dtype == np.int64 and scores.dtype == np.float32 and ids.shape == (25, 10)
    exact_ids, _ = reference(x, q, 10, method)
    assert recall_at_k(ids, exact_ids) >= RECALL_FLOOR[mode]
    # Best first, ties by the lower id.
    assert np.all((np.diff(scores, axis=1) < 0) | (np.diff(ids, axis=1) > 0))
    if mode in ("float32", "binary"):  # float32 scores (binary rescoring uses the float rows)
        expected = np.take_along_axis(all_scores(x, q, method), ids, 1)
        assert_allclose(scores, expected, rtol=SCORE_RTOL, atol=SCORE_ATOL)
    if mode == "float32":
        assert_array_equal(ids, exact_ids)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", ["float16", "int8"])
def test_quantised_kernels_rank_exactly_by_their_decoded_vectors(mode, method, data):
    """The fast kernels (bit-level float16 decode, int8 with folded scales) must give the same
    top-k as a float64 search over the decoded matrix, and its scores."""
    x, q = data
    index = build_index(x, mode)
    decoded = decoded_matrix(index, x.shape[0])
    ids, scores = index.search(q, k=10, method=method)
    ref_ids, ref_scores = reference(decoded, q, 10, method)
    assert_array_equal(ids, ref_ids)
    assert_allclose(scores, ref_scores, rtol=SCORE_RTOL, atol=SCORE_ATOL)


def test_quantisation_error_is_within_the_stated_bounds(data):
    x, _ = data
    half = decoded_matrix(build_index(x, "float16"), x.shape[0])
    # float16: relative error 2**-11, or 2**-15 absolute where values were snapped to 0/2**-14.
    assert np.all(np.abs(half - x) <= np.maximum(2.0**-11 * np.abs(x), 2.0**-15) + 1e-12)
    int8 = build_index(x, "int8")
    err = np.abs(decoded_matrix(int8, x.shape[0]) - x)
    assert np.all(err <= int8.codec.scale / 2 * (1 + 1e-4))


@pytest.mark.parametrize("mode", MODES)
def test_memory_per_vector(mode, data):
    x, _ = data
    n, d = x.shape
    index = build_index(x, mode)
    per_value = {"float32": 4 * d, "float16": 2 * d, "int8": d, "binary": 8 * -(-d // 64)}
    calibration = {"float32": 0, "float16": 0, "int8": 8 * d, "binary": 4 * d}
    assert index.mode == mode
    assert index.nbytes == n * (per_value[mode] + 4) + calibration[mode]  # + 4: row norm
    assert index.bytes_per_vector == pytest.approx(index.nbytes / n)


@pytest.mark.parametrize("mode", MODES)
def test_rescoring_memory_and_pool_are_reported(mode, data):
    """Binary reads float vectors besides its codes; the other modes read nothing else."""
    x, _ = data
    index = build_index(x, mode)
    if mode == "binary":
        assert index.rescore_nbytes == x.nbytes
        assert index.rescore_pool(10) == 20 * 10
        assert build_index(x, mode, rescore_factor=3).rescore_pool(4) == 12
    else:
        assert index.rescore_nbytes == 0
        assert index.rescore_pool(10) is None


def test_binary_rescores_the_reported_pool_capped_at_n(rng, monkeypatch):
    x = clustered(rng, 300, 32)
    index = build_index(x, "binary", rescore_factor=4)
    asked = []
    original = index.codec.candidates

    def spy(q, n_cand, budget):
        asked.append(n_cand)
        return original(q, n_cand, budget)

    monkeypatch.setattr(index.codec, "candidates", spy)
    index.search(x[:2], k=5)
    index.search(x[:2], k=100)
    assert asked == [index.rescore_pool(5), min(300, index.rescore_pool(100))] == [20, 300]


@pytest.mark.parametrize("mode", MODES)
def test_edge_cases_k_larger_than_n_single_vector_odd_blocks(mode, rng):
    x = clustered(rng, 1, 13)
    ids, scores = build_index(x, mode).search(x[0], k=5)
    assert ids.tolist() == [[0]] and scores.shape == (1, 1)
    assert_allclose(scores, [[1.0]], atol=2e-2)
    x = clustered(rng, 1_001, 13)  # d not a multiple of 8, n not a multiple of any block
    q = clustered(rng, 3, 13)
    index = build_index(x, mode)
    ids, _ = index.search(q, k=2_000, method="dot")
    assert ids.shape == (3, 1_001) and all(sorted(r) == list(range(1_001)) for r in ids.tolist())
    small = index.search(q, k=7, memory_budget_mb=0.01)  # tiny blocks: many merges
    assert_array_equal(small[0], index.search(q, k=7)[0])


def test_binary_d_not_multiple_of_eight_or_64(rng):
    for d in (1, 7, 65):
        x = clustered(rng, 500, d)
        index = build_index(x, "binary", rescore_factor=500)  # rescoring everything: exact
        ids, _ = index.search(x[:4], k=5)
        assert_array_equal(ids, reference(x, x[:4], 5, "cosine")[0])


def test_zero_query_and_zero_rows_stay_finite(rng):
    x = clustered(rng, 50, 8)
    x[3] = 0
    for mode in MODES:
        ids, scores = build_index(x, mode).search(np.zeros(8), k=4)
        assert np.isfinite(scores).all() and ids.tolist() == [[0, 1, 2, 3]]


def test_threaded_scan_equals_single_thread_and_reference(rng):
    x = rng.standard_normal((20_000, 16)).astype(np.float32)
    q = rng.standard_normal((3, 16)).astype(np.float32)

    def score_block(lo, hi, scratch):
        return x[lo:hi] @ q.T

    one = kernels.scan(20_000, 3, 9, score_block, rows_per_block=777, workers=1)
    two = kernels.scan(20_000, 3, 9, score_block, rows_per_block=777, workers=2)
    assert_array_equal(one[0], two[0])
    assert_array_equal(one[0], reference(x, q, 9, "dot")[0])


def test_topk_ties_go_to_the_lower_index():
    acc = kernels.TopK(1, 3)
    acc.push(np.array([[1.0], [2.0], [2.0]], np.float32), 0)
    acc.push(np.array([[2.0], [2.0], [3.0]], np.float32), 3)
    assert acc.ids.tolist() == [[5, 1, 2]]


def test_recall_is_computed_from_the_ids():
    assert recall_at_k([[1, 2, 3], [4, 5, 6]], [[3, 2, 1], [4, 9, 8]]) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match=r"approx_ids has shape \(1, 2\) but exact_ids"):
        recall_at_k([[1, 2]], [[1, 2, 3]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: build_index(x, "int4"), r"unknown mode 'int4'; choose one of float32"),
        (lambda x: build_index(x * np.nan, "int8"), r"embeddings row 0 contains NaN"),
        (lambda x: build_index(x * 1e6, "float16"), r"beyond the float16 range"),
        (lambda x: build_index(x, "binary", rescore_factor=0), r"rescore_factor must be at"),
        (lambda x: build_index(x).search(x[0], method="l1"), r"unknown method 'l1'"),
        (lambda x: build_index(x).search(x[0, :3]), r"queries have dimension 3 but the index"),
        (lambda x: build_index(x).search(x[0], k=0), r"k must be a positive integer, got 0"),
    ],
)
def test_errors_say_what_is_wrong(call, message, rng):
    with pytest.raises(ValueError, match=message):
        call(clustered(rng, 20, 6))


@pytest.mark.parametrize("d", [70, 600])  # 600: more than 8 words, two byte-sum lanes
def test_binary_popcount_and_gemm_paths_rank_the_same(rng, d):
    x = clustered(rng, 2_000, d)
    q = clustered(rng, 9, d)  # 9 queries take the GEMM path, one at a time the popcount path
    index = build_index(x, "binary")
    batch = index.codec.candidates(q, 40, None)
    single = np.vstack([index.codec.candidates(q[i : i + 1], 40, None) for i in range(9)])
    assert_array_equal(batch, single)
    hamming = np.bitwise_count(index.codec.codes[None] ^ index.codec.encode(q)[:, None]).sum(-1)
    expected = np.argsort(hamming, axis=1, kind="stable")[:, :40]
    assert_array_equal(np.sort(batch, axis=1), np.sort(expected, axis=1))


@pytest.mark.parametrize("mode", MODES)
def test_collection_search_takes_a_memory_mode(mode, data):
    from core.data._collection import Collection
    from core.embedding._types import EmbedderSpec

    x, q = data
    texts = [f"doc {i}" for i in range(x.shape[0])]
    collection = Collection.create(texts, x, EmbedderSpec("local", "test", x.shape[1]))
    exact_ids, _ = collection.search(q, k=10)
    ids, scores = collection.search(q, k=10, mode=mode)
    assert ids.shape == scores.shape == (25, 10)
    # Default binary rescoring (20 x k) on 48-bit codes finds ~0.68 of the top 10 here.
    floor = {**RECALL_FLOOR, "binary": 0.6}[mode]
    assert recall_at_k(ids, exact_ids) >= floor
    assert collection.index(mode) is collection.index(mode)  # built once, then kept
    assert collection.index(mode).mode == mode


# ---------------------------------------------------------------------- indexes that follow edits


@pytest.mark.parametrize("mode", ["float32", "float16", "int8", "binary"])
def test_updated_index_equals_a_fresh_build_of_the_edited_matrix(rng, mode):
    x = rng.standard_normal((300, 16)).astype(np.float32)
    index = build_index(x, mode)
    # Delete 20 rows, change 5 in place (kept within int8's range), append 10.
    keep = np.setdiff1d(np.arange(300), rng.choice(300, 20, replace=False))
    new_rows = (x[rng.choice(300, 10)] * 0.9).astype(np.float32)
    edited = np.concatenate([x[keep], new_rows])
    source = np.concatenate([keep, np.full(10, -1)])
    changed = rng.choice(len(keep), 5, replace=False)
    edited[changed] *= np.float32(0.5)
    source[changed] = -1
    carried = index.updated(source, edited)
    assert carried is not None and carried.n == edited.shape[0]
    q = rng.standard_normal((4, 16)).astype(np.float32)
    if mode in ("float32", "float16"):  # codes do not depend on the other rows
        fresh = build_index(edited, mode)
        for method in ("cosine", "dot", "euclidean"):
            ids, scores = carried.search(q, 7, method)
            ref_ids, ref_scores = fresh.search(q, 7, method)
            np.testing.assert_array_equal(ids, ref_ids)
            np.testing.assert_allclose(scores, ref_scores, rtol=1e-6)
    else:  # calibrated on the old rows: still a good index of the new matrix
        from core.search._engine import search

        exact, _ = search(edited, q, 10)
        approx, _ = carried.search(q, 10)
        assert recall_at_k(approx, exact) >= 0.8


def test_updated_index_asks_for_a_rebuild_when_calibration_no_longer_fits(rng):
    x = rng.standard_normal((100, 8)).astype(np.float32)
    far = np.concatenate([x, 10 * x[:1]])
    source = np.concatenate([np.arange(100), [-1]])
    assert build_index(x, "int8").updated(source, far) is None  # out of the calibrated range
    many = np.concatenate([x, x[:50]])
    assert build_index(x, "binary").updated(np.r_[np.arange(100), -np.ones(50, int)], many) is None
    with pytest.raises(ValueError, match=r"source must have shape \(101,\)"):
        build_index(x, "int8").updated(np.arange(3), far)


def test_extend_strongest_pairs_checks_n_old(rng):
    from core.search import extend_strongest_pairs, strongest_pairs

    x = rng.standard_normal((10, 4)).astype(np.float32)
    summary = strongest_pairs(x[:6], 0.5)
    with pytest.raises(ValueError, match=r"n_old must be in \[0, 10\], got 11"):
        extend_strongest_pairs(summary, x, 11, 0.5)
    extended = extend_strongest_pairs(summary, x, 6, 0.5)
    full = strongest_pairs(x, 0.5)
    assert [p[:2] for p in extended.pairs] == [p[:2] for p in full.pairs]
    assert extended.n_passing == full.n_passing
