"""The numeric engine (core.search._engine, and the pairwise functions of core.search._pairs
built on its scoring) against a float64 brute-force reference, its errors and properties."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from core.search import _kernels as kernels
from core.search._engine import Metric, as_matrix, normalize, row_norms, search
from core.search._pairs import near_duplicates, row_cosines, similarity_matrix, strongest_pairs

METHODS = [m.value for m in Metric]
DTYPES = [np.float64, np.float32, np.float16]
# float32 GEMM against a float64 reference; float16 inputs are exact in float32, so the same.
COSINE_ATOL = 1e-5
DOT_RTOL = 1e-5
EUCLID_RTOL = 1e-4  # |a|^2 + |b|^2 - 2ab loses digits when points are close


def reference_scores(corpus, queries, method):
    """Float64 brute force; higher is better (euclidean: negative distance)."""
    c, q = np.asarray(corpus, np.float64), np.atleast_2d(np.asarray(queries, np.float64))
    if method == "dot":
        return q @ c.T
    if method == "cosine":
        cn, qn = np.linalg.norm(c, axis=1), np.linalg.norm(q, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (q @ c.T) / np.outer(qn, cn)
        return np.where(np.outer(qn, cn) > 0, out, 0.0)
    return -np.linalg.norm(q[:, None, :] - c[None, :, :], axis=2)


def reference_topk(corpus, queries, k, method):
    scores = reference_scores(corpus, queries, method)
    ids = np.array([np.lexsort((np.arange(row.size), -row))[:k] for row in scores])
    return ids, np.take_along_axis(scores, ids, 1)


# ------------------------------------------------------------------ validation


def test_as_matrix_makes_float32_c_contiguous_rows():
    x = np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4))
    out = as_matrix(x)
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (3, 4)
    assert as_matrix([1.0, 2.0, 3.0]).shape == (1, 3)


def test_as_matrix_returns_float32_input_unchanged():
    x = np.ones((4, 3), np.float32)
    assert as_matrix(x) is x


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused_naming_the_first_bad_row(bad):
    x = np.ones((40_000, 3), np.float32)
    x[20_001, 1] = bad
    x[30_000, 0] = bad
    with pytest.raises(ValueError, match=r"corpus row 20001 contains NaN or infinity"):
        as_matrix(x, "corpus")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.ones((2, 3, 4)), r"must be 1-D \(d,\) or 2-D \(n, d\), got shape \(2, 3, 4\)"),
        (np.ones((3, 0)), r"dimension 0"),
        (np.array(["a", "b"]), r"must be numeric, got dtype <U1"),
        (np.array([1 + 2j]), r"must be real-valued"),
        ([[1.0, 2.0], [3.0]], r"numeric array of vectors"),
    ],
)
def test_as_matrix_errors_say_what_is_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        as_matrix(value)


# ------------------------------------------------------------------ normalize


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalize_gives_unit_rows_and_keeps_zero_rows_zero(dtype, rng):
    x = rng.standard_normal((50, 16)).astype(dtype)
    x[[3, 17]] = 0
    out = normalize(x)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    norms = np.linalg.norm(out.astype(np.float64), axis=1)
    assert_allclose(norms[[3, 17]], 0.0)
    assert_allclose(np.delete(norms, [3, 17]), 1.0, atol=1e-6)
    expected = (
        x.astype(np.float64)
        / np.maximum(np.linalg.norm(x.astype(np.float64), axis=1), 1e-300)[:, None]
    )
    assert_allclose(out, expected, atol=1e-6)


def test_normalize_refuses_nan():
    with pytest.raises(ValueError, match="vectors row 1 contains NaN"):
        normalize([[1.0, 0.0], [np.nan, 1.0]])


# ------------------------------------------------------------------ similarity


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_similarity_matrix_matches_float64_reference(method, dtype, rng):
    a = rng.standard_normal((7, 24)).astype(dtype)
    b = rng.standard_normal((30, 24)).astype(dtype)
    a[2] = 0  # zero vector: cosine 0, never NaN
    got = similarity_matrix(a, b, method)
    ref = reference_scores(b, a, method)
    assert got.dtype == np.float32 and got.shape == (7, 30)
    if method == "cosine":
        assert_allclose(got, ref, atol=COSINE_ATOL)
        assert_array_equal(got[2], 0.0)
    elif method == "dot":
        assert_allclose(got, ref, rtol=DOT_RTOL, atol=1e-4)
    else:
        assert_allclose(got, -ref, rtol=EUCLID_RTOL, atol=1e-4)


def test_similarity_matrix_of_a_with_itself_is_symmetric_with_unit_diagonal(rng):
    a = rng.standard_normal((12, 8))
    sim = similarity_matrix(a)
    assert_allclose(sim, sim.T, atol=1e-6)
    assert_allclose(np.diag(sim), 1.0, atol=1e-6)
    assert_allclose(np.diag(similarity_matrix(a, method="euclidean")), 0.0, atol=1e-3)


def test_euclidean_distance_is_never_negative_or_nan_for_identical_points():
    # Large, nearly equal vectors: |a|^2 + |b|^2 - 2ab can round below zero; it must clamp.
    a = np.full((3, 64), 1000.0, np.float32)
    a[1, 0] += 1e-3
    dist = similarity_matrix(a, method="euclidean")
    assert np.isfinite(dist).all() and (dist >= 0).all()


def test_similarity_matrix_refuses_huge_outputs():
    with pytest.raises(ValueError, match="too large to build at once"):
        similarity_matrix(np.ones((10_000, 2)), np.ones((10_000, 2)))


# ------------------------------------------------------------------ search


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_search_matches_float64_reference(method, dtype, rng):
    corpus = rng.standard_normal((300, 32)).astype(dtype)
    queries = rng.standard_normal((9, 32)).astype(dtype)
    corpus[5] = 0
    ids, scores = search(corpus, queries, k=10, method=method)
    ref_ids, ref_scores = reference_topk(corpus, queries, 10, method)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert ids.shape == scores.shape == (9, 10)
    assert_array_equal(ids, ref_ids)
    tol = {"cosine": dict(atol=COSINE_ATOL), "dot": dict(rtol=DOT_RTOL, atol=1e-4)}
    assert_allclose(scores, ref_scores, **tol.get(method, dict(rtol=EUCLID_RTOL, atol=1e-4)))


def test_one_dimensional_query_is_one_row(rng):
    corpus = rng.standard_normal((20, 4))
    ids, scores = search(corpus, corpus[3], k=1)
    assert ids.shape == (1, 1) and ids[0, 0] == 3
    assert_allclose(scores[0, 0], 1.0, atol=1e-6)


def test_k_larger_than_corpus_returns_everything_sorted(rng):
    corpus = rng.standard_normal((6, 5))
    ids, scores = search(corpus, rng.standard_normal(5), k=50)
    assert ids.shape == (1, 6)
    assert sorted(ids[0].tolist()) == list(range(6))
    assert (np.diff(scores[0]) <= 0).all()


def test_ties_are_broken_by_lower_index():
    corpus = np.array([[1.0, 0.0]] * 3 + [[2.0, 0.0]] + [[1.0, 0.0]] * 3)
    ids, _ = search(corpus, [1.0, 0.0], k=4, method="cosine")
    assert_array_equal(ids[0], [0, 1, 2, 3])
    ids, _ = search(corpus, [1.0, 0.0], k=3, method="dot")
    assert_array_equal(ids[0], [3, 0, 1])


def test_euclidean_score_is_negative_distance(rng):
    corpus = rng.standard_normal((30, 6))
    q = rng.standard_normal(6)
    ids, scores = search(corpus, q, k=3, method="euclidean")
    assert_allclose(-scores[0], np.linalg.norm(corpus[ids[0]] - q, axis=1), rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(k=0), r"k must be at least 1, got 0"),
        (dict(k=-3), r"k must be at least 1, got -3"),
        (dict(k=2.5), r"k must be an integer, got 2.5"),
        (
            dict(method="manhattan"),
            r"unknown method 'manhattan'; use one of 'cosine', 'dot', 'euclidean'",
        ),
        (dict(memory_budget_mb=0), r"memory_budget_mb must be positive, got 0"),
    ],
)
def test_search_parameter_errors(kwargs, message, rng):
    with pytest.raises(ValueError, match=message):
        search(rng.standard_normal((5, 3)), rng.standard_normal(3), **kwargs)


def test_search_dimension_mismatch_names_both_shapes(rng):
    with pytest.raises(
        ValueError,
        match=r"queries have d=4 \(shape \(1, 4\)\) but the corpus has d=3 \(shape \(5, 3\)\)",
    ):
        search(rng.standard_normal((5, 3)), rng.standard_normal(4))


def test_search_empty_corpus_is_refused():
    with pytest.raises(ValueError, match=r"the corpus is empty \(shape \(0, 3\)\)"):
        search(np.empty((0, 3)), np.ones(3))


def test_block_rows_respect_the_budget():
    budget = 8 * 2**20
    rows = kernels.block_rows(1_000_000, 256, row_bytes=1536, budget_bytes=budget, workers=2)
    assert 2 * rows * (4 * 256 + 1536 + 8) <= budget and rows >= kernels.MIN_BLOCK_ROWS
    assert kernels.block_rows(10, 3, budget_bytes=budget) == kernels.MIN_BLOCK_ROWS


def test_many_queries_over_a_large_corpus_stay_within_the_memory_budget(rng):
    corpus = rng.standard_normal((200_000, 8)).astype(np.float32)
    queries = rng.standard_normal((500, 8)).astype(np.float32)
    full_matrix_bytes = 500 * 200_000 * 4  # 400 MB if built at once
    tracemalloc.start()
    try:
        ids, _ = search(corpus, queries, k=5, method="euclidean", memory_budget_mb=16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ids.shape == (500, 5)
    # 16 MiB of score blocks plus per-search arrays (norms, outputs); far below the full matrix.
    assert peak < 40 * 2**20 < full_matrix_bytes


# ------------------------------------------------------------------ properties

small_ints = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 60), st.integers(1, 6)),
    elements=st.integers(-3, 3).map(float),  # exact in float32: ties are real ties
)


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(1, 12)),
        elements=st.floats(-1e6, 1e6, allow_subnormal=False),
    )
)
def test_property_normalized_norms_are_one_or_zero(x):
    norms = np.linalg.norm(normalize(x).astype(np.float64), axis=1)
    assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))


@settings(max_examples=60, deadline=None)
@given(a=small_ints, b=small_ints)
def test_property_cosine_is_within_minus_one_and_one(a, b):
    if a.shape[1] != b.shape[1]:
        b = np.resize(b, (b.shape[0], a.shape[1]))
    sim = similarity_matrix(a, b)
    assert ((sim >= -1) & (sim <= 1)).all()


@settings(max_examples=80, deadline=None)
@given(
    corpus=small_ints,
    k=st.integers(1, 70),
    method=st.sampled_from(METHODS),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_search_equals_full_stable_sort_and_chunking_changes_nothing(
    corpus, k, method, seed
):
    query = (
        np.random.default_rng(seed).integers(-3, 4, size=(2, corpus.shape[1])).astype(np.float32)
    )
    ids, scores = search(corpus, query, k=k, method=method)
    full = similarity_matrix(query, corpus, method)
    if method == "euclidean":
        full = -full
    for row in range(2):
        expected = np.argsort(-full[row], kind="stable")[: min(k, len(corpus))]
        assert_array_equal(ids[row], expected)
    tiny_ids, tiny_scores = search(corpus, query, k=k, method=method, memory_budget_mb=1e-5)
    assert_array_equal(tiny_ids, ids)
    assert_allclose(tiny_scores, scores, atol=1e-6)


# ------------------------------------------------------------------ near duplicates


def test_near_duplicates_finds_pairs_in_order(rng):
    base = rng.standard_normal((50, 16))
    x = np.vstack([base, base[[4, 9]] * 2.0, base[4] + 1e-4])  # rows 50, 51, 52
    pairs = near_duplicates(x, threshold=0.999)
    found = {(i, j) for i, j, _ in pairs}
    assert {(4, 50), (9, 51), (4, 52), (50, 52)} <= found
    assert all(i < j for i, j, _ in pairs)
    scores = [s for *_, s in pairs]
    assert scores == sorted(scores, reverse=True)


def test_near_duplicates_chunked_equals_unchunked(rng):
    x = rng.integers(-1, 2, size=(300, 4)).astype(np.float32)
    whole = near_duplicates(x, 0.9)
    chunked = near_duplicates(x, 0.9, memory_budget_mb=0.001)
    assert whole == chunked and len(whole) > 0


def test_near_duplicates_euclidean_uses_distance_threshold():
    x = np.array([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0], [0.0, 3.0]])
    pairs = near_duplicates(x, threshold=0.5, method="euclidean")
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
    assert_allclose(pairs[0][2], 0.1, rtol=1e-4)


def test_near_duplicates_refuses_a_threshold_that_matches_everything(rng):
    with pytest.raises(ValueError, match="use a stricter threshold"):
        near_duplicates(rng.standard_normal((100, 3)), threshold=-1.0, max_pairs=10)


# ------------------------------------------------------------------ strongest pairs


def reference_best_pair(x, method):
    """Float64 brute force: the most alike (i, j, similarity or distance), i < j."""
    scores = reference_scores(x, x, method)
    np.fill_diagonal(scores, -np.inf)
    i, j = sorted(np.unravel_index(np.argmax(scores), scores.shape))
    score = scores[i, j]
    return int(i), int(j), float(-score if method == "euclidean" else score)


@pytest.mark.parametrize(
    ("method", "threshold"), [("cosine", 0.3), ("dot", 1.0), ("euclidean", 3.5)]
)
@pytest.mark.parametrize("budget", [256.0, 0.001])
def test_strongest_pairs_are_near_duplicates_first_pairs_with_their_count(
    method, threshold, budget, rng
):
    x = rng.standard_normal((120, 8)).astype(np.float32)
    every = near_duplicates(x, threshold, method, max_pairs=10**6)
    assert len(every) > 50  # enough to cut
    for limit in (1, 50, 10**6):
        found = strongest_pairs(x, threshold, method, limit=limit, memory_budget_mb=budget)
        assert found.n_passing == len(every)
        assert found.truncated == (limit < len(every))
        assert [p[:2] for p in found.pairs] == [p[:2] for p in every[:limit]]
        assert_allclose([p[2] for p in found.pairs], [p[2] for p in every[:limit]], rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_strongest_pairs_report_the_best_pair_even_when_none_passes(method, rng):
    x = rng.standard_normal((90, 6))
    strict = 1e9 if method != "euclidean" else -1.0  # nothing can pass
    found = strongest_pairs(x, strict, method, memory_budget_mb=0.001)
    assert found.pairs == [] and found.n_passing == 0 and not found.truncated
    i, j, score = reference_best_pair(x, method)
    assert found.best[:2] == (i, j)
    assert_allclose(found.best[2], score, rtol=EUCLID_RTOL, atol=COSINE_ATOL)


def test_strongest_pairs_do_not_stop_at_a_pair_cap_that_near_duplicates_enforces(rng):
    x = normalize(rng.standard_normal((300, 4)))  # unit vectors: every distance is <= 2
    with pytest.raises(ValueError, match="more than 20,000 pairs"):
        near_duplicates(x, 2.0, "euclidean", max_pairs=20_000)
    found = strongest_pairs(x, 2.0, "euclidean", limit=500)
    assert len(found.pairs) == 500 and found.truncated
    reference = -reference_scores(x, x, "euclidean")[np.triu_indices(300, 1)]
    assert found.n_passing == np.count_nonzero(reference <= 2.0) > 20_000
    assert_allclose([p[2] for p in found.pairs], np.sort(reference)[:500], rtol=EUCLID_RTOL)


def test_strongest_pairs_break_ties_by_index_across_blocks():
    x = np.ones((40, 3), dtype=np.float32)  # every pair has cosine 1
    found = strongest_pairs(x, 0.5, limit=4, memory_budget_mb=0.001)
    assert [p[:2] for p in found.pairs] == [(0, 1), (0, 2), (0, 3), (0, 4)]
    assert found.n_passing == 40 * 39 // 2 and found.best[:2] == (0, 1)


def test_strongest_pairs_of_one_row_have_no_best_pair():
    found = strongest_pairs(np.ones((1, 3)), 0.0)
    assert found.pairs == [] and found.n_passing == 0 and found.best is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"limit": 0}, "limit must be a positive integer, got 0"),
        ({"limit": True}, "limit must be a positive integer"),
        ({"norms": np.ones(3)}, r"norms must have shape \(5,\), got \(3,\)"),
        ({"method": "manhattan"}, "unknown method 'manhattan'; use one of"),
    ],
)
def test_strongest_pairs_parameter_errors(kwargs, message, rng):
    with pytest.raises(ValueError, match=message):
        strongest_pairs(rng.standard_normal((5, 3)), **kwargs)


def test_strongest_pairs_with_given_norms_equal_computed_ones(rng):
    x = rng.standard_normal((60, 5)).astype(np.float32)
    # The norms a collection keeps (row_norms): the same pairs, scores and best pair.
    assert strongest_pairs(x, 0.2, norms=row_norms(x)) == strongest_pairs(x, 0.2)


def test_row_cosines_match_float64_and_keep_zero_rows_zero(rng):
    a, b = rng.standard_normal((7, 5)), rng.standard_normal((7, 5))
    a[3] = 0.0
    expected = np.einsum("ij,ij->i", a, b) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + (np.arange(7) == 3)
    )
    got = row_cosines(a, b)
    assert got.dtype == np.float32 and got.shape == (7,)
    assert_allclose(got, expected, atol=COSINE_ATOL)
    assert got[3] == 0.0 and np.all(np.abs(got) <= 1.0)
    with pytest.raises(ValueError, match=r"a has shape \(7, 5\) but b has shape \(6, 5\)"):
        row_cosines(a, b[:6])


@pytest.mark.parametrize("scale", [1e-40, 7.3e-22, 1e-18, 1e18, 3e38])
def test_normalize_handles_tiny_and_huge_components(scale):
    # float32 squares of these underflow to 0 or overflow to inf; the rows must still be unit.
    x = np.array([[scale, -scale / 2, 0.0], [1.0, 2.0, 2.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/underflow warning leaks to the user
        out = normalize(x)
    assert np.isfinite(out).all()
    assert_allclose(np.linalg.norm(out.astype(np.float64), axis=1), 1.0, atol=1e-6)
    assert_allclose(out[0], [2 / np.sqrt(5), -1 / np.sqrt(5), 0.0], atol=1e-6)


# Isotropic random vectors are the worst case for compressed codes: the 2nd..10th neighbours are
# barely closer than the rest. Real text embeddings do much better (BENCHMARKS.md: binary 0.99).
MIN_RECALL_ON_RANDOM = {"float16": 0.99, "int8": 0.95, "binary": 0.75}


@pytest.mark.parametrize("mode", ["float16", "int8", "binary"])
def test_search_in_a_memory_mode_finds_what_exact_search_finds(mode, rng):
    from core.search._modes import recall_at_k

    corpus = normalize(rng.standard_normal((2_000, 64)))
    queries = corpus[:20] + 0.05 * rng.standard_normal((20, 64)).astype(np.float32)
    exact_ids, _ = search(corpus, queries, k=10)
    ids, scores = search(corpus, queries, k=10, mode=mode)
    assert ids.shape == scores.shape == (20, 10) and ids.dtype == np.int64
    assert_array_equal(ids[:, 0], np.arange(20))  # each perturbed copy finds its original
    assert recall_at_k(ids, exact_ids) >= MIN_RECALL_ON_RANDOM[mode]


def test_search_unknown_mode_lists_the_valid_ones(rng):
    with pytest.raises(
        ValueError, match=r"unknown mode 'bfloat16'; choose one of float32, float16"
    ):
        search(rng.standard_normal((5, 3)), rng.standard_normal(3), mode="bfloat16")


@pytest.mark.parametrize("method", ["cosine", "euclidean"])
def test_one_shot_search_checks_values_through_the_norms(method, rng):
    corpus = rng.standard_normal((50, 6)).astype(np.float32)
    query = np.full(6, 0.1, dtype=np.float32)
    corpus[7] = [3e38, 3e38, 0, 0, 0, 0]  # finite, but its norm overflows float32
    ids, _ = search(corpus, query, k=3, method=method)  # accepted: every value is finite
    assert ids.shape == (1, 3)
    corpus[31, 2] = np.inf
    with pytest.raises(ValueError, match=r"corpus row 31 contains NaN or infinity"):
        search(corpus, query, k=3, method=method)
    corpus[31, 2], corpus[12, 0] = 0.0, np.nan
    with pytest.raises(ValueError, match=r"corpus row 12 contains NaN or infinity"):
        search(corpus, query, k=3, method=method)
