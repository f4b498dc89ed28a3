"""core.services.run_search: the one search workflow of the dashboard and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from core.data import Collection
from core.errors import InvalidInputError
from core.search import search
from core.services import MEMORY_MODES, SearchReport, check_queries, neighbours, run_search

TEXTS = [f"document number {i} about topic {i % 5}" for i in range(40)]


@pytest.fixture
def collection(make_embedder):
    embedder = make_embedder()
    vectors = np.asarray(embedder.embed_documents(TEXTS), dtype=np.float32)
    return Collection.create(TEXTS, vectors, embedder.spec), embedder


@pytest.mark.parametrize("method", ["cosine", "euclidean", "dot"])
def test_exact_report_matches_the_engine(collection, method, openai_server):
    coll, embedder = collection
    report = run_search(
        coll, ["topic 3", "number 7"], embedder, method=method, k=4, query_cache=None
    )
    assert isinstance(report, SearchReport)
    expected = search(coll.embeddings, report.vectors, 4, method)
    np.testing.assert_array_equal(report.ids, expected[0])
    np.testing.assert_allclose(report.scores, expected[1], rtol=1e-6)
    assert report.queries == ["topic 3", "number 7"]
    assert (report.n_docs, report.k, report.mode, report.recall) == (40, 4, "float32", None)
    assert report.memory_bytes == report.exact_bytes == coll.embeddings.nbytes
    assert report.best_cosine.shape == (2,)
    assert report.content_hash == coll.manifest.content_hash
    assert not report.previous and report.as_previous().previous


@pytest.mark.parametrize("mode", [m for m in MEMORY_MODES if m != "float32"])
def test_compressed_modes_report_recall_and_their_own_memory(collection, mode):
    coll, embedder = collection
    report = run_search(coll, ["topic 1"], embedder, k=3, mode=mode, query_cache=None)
    assert 0.0 <= report.recall <= 1.0
    assert report.memory_bytes < report.exact_bytes
    assert (report.rescore_pool is not None) == (mode == "binary")


def test_queries_cached_in_the_given_store_are_not_sent_again(collection, openai_server):
    coll, embedder = collection
    first = run_search(coll, ["same query"], embedder, k=2, query_cache="default")
    sent = len(openai_server.embedding_requests)
    second = run_search(coll, ["same query"], embedder, k=2, query_cache="default")
    assert (first.n_cached, second.n_cached) == (0, 1)
    assert len(openai_server.embedding_requests) == sent  # nothing sent the second time
    np.testing.assert_array_equal(first.ids, second.ids)


@pytest.mark.parametrize(
    ("queries", "k", "mode", "match"),
    [
        ([], 3, "float32", "no query given"),
        (["ok", "  "], 3, "float32", "query 2 is empty"),
        (["ok"], 0, "float32", "k must be a whole number of at least 1, got 0"),
        (["ok"], 2.5, "float32", "k must be a whole number of at least 1, got 2.5"),
        (["ok"], 3, "int4", "unknown memory mode 'int4'"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_sent(
    collection, openai_server, queries, k, mode, match
):
    coll, embedder = collection
    sent = len(openai_server.embedding_requests)
    with pytest.raises(InvalidInputError, match=match):
        run_search(coll, queries, embedder, k=k, mode=mode)
    assert len(openai_server.embedding_requests) == sent


def test_neighbours_exclude_the_document_itself(collection):
    coll, _ = collection
    ids, scores = neighbours(coll, 5, 3, "cosine")
    assert 5 not in ids.tolist() and len(ids) == 3
    assert np.all(np.diff(scores) <= 0)


def test_check_queries_keeps_order():
    assert check_queries(("b", "a")) == ["b", "a"]
