"""The batch engine: embed any number of texts with any provider, reliably.

:func:`embed_texts` drives any :class:`~core.embedding._types.BatchEmbedder` (OpenAI or local) the
same way:

- **Order**: row ``i`` of the result is always ``texts[i]``, whatever order requests finish in.
- **Empty texts**: ``""`` or whitespace-only texts are never sent (the OpenAI API rejects them);
  their row is a zero vector, whose cosine similarity with anything is 0 in :mod:`core.search`.
- **Duplicates** are sent once.
- **Long texts** (over the provider's ``max_tokens_per_input``): ``long_text_policy="split"``
  (default) embeds consecutive pieces within the limit and returns their token-weighted average,
  renormalised to unit length; ``"truncate"`` embeds only the first piece. The result reports it.
- **Requests** are capped by input count (``batch_size``, at most the provider's limit) and by
  tokens per request.
- **Concurrency**: remote providers get ``concurrency`` requests in flight (default 4); local ones
  run in the calling thread.
- **Retries**: 429, 5xx, timeouts and connection errors are retried up to ``max_retries`` times
  with exponential backoff and full jitter, or the server's Retry-After, which then pauses every
  worker — at most ``max_retry_wait_s`` (60 s): a server asking for an hour, ``inf`` or ``1e9``
  is retried after the cap. Every wait is reported through ``progress`` (``Progress.note``) and
  ends at once when the job is cancelled (a raising callback, Ctrl-C, SIGTERM). Any other
  error (bad key, unknown model, bad request) stops the job at once.
- **Rate limits**: with ``tokens_per_minute`` a token-bucket pacer, with ``requests_per_minute``
  evenly spaced request starts keep the job just under the limits instead of provoking storms of
  429s; both may be set together. A server's ``x-ratelimit-limit-*`` headers start the pacer a
  setting did not, and ``x-ratelimit-remaining-*`` at zero holds every worker until
  ``x-ratelimit-reset-*`` (the result's ``learnt_limits`` says what was adopted).
- **Prefixes**: ``role="query"`` or ``"document"`` puts the embedder's query or document prefix
  (``embedder.spec``; asymmetric models such as nomic or e5) before every non-empty text sent.
- **Cache and resume**: each finished request is written to the cache (on by default, see
  :class:`core.embedding.EmbeddingCache`) before anything else happens, so a crash, Ctrl-C,
  cancel or exhausted quota loses nothing: a rerun sends only what is missing.
- **Progress**: ``progress(Progress)`` is called in the calling thread after each request (once
  with ``n_batches == 0`` when nothing needed sending). An exception raised by the callback
  cancels the job: queued requests are dropped, in-flight ones finish and are cached, and the
  exception propagates unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.embedding._cache import EmbeddingCache, default_cache
from core.embedding._job import DEFAULT_MAX_RETRY_WAIT_S, BatchJob
from core.embedding._planning import split_to_token_limit
from core.embedding._pricing import CostEstimate, estimate_cost
from core.embedding._types import BatchEmbedder, Progress
from core.errors import (
    EmbeddingJobError,
    InvalidInputError,
    InvalidTypeError,
    ProviderResponseError,
    RetriesExhaustedError,
    RetryableEmbeddingError,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "CostEstimate",
    "EmbeddingJobError",
    "EmbeddingResult",
    "ProviderResponseError",
    "RetriesExhaustedError",
    "RetryableEmbeddingError",
    "embed_texts",
    "estimate_cost",
    "split_to_token_limit",
]

DEFAULT_CONCURRENCY = 4
LONG_TEXT_POLICIES = ("split", "truncate")
ROLES = ("document", "query")


@dataclass(frozen=True)
class EmbeddingResult:
    """What :func:`embed_texts` returns.

    Attributes
    ----------
    vectors : ndarray of shape (n_texts, dim), float32, C-contiguous
        Row ``i`` embeds ``texts[i]``; zero rows for empty texts.
    tokens_used : int
        Tokens sent (as reported by the provider, else as counted).
    n_requests : int
        Successful requests sent (retries not included).
    n_retries : int
        Failed attempts that were retried.
    n_cached, n_empty : int
        Texts served from the cache; empty or whitespace-only texts.
    n_split, n_truncated : int
        Long texts split into pieces / cut to the limit.
    long_text_policy : str
        ``"split"`` or ``"truncate"``.
    elapsed_s, texts_per_s : float
        Wall-clock time and ``n_texts / elapsed_s``.
    learnt_limits : dict
        ``requests_per_minute`` / ``tokens_per_minute`` adopted from the server's headers.
    """

    vectors: np.ndarray
    tokens_used: int
    n_requests: int
    n_retries: int
    n_cached: int
    n_empty: int
    n_split: int
    n_truncated: int
    long_text_policy: str
    elapsed_s: float
    texts_per_s: float
    learnt_limits: dict = field(default_factory=dict)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InvalidTypeError("texts must be a list of strings, not one string: wrap it as [text]")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidTypeError(
                f"texts[{i}] is {type(text).__name__}, not str: convert it first"
            )
    return out


def _resolve_cache(cache) -> EmbeddingCache | None:
    if cache is None:
        return None
    if isinstance(cache, str):
        if cache != "default":
            raise InvalidInputError(
                f'cache must be "default", None or an EmbeddingCache, got {cache!r}'
            )
        return default_cache()
    return cache


def embed_texts(
    texts: Sequence[str],
    embedder: BatchEmbedder,
    *,
    batch_size: int | None = None,
    concurrency: int | None = None,
    cache: str | EmbeddingCache | None = "default",
    progress: Callable[[Progress], None] | None = None,
    long_text_policy: str = "split",
    max_retries: int = 6,
    tokens_per_minute: int | None = None,
    backoff_base_s: float = 0.5,
    backoff_max_s: float = 60.0,
    requests_per_minute: int | None = None,
    role: str = "document",
    max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
) -> EmbeddingResult:
    """Embed ``texts`` with ``embedder`` in batches; see the module docstring for every policy.

    Parameters
    ----------
    texts : sequence of str
        ``n_texts`` texts; empty ones get zero rows.
    embedder : BatchEmbedder
        Any provider (``core.embedding.providers.get_embedder(...)``).
    batch_size : int, optional
        Most texts per request; default and maximum: ``embedder.limits.max_inputs_per_request``.
    concurrency : int, optional
        Requests in flight; default 4 for remote providers, 1 (calling thread) for local ones.
    cache : "default", EmbeddingCache or None
        Where finished vectors are kept; ``None`` disables caching.
    progress : callable, optional
        Called with a :class:`~core.embedding._types.Progress` after each request.
    long_text_policy : {"split", "truncate"}
        What to do with texts over the provider's per-input token limit.
    max_retries : int
        Retries per request for retryable failures.
    tokens_per_minute : int, optional
        Pace requests under this limit; default: ``embedder.tokens_per_minute`` if it has one.
    backoff_base_s, backoff_max_s : float
        Backoff for retries without Retry-After: uniform in ``[0, min(max, base * 2**k)]``.
    requests_per_minute : int, optional
        Pace request starts under this limit; default: ``embedder.requests_per_minute``.
    role : {"document", "query"}
        Which of the embedder's prefixes (``embedder.spec``) goes before each text.
    max_retry_wait_s : float
        Longest wait a server's Retry-After may impose before a retry (the rest is ignored).

    Returns
    -------
    EmbeddingResult
        ``vectors`` of shape ``(n_texts, embedder.dimension)``.

    Raises
    ------
    EmbeddingJobError
        A fatal provider error or exhausted retries; what finished is cached.
    """
    started = time.perf_counter()
    texts = _check_texts(texts)
    if long_text_policy not in LONG_TEXT_POLICIES:
        raise InvalidInputError(
            f"long_text_policy must be one of {LONG_TEXT_POLICIES}, got {long_text_policy!r}"
        )
    if not max_retry_wait_s >= 0:
        raise InvalidInputError(f"max_retry_wait_s must be 0 or more, got {max_retry_wait_s}")
    if max_retries < 0:
        raise InvalidInputError(f"max_retries must be 0 or more, got {max_retries}")
    limits = embedder.limits
    if batch_size is None:
        batch_size = limits.max_inputs_per_request
    if not 1 <= batch_size <= limits.max_inputs_per_request:
        raise InvalidInputError(
            f"batch_size must be from 1 to {limits.max_inputs_per_request} "
            f"({embedder.spec.provider}'s limit), got {batch_size}"
        )
    if concurrency is None:
        concurrency = DEFAULT_CONCURRENCY if limits.remote else 1
    if concurrency < 1:
        raise InvalidInputError(f"concurrency must be at least 1, got {concurrency}")
    if tokens_per_minute is None:
        tokens_per_minute = getattr(embedder, "tokens_per_minute", None)
    if requests_per_minute is None:
        requests_per_minute = getattr(embedder, "requests_per_minute", None)
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {ROLES}, got {role!r}")
    prefix = embedder.spec.prefix(role) if hasattr(embedder.spec, "prefix") else ""
    if prefix:
        texts = [prefix + text if text.strip() else text for text in texts]
    job = BatchJob(
        texts, embedder, _resolve_cache(cache), long_text_policy, max_retries, backoff_base_s,
        backoff_max_s, max_retry_wait_s,
    )  # fmt: skip
    job.plan(batch_size, tokens_per_minute, requests_per_minute)
    job.run(concurrency, progress, started)
    elapsed = time.perf_counter() - started
    return EmbeddingResult(
        vectors=job.assemble(),
        tokens_used=job.tokens_used,
        n_requests=job.n_requests,
        n_retries=job.n_retries,
        n_cached=job.n_cached,
        n_empty=job.n_empty,
        n_split=job.n_split,
        n_truncated=job.n_truncated,
        long_text_policy=long_text_policy,
        elapsed_s=elapsed,
        texts_per_s=len(texts) / elapsed if elapsed > 0 else float("inf"),
        learnt_limits=dict(job.learnt),
    )
