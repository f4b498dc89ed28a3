"""The tutorial's calls, written the way the tutorial writes them."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core import SimilarityCalculator, TopKRetriever


@pytest.fixture
def docs(rng):
    return rng.standard_normal((100, 16)).astype(np.float32)


def test_similarity_calculator_static_methods(docs, rng):
    query = rng.standard_normal(16).astype(np.float32)
    cos = SimilarityCalculator.cosine_similarity(query, docs)
    euc = SimilarityCalculator.euclidean_distance(query, docs)
    dot = SimilarityCalculator.dot_product(query, docs)
    assert cos.shape == euc.shape == dot.shape == (100,)
    q64, d64 = query.astype(np.float64), docs.astype(np.float64)
    assert_allclose(dot, d64 @ q64, rtol=1e-5, atol=1e-5)
    assert_allclose(cos, d64 @ q64 / (np.linalg.norm(d64, axis=1) * np.linalg.norm(q64)), atol=1e-5)
    assert_allclose(euc, np.linalg.norm(d64 - q64, axis=1), rtol=1e-4)


def test_cosine_with_zero_vectors_is_zero_not_nan(docs):
    docs[7] = 0
    cos = SimilarityCalculator.cosine_similarity(np.zeros(16), docs)
    assert np.isfinite(cos).all() and (cos == 0).all()
    cos = SimilarityCalculator.cosine_similarity(docs[0], docs)
    assert cos[7] == 0 and np.isfinite(cos).all()


def test_similarity_calculator_wants_one_query(docs):
    with pytest.raises(ValueError, match=r"expected one query vector \(d,\), got shape \(2, 16\)"):
        SimilarityCalculator.cosine_similarity(docs[:2], docs)


@pytest.mark.parametrize("method", ["cosine", "euclidean", "dot"])
def test_top_k_retriever(docs, method):
    texts = [f"text {i}" for i in range(len(docs))]
    retriever = TopKRetriever(docs, texts)
    results = retriever.retrieve(docs[42], k=5, method=method)
    assert len(results) == 5
    index, score, text = results[0]
    assert isinstance(index, int) and isinstance(score, float) and text == texts[index]
    scores = [s for _, s, _ in results]
    assert scores == sorted(scores, reverse=True)
    if method != "dot":  # dot favours long vectors, not necessarily the query itself
        assert index == 42
    if method == "euclidean":
        assert score == pytest.approx(0.0, abs=1e-3) and all(s <= 0 for s in scores)


def test_top_k_retriever_checks_lengths(docs):
    with pytest.raises(ValueError, match="3 texts but 100 embeddings"):
        TopKRetriever(docs, ["a", "b", "c"])


def test_top_k_retriever_unknown_method(docs):
    retriever = TopKRetriever(docs, [str(i) for i in range(100)])
    with pytest.raises(ValueError, match="unknown method 'jaccard'"):
        retriever.retrieve(docs[0], k=3, method="jaccard")
