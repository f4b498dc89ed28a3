"""Pytest fixtures for tests against the project's OpenAI-compatible server on 127.0.0.1.

Loaded for the whole suite by ``pytest_plugins = ["tests.fixtures_openai"]`` in tests/conftest.py;
a test module may also ``from tests.fixtures_openai import *``.
"""

from __future__ import annotations

import pytest

from core.embedding._cache import CACHE_DIR_ENV, EmbeddingCache
from core.embedding.providers._openai import OpenAIEmbedder, make_openai_embedder
from core.server._server import OpenAICompatibleServer

__all__ = [
    "TEST_API_KEY",
    "TEST_DIMENSIONS",
    "isolated_embedding_cache",
    "make_embedder",
    "openai_server",
    "tmp_cache",
]

TEST_API_KEY = "sk-test-workbench-0123456789"
TEST_DIMENSIONS = 8  # small vectors keep the tests fast; the server supports any 1..native


@pytest.fixture(autouse=True)
def isolated_embedding_cache(tmp_path_factory, monkeypatch):
    """No test writes to the user's ~/.cache: the default cache lives in a fresh temp folder."""
    directory = tmp_path_factory.mktemp("embedding-cache")
    monkeypatch.setenv(CACHE_DIR_ENV, str(directory))
    return directory


@pytest.fixture
def openai_server():
    """A fresh server (no latency, no rate limit) on an ephemeral port, stopped after the test."""
    with OpenAICompatibleServer(api_key=TEST_API_KEY) as server:
        yield server


@pytest.fixture
def tmp_cache(tmp_path) -> EmbeddingCache:
    """An empty cache of the test's own."""
    cache = EmbeddingCache(tmp_path / "cache")
    yield cache
    cache.close()


@pytest.fixture
def make_embedder(openai_server):
    """Factory for OpenAI embedders pointed at ``openai_server`` (8 dimensions by default)."""

    def make(
        model: str = "text-embedding-3-small",
        dimensions: int | None = TEST_DIMENSIONS,
        **kwargs,
    ) -> OpenAIEmbedder:
        kwargs.setdefault("timeout", 10.0)
        return make_openai_embedder(
            model,
            dimensions,
            api_key=kwargs.pop("api_key", TEST_API_KEY),
            base_url=kwargs.pop("base_url", openai_server.base_url),
            **kwargs,
        )

    return make
