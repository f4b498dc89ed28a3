"""Texts in, float32 rows out, reliably: the batch engine, its cache, tokens, pricing, providers.

- the batch engine: :func:`embed_texts` -> :class:`EmbeddingResult` (requests capped by inputs
  and tokens, several in flight, retries, results in input order, resumable through the cache)
- the cache: :class:`EmbeddingCache`, :func:`default_cache`, :class:`VectorByteStore`
- shared types: :class:`EmbedderSpec`, :class:`BatchLimits`, :class:`BatchOutput`,
  :class:`Progress`, :class:`BatchEmbedder`
- tokens and cost: :func:`token_counter`, :func:`count_tokens`, :func:`estimate_cost`,
  :class:`CostEstimate`
- language: :func:`chinese_fraction`, :func:`language_warning`
- providers: :mod:`core.embedding.providers` (the registry and :func:`get_embedder`); a provider
  only sends a request (``embed_batch``) and inherits :class:`EngineEmbeddings`, the one adapter
  that makes it a LangChain ``Embeddings`` over the batch engine
"""

from core.embedding._adapter import EngineEmbeddings
from core.embedding._batching import LONG_TEXT_POLICIES, EmbeddingResult, embed_texts
from core.embedding._cache import EmbeddingCache, VectorByteStore, default_cache, text_key
from core.embedding._language import chinese_fraction, language_warning
from core.embedding._pricing import CostEstimate, estimate_cost, price_per_million
from core.embedding._tokens import TokenCounter, count_tokens, token_counter
from core.embedding._types import BatchEmbedder, BatchLimits, BatchOutput, EmbedderSpec, Progress

__all__ = [
    "LONG_TEXT_POLICIES",
    "BatchEmbedder",
    "BatchLimits",
    "BatchOutput",
    "CostEstimate",
    "EmbedderSpec",
    "EmbeddingCache",
    "EmbeddingResult",
    "EngineEmbeddings",
    "Progress",
    "TokenCounter",
    "VectorByteStore",
    "chinese_fraction",
    "count_tokens",
    "default_cache",
    "embed_texts",
    "estimate_cost",
    "language_warning",
    "price_per_million",
    "text_key",
    "token_counter",
]
