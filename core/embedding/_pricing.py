"""What an embedding job costs: the one price table, and a pre-flight estimate.

Prices are US dollars per million input tokens for OpenAI's embedding models (standard tier; the
Batch API costs :data:`BATCH_API_DISCOUNT` of it). Only these known paid models get a price:
any other model on an OpenAI-compatible server is "unknown" (``usd`` None), or "local, free"
when the server is on this machine, never a made-up number; local providers cost nothing.
Change a price here and nowhere else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.embedding._tokens import token_counter
from core.errors import InvalidInputError

PRICE_PER_MILLION_TOKENS_USD: dict[str, float] = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}
BATCH_API_DISCOUNT = 0.5  # the Batch API bills half the standard price
PRICING_PAID, PRICING_UNKNOWN, PRICING_LOCAL = "paid", "unknown", "local, free"


@dataclass(frozen=True)
class CostEstimate:
    """Tokens a job would send and what they cost.

    Attributes
    ----------
    tokens : int
        Tokens of the distinct non-empty texts that would be sent (cached ones excluded).
    usd : float or None
        ``tokens`` times the model's price; None when the price is unknown.
    exact : bool
        False when tokens are an upper bound or an estimate (no tokenizer file available
        offline, or a model whose tokenizer is unknown here).
    model : str
        Model priced.
    n_texts : int
        Distinct non-empty texts that would be sent.
    pricing : {"paid", "unknown", "local, free"}
        Where ``usd`` comes from.
    batch_api : bool
        Priced at the Batch API's discount.
    """

    tokens: int
    usd: float | None
    exact: bool
    model: str
    n_texts: int
    pricing: str = PRICING_PAID
    batch_api: bool = False

    @property
    def price_text(self) -> str:
        """``"$0.0123"`` (``" with the Batch API"``), ``"price unknown"`` or ``"local, free"``."""
        if self.pricing == PRICING_UNKNOWN or self.usd is None:
            return f"price unknown ({self.model} is not a known paid model)"
        if self.pricing == PRICING_LOCAL:
            return "local, free"
        return f"${self.usd:,.4f}" + (" with the Batch API" if self.batch_api else "")


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


def estimate_cost(
    texts: Sequence[str], embedder_or_model: Any, *, cache=None, batch_api: bool = False
) -> CostEstimate:
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
        Leave out texts this cache already holds for the embedder (not looked up while the
        embedder's dimension is still unknown: that would need a request).
    batch_api : bool
        Price at the Batch API's discount.

    Returns
    -------
    CostEstimate
    """
    distinct = list(dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip()))
    if isinstance(embedder_or_model, str):
        model = embedder_or_model
        price_per_million(model)  # fail early on an unknown model name
        counter = token_counter()
        return _estimate(distinct, model, counter.count_many, counter.exact, PRICING_PAID,
                         batch_api)  # fmt: skip
    spec = embedder_or_model.spec
    prefix = spec.prefix("document") if hasattr(spec, "prefix") else ""
    if prefix:
        distinct = [prefix + t for t in distinct]
    if cache is not None and getattr(embedder_or_model, "dimension_known", True):
        key = getattr(embedder_or_model, "cache_key", spec.key)
        hits = cache.get_vectors(key, distinct, embedder_or_model.dimension)
        distinct = [t for t, v in zip(distinct, hits, strict=True) if v is None]
    if spec.provider != "openai":
        return CostEstimate(0, 0.0, True, spec.model, len(distinct), PRICING_LOCAL)
    counter = getattr(embedder_or_model, "token_counter", None)
    exact = bool(getattr(counter, "exact", False))
    count_many = counter.count_many if counter is not None else None
    if count_many is None:

        def count_many(items):
            return [embedder_or_model.count_tokens(t) for t in items]

    if spec.model in PRICE_PER_MILLION_TOKENS_USD:
        pricing = PRICING_PAID
    elif is_loopback_url(getattr(embedder_or_model, "base_url", None)):
        pricing = PRICING_LOCAL
    else:
        pricing = PRICING_UNKNOWN
    return _estimate(distinct, spec.model, count_many, exact, pricing, batch_api)


def _estimate(
    distinct: list[str], model: str, count_many, exact: bool, pricing: str, batch_api: bool
) -> CostEstimate:
    tokens = int(sum(count_many(distinct))) if distinct else 0
    if pricing == PRICING_PAID:
        usd = tokens_to_usd(tokens, model) * (BATCH_API_DISCOUNT if batch_api else 1.0)
    else:
        usd = 0.0 if pricing == PRICING_LOCAL else None
    return CostEstimate(tokens, usd, exact, model, len(distinct), pricing, batch_api)


def is_loopback_url(url: str | None) -> bool:
    """True when ``url``'s host is this machine (localhost, 127.x, ::1)."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
