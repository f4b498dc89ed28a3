"""merge_topk: any split of the corpus, searched part by part and merged, equals one search
(for cosine, up to the order of vectors whose scores BLAS rounds an ulp apart)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.errors import InvalidInputError
from core.search import merge_topk, search


@pytest.mark.parametrize("method", ["cosine", "dot", "euclidean"])
@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(1, 59), max_size=5, unique=True), k=st.integers(1, 8))
@example(cuts=[5, 6, 1, 2], k=5)  # a one-row part: cosine rounds its row 2 ulp apart
def test_merge_of_parts_equals_one_search(method, cuts, k):
    rng = np.random.default_rng(len(cuts) * 100 + k)
    corpus = rng.integers(-2, 3, size=(60, 4)).astype(np.float32)  # many exact ties
    queries = rng.integers(-2, 3, size=(3, 4)).astype(np.float32)
    queries[0] = corpus[7]
    bounds = [0, *sorted(cuts), 60]
    parts = []
    for lo, hi in itertools.pairwise(bounds):
        ids, scores = search(corpus[lo:hi], queries, min(k, hi - lo), method)
        parts.append((ids + lo, scores))
    merged = merge_topk(parts, k)  # search returns higher-is-better scores (-distance)
    expected = search(corpus, queries, k, method)
    np.testing.assert_allclose(merged[1], expected[1], rtol=1e-5, atol=1e-5)
    if method != "cosine":
        # Small integers: dot products and distances are exact in float32, so ties are exact.
        np.testing.assert_array_equal(merged[0], expected[0])
        return
    # Cosine divides by norms: BLAS may round one row's score an ulp or two differently in
    # blocks of other shapes (a one-row part here), which can swap two equal vectors. The merge
    # must still be a top-k: every id's score (from one search of the whole corpus) is the
    # expected score at its place, and no id repeats.
    every_ids, every_scores = search(corpus, queries, len(corpus), method)
    for q in range(len(queries)):
        score_of = dict(zip(every_ids[q].tolist(), every_scores[q].tolist(), strict=True))
        got = np.array([score_of[i] for i in merged[0][q]])
        np.testing.assert_allclose(got, expected[1][q], atol=1e-6)
        assert len(set(merged[0][q].tolist())) == k


def test_merge_errors_name_the_problem():
    ids = np.zeros((2, 3), dtype=np.int64)
    with pytest.raises(InvalidInputError, match="at least one part"):
        merge_topk([], 1)
    with pytest.raises(InvalidInputError, match=r"k must be from 1 to 3 \(the candidates\), got 4"):
        merge_topk([(ids, np.zeros((2, 3)))], 4)
    with pytest.raises(InvalidInputError, match=r"shape \(2, 3\) and scores of shape \(2, 2\)"):
        merge_topk([(ids, np.zeros((2, 2)))], 1)
