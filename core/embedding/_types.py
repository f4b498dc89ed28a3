"""Small shared types between embedding providers, the batch engine, the CLI and the UI.

Everything that embeds text in this project goes through one protocol, :class:`BatchEmbedder`:
a provider describes itself (:class:`EmbedderSpec`), states its request limits
(:class:`BatchLimits`), counts tokens, and embeds one request's worth of texts. The batch
engine (``core.embedding``) does the rest — splitting, ordering, concurrency, retries, caching and
progress — the same way for every provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EmbedderSpec:
    """What produced a vector: the cache key and the collection manifest both use it.

    Parameters
    ----------
    provider : str
        Registry name, e.g. ``"openai"``, ``"use-multilingual"``, ``"sentence-transformers"``.
    model : str
        Model name as the provider knows it.
    dimensions : int or None
        Requested output dimension (OpenAI ``-3`` models), ``None`` for the model's native one.
    query_prefix, document_prefix : str
        Put before every query / document text sent (asymmetric models such as nomic or e5);
        ``""`` for none. Not part of :attr:`key`: the prefixed text is what the cache keys on.
    """

    provider: str
    model: str
    dimensions: int | None = None
    query_prefix: str = ""
    document_prefix: str = ""

    def prefix(self, role: str) -> str:
        """The prefix for ``role`` (``"query"`` or ``"document"``)."""
        return self.query_prefix if role == "query" else self.document_prefix

    @property
    def key(self) -> str:
        """A stable string naming this provider/model/dimension combination."""
        dims = "native" if self.dimensions is None else str(self.dimensions)
        return f"{self.provider}|{self.model}|{dims}"


@dataclass(frozen=True)
class BatchLimits:
    """Per-request limits the batch engine must respect for one provider.

    Parameters
    ----------
    max_inputs_per_request : int
        Most texts in one request (OpenAI: 2,048).
    max_tokens_per_request : int
        Most tokens summed over one request (OpenAI: 300,000).
    max_tokens_per_input : int
        Most tokens in one text (OpenAI: 8,191); longer texts follow the engine's long-text policy.
    remote : bool
        True when requests cross a network: the engine then runs several in flight and retries.
    """

    max_inputs_per_request: int
    max_tokens_per_request: int
    max_tokens_per_input: int
    remote: bool = False


@dataclass(frozen=True)
class BatchOutput:
    """The result of one request: vectors in input order and the tokens billed (if reported)."""

    vectors: np.ndarray  # float32, shape (n_texts, dim)
    tokens_used: int | None = None
    # Rate-limit state the server reported with this answer (``x-ratelimit-*`` headers).
    rate_limits: RateLimitHeaders | None = None


@dataclass(frozen=True)
class RateLimitHeaders:
    """What a server's ``x-ratelimit-*`` headers said (None where a header was absent).

    ``limit_*`` are per minute; ``reset_*_s`` are seconds until the budget is whole again.
    """

    limit_requests: int | None = None
    limit_tokens: int | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, f) is None for f in self.__dataclass_fields__)


@dataclass(frozen=True)
class Progress:
    """A progress report, sent after each finished request.

    ``batch_index`` counts finished requests (1-based) out of ``n_batches``; texts served from the
    cache count as done before the first request. While requests wait to be retried (a 429's
    Retry-After, capped; a backoff), reports keep coming with ``note`` saying so (e.g.
    ``"waiting 60 s: the server asked for 3600 s"``) and ``wait_s`` the seconds left.
    """

    batch_index: int
    n_batches: int
    texts_done: int
    texts_total: int
    tokens: int
    elapsed_s: float
    eta_s: float | None
    note: str | None = None
    wait_s: float | None = None

    @property
    def fraction(self) -> float:
        """Share of texts done, in [0, 1]."""
        return 1.0 if self.texts_total == 0 else self.texts_done / self.texts_total


@runtime_checkable
class BatchEmbedder(Protocol):
    """What a provider implements so the batch engine can drive it."""

    spec: EmbedderSpec
    limits: BatchLimits

    @property
    def dimension(self) -> int:
        """Output dimension of the vectors ``embed_batch`` returns."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs for this model (an upper bound when no exact tokenizer loads)."""
        ...

    def embed_batch(self, texts: list[str]) -> BatchOutput:
        """Embed one request's texts (all non-empty, all within limits), in input order."""
        ...
