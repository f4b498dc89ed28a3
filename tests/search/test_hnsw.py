"""core.search._hnsw: the approximate mode, against exact search, and saved with a collection."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.data._collection import Collection
from core.embedding._types import EmbedderSpec
from core.errors import InvalidInputError
from core.search import build_index, recall_at_k, search
from core.search._hnsw import HnswIndex

pytest.importorskip("faiss")

RECALL_FLOOR = 0.95  # measured 1.0 on the clustered data below; HNSW may miss a few
SCORE_RTOL = 1e-4  # rescored in float64 vs the exact float32 engine


def clustered(rng, n, d, centers=30):
    c = rng.standard_normal((centers, d))
    x = c[rng.integers(0, centers, n)] + 0.5 * rng.standard_normal((n, d))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    return clustered(rng, 2_000, 32), clustered(rng, 30, 32)


@pytest.mark.parametrize("method", ["cosine", "dot", "euclidean"])
def test_hnsw_finds_what_exact_search_finds_with_exact_scores(data, method):
    corpus, queries = data
    index = build_index(corpus, "hnsw")
    ids, scores = index.search(queries, 10, method)
    exact_ids, exact_scores = search(corpus, queries, 10, method)
    assert recall_at_k(ids, exact_ids) >= RECALL_FLOOR
    assert ids.min() >= 0 and ids.max() < len(corpus)
    # Every score is the exact score of its id, best first.
    same = ids == exact_ids
    assert_allclose(scores[same], exact_scores[same], rtol=SCORE_RTOL, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()
    one_shot = search(corpus, queries, 10, method, mode="hnsw")
    assert recall_at_k(one_shot[0], exact_ids) >= RECALL_FLOOR


def test_hnsw_on_tiny_corpora_returns_every_row_ties_by_index():
    corpus = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    ids, scores = build_index(corpus, "hnsw").search(np.array([1, 0]), 10, "cosine")
    assert_array_equal(ids, [[0, 1, 3, 2]])
    assert_allclose(scores, [[1, 1, 1, 0]], atol=1e-6)


def test_hnsw_parameters_are_checked():
    x = np.ones((5, 3), np.float32)
    with pytest.raises(InvalidInputError, match="ef_search must be an integer of at least 2"):
        build_index(x, "hnsw", ef_search=1)
    with pytest.raises(
        InvalidInputError, match=r"unknown mode 'ivf'; choose one of .*binary, hnsw"
    ):
        build_index(x, "ivf")


def test_the_graph_is_built_once_and_saved_with_the_collection(tmp_path, data):
    corpus, queries = data
    texts = [f"doc {i}" for i in range(len(corpus))]
    spec = EmbedderSpec(provider="local", model="test", dimensions=None)
    collection = Collection.create(texts, corpus, spec)
    first = collection.search(queries, 5, "cosine", mode="hnsw")
    assert set(collection.index("hnsw").graphs) == {"cos"}
    collection.save(tmp_path / "c")
    loaded = Collection.load(tmp_path / "c")
    index = loaded.index("hnsw")
    assert isinstance(index, HnswIndex) and set(index.graphs) == {"cos"}  # not rebuilt
    assert index.build_seconds == collection.index("hnsw").build_seconds
    again = loaded.search(queries, 5, "cosine", mode="hnsw")
    assert_array_equal(again[0], first[0])
    assert_allclose(again[1], first[1], rtol=1e-6)
