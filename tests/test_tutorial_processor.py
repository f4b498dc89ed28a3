"""BatchEmbeddingProcessor as the tutorial uses it, with the real offline model and over HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core import BatchEmbeddingProcessor, TopKRetriever
from core.server._server import Fault
from tests.fixtures_openai import TEST_API_KEY

TEXTS = [
    "The cat sat on the mat.",
    "Stock markets fell sharply after the announcement.",
    "猫坐在垫子上。",
    "",
    "A feline was resting on the rug.",
]


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file can be picked up


def test_default_processor_needs_no_key_and_uses_the_offline_model(no_key):
    processor = BatchEmbeddingProcessor()
    assert processor.embedder.spec.provider == "use-multilingual"
    assert processor.dimension == 512
    embeddings = processor.generate_embeddings(TEXTS, batch_size=2)
    assert embeddings.shape == (5, 512) and embeddings.dtype == np.float32
    assert_array_equal(embeddings[3], 0.0)  # the empty text: a zero vector, documented
    assert processor.last_result.n_empty == 1
    normalized = processor.normalize_embeddings(embeddings)
    assert np.isfinite(normalized).all()
    norms = np.linalg.norm(normalized, axis=1)
    assert_allclose(np.delete(norms, 3), 1.0, atol=1e-5)
    # Order is input order: each text is closest to itself, and the paraphrase beats the rest.
    query = processor.generate_embeddings(["A kitten lying on a carpet."])[0]
    results = TopKRetriever(normalized, TEXTS).retrieve(query, k=3, method="cosine")
    assert {results[0][0], results[1][0]} <= {0, 2, 4}


def test_second_run_comes_from_the_cache(no_key):
    processor = BatchEmbeddingProcessor()
    first = processor.generate_embeddings(TEXTS)
    again = processor.generate_embeddings(TEXTS)
    assert processor.last_result.n_cached == 4 and processor.last_result.n_requests == 0
    assert_array_equal(first, again)


def test_naming_an_openai_model_without_a_key_says_how_to_set_one(no_key):
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        BatchEmbeddingProcessor(model="text-embedding-3-small")


def test_tutorial_call_against_an_openai_compatible_server(no_key, monkeypatch, openai_server):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    processor = BatchEmbeddingProcessor(model="text-embedding-3-small", dimensions=64)
    assert processor.embedder.spec.provider == "openai" and processor.dimension == 64
    openai_server.inject(Fault.shuffled(), Fault.shuffled())
    embeddings = processor.generate_embeddings(TEXTS, batch_size=2)
    assert embeddings.shape == (5, 64)
    # The server's vectors are a deterministic function of the text: each row must be its own.
    alone = np.vstack([processor.embedder.embed_query(t) for t in TEXTS if t])
    assert_allclose(np.delete(embeddings, 3, axis=0), alone, atol=1e-6)
    assert len(openai_server.embedding_requests) >= 2
