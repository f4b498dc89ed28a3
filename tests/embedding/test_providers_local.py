"""The two offline providers, with the real models: USE multilingual v3 and all-MiniLM-L6-v2."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from numpy.testing import assert_allclose

from core.embedding._types import BatchEmbedder, BatchOutput
from core.embedding.providers._local import (
    USE_MAX_TOKENS_PER_INPUT,
    SentenceTransformerEmbedder,
    UseMultilingualEmbedder,
    resolve_st_model,
)

NORM_TOL = 1e-5

PARAPHRASE = (
    "How do I bake bread at home?",
    "What is the way to make a loaf of bread in my own kitchen?",
    "The central bank raised interest rates again this quarter.",
)


@pytest.fixture(scope="module")
def use_model():
    return UseMultilingualEmbedder()


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers")
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.fixture(params=["use", "minilm"])
def embedder(request, use_model):
    return use_model if request.param == "use" else request.getfixturevalue("minilm")


def test_both_are_langchain_embeddings_and_batch_embedders(embedder):
    assert isinstance(embedder, Embeddings)
    assert isinstance(embedder, BatchEmbedder)
    assert embedder.limits.remote is False
    assert 64 <= embedder.limits.max_inputs_per_request <= 256


def test_embed_batch_shape_dtype_and_unit_norm(embedder):
    texts = ["hello world", "今天天气很好，我们去公园散步吧。", "a" * 50]
    out = embedder.embed_batch(texts)
    assert isinstance(out, BatchOutput)
    assert out.vectors.shape == (3, embedder.dimension)
    assert out.vectors.dtype == np.float32
    assert out.vectors.flags.c_contiguous
    assert_allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=NORM_TOL)


def test_dimensions_are_the_real_model_output(use_model, minilm):
    assert use_model.dimension == 512
    assert minilm.dimension == 384
    assert use_model.spec.key == "use-multilingual|universal-sentence-encoder-multilingual-3|native"
    assert minilm.spec.model == "all-MiniLM-L6-v2"


def test_langchain_methods_return_float_lists_matching_embed_batch(embedder):
    docs = embedder.embed_documents(["first text", "second text"])
    query = embedder.embed_query("first text")
    assert len(docs) == 2
    assert all(isinstance(x, float) for x in docs[0])
    assert len(query) == embedder.dimension
    assert_allclose(query, docs[0], atol=1e-5)


def test_embed_documents_crosses_request_boundaries_in_order(use_model):
    n = use_model.limits.max_inputs_per_request + 3
    texts = [f"document number {i}" for i in range(n)]
    rows = np.asarray(use_model.embed_documents(texts), dtype=np.float32)
    direct = use_model.embed_batch(texts[-3:]).vectors
    assert rows.shape == (n, 512)
    assert_allclose(rows[-3:], direct, atol=1e-5)


def test_langchain_path_applies_the_engine_rules(minilm):
    long_text = " ".join(["The quick brown fox jumps over the lazy dog."] * 40)  # > 256 tokens
    assert minilm.count_tokens(long_text) > minilm.limits.max_tokens_per_input
    empty, long_vec = np.asarray(minilm.embed_documents(["", long_text]), dtype=np.float32)
    assert not empty.any()  # empty text: zero vector, never sent to the model
    assert np.linalg.norm(long_vec) == pytest.approx(1.0, abs=NORM_TOL)
    truncated = minilm.embed_batch([long_text]).vectors[0]  # the model alone cuts at 256
    assert not np.allclose(long_vec, truncated, atol=1e-4)  # split and averaged instead


def test_engine_accepts_the_tutorials_batch_size_of_100(embedder):
    from core.embedding._batching import embed_texts

    texts = [f"sentence {i}" for i in range(130)]
    result = embed_texts(texts, embedder, batch_size=100, cache=None)
    assert result.vectors.shape == (130, embedder.dimension)
    assert result.n_requests == 2


def test_paraphrase_scores_above_unrelated_sentence(embedder):
    v = embedder.embed_batch(list(PARAPHRASE)).vectors
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_use_chinese_query_finds_its_english_and_chinese_match(use_model):
    docs = [
        "The stock market fell sharply after the announcement.",
        "Regular exercise strengthens the heart.",
        "猫喜欢在阳光下睡觉。",
        "我明天要坐火车去上海。",
    ]
    queries = ["股票市场大跌", "明天乘火车去上海"]
    sims = use_model.embed_batch(queries).vectors @ use_model.embed_batch(docs).vectors.T
    assert sims[0].argmax() == 0  # Chinese query, English answer
    assert sims[1].argmax() == 3  # Chinese query, Chinese answer


def test_count_tokens_uses_the_model_tokenizers(use_model, minilm):
    # sentencepiece pieces of "hello world": <s> ▁ hello ▁world </s>
    assert use_model.count_tokens("hello world") == 5
    assert use_model.count_tokens("hello world " * 100) > 200
    # word pieces: [CLS] hello world [SEP]
    assert minilm.count_tokens("hello world") == 4
    long_text = "word " * 600
    assert minilm.count_tokens(long_text) == 602  # counted in full, not truncated
    assert minilm.count_tokens(long_text) > minilm.limits.max_tokens_per_input


def test_limits_are_the_models_real_sequence_lengths(use_model, minilm):
    assert minilm.limits.max_tokens_per_input == 256
    assert use_model.limits.max_tokens_per_input == USE_MAX_TOKENS_PER_INPUT
    for e in (use_model, minilm):
        lim = e.limits
        assert lim.max_tokens_per_request >= lim.max_tokens_per_input


def test_models_load_once_and_are_shared(use_model, minilm):
    from core.embedding.providers import _local as local

    again = UseMultilingualEmbedder()
    again.embed_batch(["x"])
    assert local._USE_MODEL is local._shared_use_model()
    assert SentenceTransformerEmbedder("sentence-transformers/all-MiniLM-L6-v2")._model is (
        minilm._model
    )


def test_concurrent_calls_give_the_same_vectors(use_model):
    texts = [f"concurrent text {i}" for i in range(20)]
    expected = use_model.embed_batch(texts).vectors
    results: list[np.ndarray] = [None] * 4  # type: ignore[list-item]

    def work(slot: int) -> None:
        results[slot] = use_model.embed_batch(texts).vectors

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        assert_allclose(got, expected, atol=1e-6)


def test_empty_batch_gives_zero_rows(use_model):
    assert use_model.embed_batch([]).vectors.shape == (0, 512)


def test_unknown_sentence_transformers_model_says_how_to_fix():
    with pytest.raises(ValueError, match=r"not available offline.*local directory"):
        resolve_st_model("no-such-model-xyz")


def test_bundled_minilm_resolves_to_a_local_directory():
    from pathlib import Path

    assert (Path(resolve_st_model("all-MiniLM-L6-v2")) / "config.json").is_file()
