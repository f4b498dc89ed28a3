"""The OpenAI provider against the project's server: configuration, parsing and error mapping."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from numpy.testing import assert_allclose

from core.embedding._types import BatchEmbedder
from core.embedding.providers._openai import (
    OPENAI_LIMITS,
    MissingAPIKeyError,
    OpenAIRequestError,
    make_openai_embedder,
    resolve_api_key,
    resolve_base_url,
)
from core.errors import ProviderResponseError, RetryableEmbeddingError
from core.server._server import Fault, OpenAICompatibleServer, reference_embedding
from tests.fixtures_openai import *  # noqa: F403
from tests.fixtures_openai import TEST_API_KEY, TEST_DIMENSIONS

SMALL = "text-embedding-3-small"
EXACT = 1e-6


@pytest.fixture
def no_openai_env(monkeypatch, tmp_path):
    """No key or base URL from the environment or a .env file."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def reference(texts, dims=TEST_DIMENSIONS, model=SMALL):
    return np.stack([reference_embedding(t, model, dims) for t in texts])


# --- configuration ---------------------------------------------------------------------------
def test_key_comes_from_argument_then_env_then_dotenv(no_openai_env, monkeypatch):
    assert resolve_api_key() is None
    (no_openai_env / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\n")
    assert resolve_api_key() == "sk-from-dotenv"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert resolve_api_key() == "sk-from-env"
    assert resolve_api_key("  sk-explicit  ") == "sk-explicit"
    assert resolve_api_key("   ") == "sk-from-env"


def test_base_url_from_argument_env_or_dotenv(no_openai_env, monkeypatch):
    assert resolve_base_url() is None
    (no_openai_env / ".env").write_text("OPENAI_BASE_URL=http://127.0.0.1:9/v1/\n")
    assert resolve_base_url() == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8/v1")
    assert resolve_base_url() == "http://127.0.0.1:8/v1"
    assert resolve_base_url("http://127.0.0.1:7/v1") == "http://127.0.0.1:7/v1"


def test_missing_key_says_how_to_set_one(no_openai_env):
    with pytest.raises(MissingAPIKeyError, match="needs an API key") as caught:
        make_openai_embedder("text-embedding-3-large")
    message = str(caught.value)
    for place in ("OPENAI_API_KEY", ".env", "api_key argument"):  # a library caller's words
        assert place in message


def test_key_and_endpoint_from_environment_reach_the_server(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    embedder = make_openai_embedder(dimensions=4)
    assert embedder.base_url == openai_server.base_url
    out = embedder.embed_batch(["from env"])
    assert_allclose(out.vectors, reference(["from env"], 4), atol=EXACT)


@pytest.mark.parametrize(
    ("model", "dimensions", "match"),
    [
        ("text-embedding-ada-002", 256, "only supported by the text-embedding-3"),
        (SMALL, 0, "from 1 to 1536"),
        (SMALL, 1537, "from 1 to 1536"),
        ("text-embedding-3-large", 3073, "from 1 to 3072"),
        (SMALL, 2.5, "must be an integer"),
    ],
)
def test_bad_model_or_dimensions_fail_before_any_request(model, dimensions, match):
    with pytest.raises(ValueError, match=match):
        make_openai_embedder(model, dimensions, api_key="sk-x", base_url="http://127.0.0.1:9/v1")


def test_embedder_is_langchain_embeddings_and_batch_embedder(make_embedder, openai_server):
    embedder = make_embedder("text-embedding-3-large", None)
    assert isinstance(embedder, Embeddings) and isinstance(embedder, BatchEmbedder)
    assert embedder.dimension == 3072 and embedder.limits == OPENAI_LIMITS
    assert OPENAI_LIMITS.max_inputs_per_request == 2048 and OPENAI_LIMITS.remote
    assert embedder.spec.key == "openai|text-embedding-3-large|native"
    assert embedder.cache_key == f"openai|text-embedding-3-large|native|{openai_server.base_url}"
    assert embedder.langchain.max_retries == 0
    assert embedder.langchain.check_embedding_ctx_length is False
    assert TEST_API_KEY not in repr(embedder)
    assert embedder.count_tokens("hello world") >= 2


# --- requests -------------------------------------------------------------------------------
def test_embed_batch_returns_server_vectors_in_order_with_usage(make_embedder, openai_server):
    texts = ["alpha", "beta", "γάμμα", "delta"]
    out = make_embedder().embed_batch(texts)
    assert out.vectors.dtype == np.float32 and out.vectors.flags.c_contiguous
    assert_allclose(out.vectors, reference(texts), atol=EXACT)
    assert out.tokens_used == openai_server.log[0].tokens > 0


def test_native_dimension_for_ada(make_embedder):
    out = make_embedder("text-embedding-ada-002", None).embed_batch(["x"])
    assert out.vectors.shape == (1, 1536)
    assert_allclose(out.vectors, reference(["x"], None, "text-embedding-ada-002"), atol=EXACT)


def test_shuffled_data_is_put_back_in_input_order(make_embedder, openai_server):
    texts = [f"text {i}" for i in range(7)]
    openai_server.inject(Fault.shuffled())
    out = make_embedder().embed_batch(texts)
    assert_allclose(out.vectors, reference(texts), atol=EXACT)


def test_wrong_number_of_vectors_is_a_clear_error(make_embedder, openai_server):
    openai_server.inject(Fault.wrong_count())
    with pytest.raises(ProviderResponseError, match="returned 3 vectors for 4 inputs"):
        make_embedder().embed_batch(["a", "b", "c", "d"])


def test_401_fails_fast_with_a_key_hint_and_no_retry(make_embedder, openai_server):
    embedder = make_embedder(api_key="sk-revoked-key-0000")
    with pytest.raises(OpenAIRequestError, match="API key was rejected") as caught:
        embedder.embed_batch(["x"])
    assert caught.value.status == 401 and "OPENAI_API_KEY" in str(caught.value)
    assert len(openai_server.log) == 1  # the client did not retry


def test_404_names_the_model_and_the_base_url():
    with OpenAICompatibleServer(api_key=TEST_API_KEY, models=[SMALL]) as server:
        embedder = make_openai_embedder(
            "text-embedding-3-large", 16, api_key=TEST_API_KEY, base_url=server.base_url
        )
        with pytest.raises(
            OpenAIRequestError, match=r"not available at http://127\.0\.0\.1"
        ) as caught:
            embedder.embed_batch(["x"])
        assert caught.value.status == 404 and "OPENAI_BASE_URL" in str(caught.value)


def test_400_is_fatal_and_quotes_the_server(make_embedder):
    with pytest.raises(OpenAIRequestError, match=r"400 .*got 2049 inputs") as caught:
        make_embedder().embed_batch(["x"] * 2049)
    assert caught.value.status == 400


def test_exhausted_quota_is_fatal(make_embedder, openai_server):
    openai_server.inject(Fault.quota_exceeded())
    with pytest.raises(OpenAIRequestError, match="quota exhausted"):
        make_embedder().embed_batch(["x"])


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        (Fault.rate_limit(), None),
        (Fault.rate_limit(3), 3.0),
        (Fault.rate_limit(0.25, as_ms=True), 0.25),
        (Fault.server_error(500), None),
        (Fault.server_error(503), None),
    ],
)
def test_rate_limits_and_server_errors_are_retryable(
    make_embedder, openai_server, fault, retry_after
):
    openai_server.inject(fault)
    with pytest.raises(RetryableEmbeddingError) as caught:
        make_embedder().embed_batch(["x"])
    assert caught.value.retry_after == retry_after
    assert len(openai_server.log) == 1  # max_retries=0: the engine does the retrying


def test_timeout_and_refused_connection_are_retryable(make_embedder, openai_server):
    openai_server.inject(Fault.timeout(hang_s=10))
    with pytest.raises(RetryableEmbeddingError, match=r"did not answer within 0\.3 s"):
        make_embedder(timeout=0.3).embed_batch(["x"])
    embedder = make_embedder(timeout=2)
    openai_server.stop()
    with pytest.raises(RetryableEmbeddingError, match="could not connect"):
        embedder.embed_batch(["x"])


# --- LangChain interface through the engine --------------------------------------------------
def test_embed_documents_and_query_use_the_engine_and_the_default_cache(
    make_embedder, openai_server, isolated_embedding_cache
):
    embedder = make_embedder()
    texts = ["one", "", "two", "one"]
    vectors = embedder.embed_documents(texts)
    assert len(vectors) == 4 and vectors[1] == [0.0] * TEST_DIMENSIONS
    assert_allclose(np.array(vectors)[[0, 2, 3]], reference(["one", "two", "one"]), atol=EXACT)
    assert [r.inputs for r in openai_server.log] == [("one", "two")]
    assert_allclose(embedder.embed_query("two"), reference(["two"])[0], atol=EXACT)
    assert len(openai_server.log) == 1  # served from the default cache
    assert (isolated_embedding_cache / "embeddings.sqlite3").is_file()
