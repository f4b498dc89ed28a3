"""Finite input whose products overflow float32: rescaled (exact) or refused with a message;
never an unfilled slot, an invalid id or an IndexError."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.errors import InvalidInputError
from core.search import MODES, build_index, search
from core.tutorial import TopKRetriever

SCALE = 1e19  # every value finite, every product beyond float32 (about 3.4e38)
REL = 1e-5  # float32 scores against a float64 reference


@pytest.fixture(scope="module")
def huge():
    rng = np.random.default_rng(9)
    corpus = (SCALE * rng.standard_normal((400, 512))).astype(np.float32)
    queries = (SCALE * rng.standard_normal((3, 512))).astype(np.float32)
    assert np.isfinite(corpus).all() and np.isfinite(queries).all()
    return corpus, queries


def reference(corpus, queries, method):
    x, q = corpus.astype(np.float64), queries.astype(np.float64)
    if method == "euclidean":
        s = -np.sqrt(((q[:, None, :] - x[None]) ** 2).sum(-1))
    else:
        s = q @ x.T
        if method == "cosine":
            s /= np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(x, axis=1)[None]
    return s


def assert_valid(ids, scores, n):
    assert ids.min() >= 0 and ids.max() < n  # never int64-max, never an unfilled slot
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("mode", [m for m in MODES if m != "float16"])
@pytest.mark.parametrize("method", ["cosine", "euclidean"])
def test_rescaled_search_is_exact_for_huge_finite_vectors(huge, method, mode):
    corpus, queries = huge
    ids, scores = search(corpus, queries, 3, method, mode=mode)
    assert_valid(ids, scores, len(corpus))
    ref = reference(corpus, queries, method)
    if mode == "float32":  # exact: the true top 3
        assert_array_equal(ids, np.argsort(-ref, axis=1, kind="stable")[:, :3])
    # float32 and binary (rescored) return the exact scores of their ids; int8 scores its
    # decoded vectors (256 levels per dimension: about 1 % off here).
    rtol = 2e-2 if mode == "int8" else REL
    assert_allclose(scores, np.take_along_axis(ref, ids, 1), rtol=rtol)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "float16"])
def test_dot_products_beyond_float32_are_refused_with_a_message(huge, mode):
    corpus, queries = huge
    with pytest.raises(
        InvalidInputError,
        match=r"dot similarity of query \d+ and document \d+ is beyond float32's range",
    ):
        search(corpus, queries, 3, "dot", mode=mode)


@pytest.mark.parametrize("method", ["cosine", "dot", "euclidean"])
def test_float16_refuses_values_beyond_its_range(huge, method):
    corpus, queries = huge
    with pytest.raises(InvalidInputError, match=r"beyond the float16 range \(±65504\)"):
        search(corpus, queries, 3, method, mode="float16")


def test_a_prepared_search_with_kept_norms_is_rescaled_too(huge):
    corpus, queries = huge
    index = build_index(corpus, "float32")
    ids, scores = index.search(queries, 5, "euclidean")
    assert_valid(ids, scores, len(corpus))
    ref = reference(corpus, queries, "euclidean")
    assert_array_equal(ids, np.argsort(-ref, axis=1, kind="stable")[:, :5])


def test_the_tutorial_retriever_never_raises_an_index_error(huge):
    corpus, queries = huge
    retriever = TopKRetriever(corpus, [f"t{i}" for i in range(len(corpus))])
    for method in ("cosine", "euclidean"):
        found = retriever.retrieve(queries[0], k=3, method=method)
        assert [i for i, _, _ in found] == list(
            np.argsort(-reference(corpus, queries[:1], method)[0], kind="stable")[:3]
        )
    with pytest.raises(InvalidInputError, match="beyond float32's range"):
        retriever.retrieve(queries[0], k=3, method="dot")


def test_moderately_large_dot_products_are_rescaled_not_refused():
    rng = np.random.default_rng(4)
    corpus = (1e18 * rng.standard_normal((200, 64))).astype(np.float32)
    query = (1e-2 * rng.standard_normal(64)).astype(np.float32)  # products ~1e17: finite
    corpus[5] = 3e37  # this row's squared norm overflows, its products do not
    ids, scores = search(corpus, query, 4, "dot")
    ref = reference(corpus, query[None], "dot")
    assert_array_equal(ids, np.argsort(-ref, axis=1, kind="stable")[:, :4])
    assert_allclose(scores, np.take_along_axis(ref, ids, 1), rtol=REL)
