"""What an embedding job costs: the one price table, and a pre-flight estimate.

Prices are US dollars per million input tokens for OpenAI's embedding models (standard tier, not
the Batch API). Local providers cost nothing. Change a price here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.embedding._tokens import token_counter
from core.errors import InvalidInputError

PRICE_PER_MILLION_TOKENS_USD: dict[str, float] = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}


@dataclass(frozen=True)
class CostEstimate:
    """Tokens a job would send and what they cost.

    Attributes
    ----------
    tokens : int
        Tokens of the distinct non-empty texts that would be sent (cached ones excluded).
    usd : float
        ``tokens`` times the model's price.
    exact : bool
        False when tokens are an upper bound (no tokenizer file available offline).
    model : str
        Model priced.
    n_texts : int
        Distinct non-empty texts that would be sent.
    """

    tokens: int
    usd: float
    exact: bool
    model: str
    n_texts: int


def price_per_million(model: str) -> float:
    """USD per million tokens for an OpenAI embedding model.

    Raises
    ------
    ValueError
        For a model not in the table, listing the known ones.
    """
    try:
        return PRICE_PER_MILLION_TOKENS_USD[model]
    except KeyError:
        known = ", ".join(sorted(PRICE_PER_MILLION_TOKENS_USD))
        raise InvalidInputError(
            f"no price for embedding model {model!r}; known OpenAI models: {known}. "
            "Local models cost $0: pass the embedder object instead of a model name."
        ) from None


def tokens_to_usd(tokens: int, model: str) -> float:
    """Cost in USD of ``tokens`` input tokens for ``model`` (0 for unknown local models)."""
    return tokens * PRICE_PER_MILLION_TOKENS_USD.get(model, 0.0) / 1e6


def estimate_cost(texts: Sequence[str], embedder_or_model: Any, *, cache=None) -> CostEstimate:
    """Estimate tokens and dollars for embedding ``texts`` before sending anything.

    Mirrors what :func:`core.embedding.embed_texts` sends: empty or whitespace-only texts and
    duplicates are never sent, nor texts already in ``cache``. Long texts cost all their tokens
    under the default ``"split"`` policy (``"truncate"`` costs less).

    Parameters
    ----------
    texts : sequence of str
        The job's texts.
    embedder_or_model : BatchEmbedder or str
        An embedder (its ``spec`` and ``count_tokens`` are used; non-OpenAI providers cost $0) or
        an OpenAI model name (counted with ``cl100k_base``).
    cache : EmbeddingCache, optional
        Leave out texts this cache already holds for the embedder.

    Returns
    -------
    CostEstimate
    """
    distinct = list(dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip()))
    if isinstance(embedder_or_model, str):
        model = embedder_or_model
        price_per_million(model)  # fail early on an unknown model name
        counter = token_counter()
        return _estimate(distinct, model, counter.count_many, counter.exact)
    spec = embedder_or_model.spec
    if cache is not None:
        key = getattr(embedder_or_model, "cache_key", spec.key)
        hits = cache.get_vectors(key, distinct, embedder_or_model.dimension)
        distinct = [t for t, v in zip(distinct, hits, strict=True) if v is None]
    if spec.provider != "openai":
        return CostEstimate(0, 0.0, True, spec.model, len(distinct))
    counter = getattr(embedder_or_model, "token_counter", None)
    exact = bool(getattr(counter, "exact", False))
    count_many = counter.count_many if counter is not None else None
    if count_many is None:

        def count_many(items):
            return [embedder_or_model.count_tokens(t) for t in items]

    return _estimate(distinct, spec.model, count_many, exact)


def _estimate(distinct: list[str], model: str, count_many, exact: bool) -> CostEstimate:
    tokens = int(sum(count_many(distinct))) if distinct else 0
    return CostEstimate(tokens, tokens_to_usd(tokens, model), exact, model, len(distinct))
