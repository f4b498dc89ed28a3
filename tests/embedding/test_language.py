"""Chinese share of a corpus and the warning for English-only models."""

from __future__ import annotations

import pytest

from core.embedding._language import chinese_fraction, language_warning
from core.embedding._types import EmbedderSpec
from core.embedding.providers import provider_info

MINILM = EmbedderSpec("sentence-transformers", "all-MiniLM-L6-v2")
USE = EmbedderSpec("use-multilingual", "universal-sentence-encoder-multilingual-3")
CHINESE = ["今天天气很好，我们去公园散步吧。", "股票市场大跌。"]
ENGLISH = ["The weather is nice today.", "Stocks fell."]


def test_chinese_fraction_counts_han_among_letters():
    assert chinese_fraction(CHINESE) == 1.0
    assert chinese_fraction(ENGLISH) == 0.0
    assert chinese_fraction("中文ab") == pytest.approx(0.5)
    assert chinese_fraction(["2024 年", "!!! 123"]) == 1.0  # digits and punctuation ignored
    assert chinese_fraction([]) == 0.0
    assert chinese_fraction(["", "  "]) == 0.0


def test_chinese_fraction_reads_only_the_start_of_a_huge_corpus():
    corpus = ["English text only here."] * 20_000 + ["中文"] * 20_000
    assert chinese_fraction(corpus, max_chars=10_000) == 0.0
    assert 0.0 < chinese_fraction(corpus, max_chars=10**9) < 0.3


def test_warning_for_chinese_with_an_english_only_model():
    message = language_warning(CHINESE, MINILM)
    assert message is not None
    assert "100% of the text is Chinese" in message
    assert "all-MiniLM-L6-v2" in message and "use-multilingual" in message


def test_no_warning_for_multilingual_models_or_english_text():
    assert language_warning(CHINESE, USE) is None
    assert language_warning(CHINESE, provider_info("openai")) is None
    assert language_warning(ENGLISH, MINILM) is None
    # Mostly English with a little Chinese stays under the threshold.
    assert language_warning(ENGLISH * 10 + CHINESE[:1], MINILM) is None


def test_accepts_provider_info_and_embedders():
    assert language_warning(CHINESE, provider_info("sentence-transformers")) is not None
    from core.embedding.providers import get_embedder

    assert language_warning(CHINESE, get_embedder("use-multilingual")) is None


def test_rejects_other_objects():
    with pytest.raises(TypeError, match=r"expects a ProviderInfo, an EmbedderSpec"):
        language_warning(CHINESE, "all-MiniLM-L6-v2")
