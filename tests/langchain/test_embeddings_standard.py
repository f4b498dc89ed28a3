"""LangChain's standard tests for embeddings, on this project's providers: the offline Universal
Sentence Encoder, and OpenAI pointed at the project's own OpenAI-compatible server."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from core.embedding.providers._local import UseMultilingualEmbedder
from core.embedding.providers._openai import OpenAIEmbedder
from tests.fixtures_openai import TEST_API_KEY, TEST_DIMENSIONS

OPENAI_MODEL = "text-embedding-3-small"


class TestUseMultilingualUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self):
        return UseMultilingualEmbedder


class TestUseMultilingualIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self):
        return UseMultilingualEmbedder


class _AgainstTheServer:
    """Every test of these classes talks to a fresh server on 127.0.0.1."""

    @pytest.fixture(autouse=True)
    def _server(self, openai_server):
        self.server = openai_server

    @property
    def embeddings_class(self):
        return OpenAIEmbedder

    @property
    def embedding_model_params(self) -> dict:
        return {
            "model": OPENAI_MODEL,
            "dimensions": TEST_DIMENSIONS,
            "api_key": TEST_API_KEY,
            "base_url": self.server.base_url,
            "cache": None,
            "timeout": 10.0,
        }


class TestOpenAIUnit(_AgainstTheServer, EmbeddingsUnitTests):
    @property
    def init_from_env_params(self):
        # The key and the server come from the environment, as OPENAI_API_KEY/OPENAI_BASE_URL.
        return (
            {"OPENAI_API_KEY": TEST_API_KEY, "OPENAI_BASE_URL": self.server.base_url},
            {"model": OPENAI_MODEL, "dimensions": TEST_DIMENSIONS},
            {"base_url": self.server.base_url, "model": OPENAI_MODEL},
        )


class TestOpenAIIntegration(_AgainstTheServer, EmbeddingsIntegrationTests):
    def test_vectors_come_from_the_server(self, model):
        # Not a standard test: the vectors are the server's, of the dimension asked for.
        vector = model.embed_query("foo")
        assert len(vector) == TEST_DIMENSIONS
        assert len(self.server.embedding_requests) >= 1
