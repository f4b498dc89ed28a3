"""Reading an OpenAI-compatible server's answers: the vectors in a reply (checked, in input
order), and what a refusal means (the message to raise, or that a smaller request may pass).

The functions take the :class:`~core.embedding.providers._openai.OpenAIEmbedder` whose
request it was: its endpoint, model and dimension go into the messages and checks.
"""

from __future__ import annotations

import base64
import binascii
import re

import numpy as np
import openai

from core.embedding._types import BatchOutput
from core.embedding.providers._openai_headers import _retry_after
from core.embedding.providers._openai_settings import key_help
from core.errors import OpenAIRequestError, ProviderResponseError, RetryableEmbeddingError

_BASE64_REFUSED = re.compile(r"base64|encoding[_ ]?format", re.IGNORECASE)
_TOO_LARGE = re.compile(
    r"batch|too many|too large|payload|per request|maximum allowed|max(imum)? (number of )?"
    r"(inputs|items|texts)",
    re.IGNORECASE,
)
_ONE_INPUT = re.compile(r"context length|in input \d+|input is too long|too long", re.IGNORECASE)


class _TooLarge(Exception):
    """A server refused a request for its size (413, or a 400 saying so)."""


def status_error(embedder, exc: openai.APIStatusError) -> Exception:
    """The error to raise for a refusal ``_adapt`` could not fix: what to do, or retryable."""
    status, code = exc.status_code, getattr(exc, "code", None)
    detail = f"{status} {code or ''}".strip() + f" from {embedder.endpoint}: {exc.message}"
    if status == 429 and code == "insufficient_quota":
        return OpenAIRequestError(
            f"OpenAI quota exhausted ({detail}). Add credit or raise the limit in your "
            "OpenAI billing settings, then rerun: finished batches are cached.",
            status=status,
        )
    if status in (408, 409, 429) or status >= 500:
        return RetryableEmbeddingError(detail, retry_after=_retry_after(exc.response.headers))
    if status == 401:
        hint = f"the API key was rejected: check it, then {key_help()}"
    elif status == 403:
        hint = f"this key may not use {embedder.model}: check the project's model access"
    elif status == 404 and embedder._moved and "model" not in str(exc.message).lower():
        hint = (
            f"neither {embedder._tried}/embeddings nor {embedder.base_url}/embeddings exists: "
            "check the base URL points at the server's OpenAI-compatible API"
        )
    elif status == 404:
        hint = (
            f"model {embedder.model!r} is not available at {embedder.endpoint}: pick another "
            "model, or check OPENAI_BASE_URL points at an OpenAI-compatible .../v1 endpoint"
        )
    elif status in (400, 422) and _ONE_INPUT.search(str(exc.message)):
        hint = (
            f"a text is longer than the model reads: lower max_tokens_per_input (now "
            f"{embedder.limits.max_tokens_per_input}) so longer texts are split before sending"
        )
    elif status == 400 and "dimension" in exc.message.lower():
        hint = f"check dimensions={embedder.dimensions} is supported by {embedder.model}"
    else:
        hint = "the request was refused; check the model, dimensions and base URL"
    return OpenAIRequestError(f"OpenAI request failed ({detail}): {hint}", status=status)


def parse_answer(embedder, payload, n: int) -> BatchOutput:
    """The vectors (in input order) and token count of a JSON answer to ``n`` inputs, checked."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ProviderResponseError(f"{embedder.endpoint} answered without a 'data' list")
    indexed = [isinstance(item.get("index"), int) for item in data]
    if all(indexed) and data:
        items = sorted(data, key=lambda item: item["index"])
        if [item["index"] for item in items] != list(range(n)):
            raise ProviderResponseError(
                f"{embedder.endpoint} returned {len(items)} vectors for {n} inputs (indices "
                f"{sorted(item['index'] for item in items)[:10]}...); refusing to guess "
                "which text each belongs to"
            )
    elif any(indexed):
        raise ProviderResponseError(
            f"{embedder.endpoint}: some vectors have an index and some do not; refusing to "
            "guess which text each belongs to"
        )
    else:  # no index at all (LM Studio, some proxies): answers come in input order
        items = data
        if len(items) != n:
            raise ProviderResponseError(
                f"{embedder.endpoint} returned {len(items)} vectors without indices for {n} "
                "inputs; refusing to guess which text each belongs to"
            )
    rows = [decode_vector(embedder, item.get("embedding"), row) for row, item in enumerate(items)]
    vectors = np.ascontiguousarray(np.stack(rows), dtype=np.float32) if rows else None
    # The vectors are paid for: a malformed usage only loses the token count, never them.
    usage = payload.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    valid = isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0
    return BatchOutput(vectors, int(tokens) if valid else None)


def decode_vector(embedder, emb, row: int) -> np.ndarray:
    """Vector ``row`` of an answer (base64 or a float list), checked against the dimension."""
    try:
        if isinstance(emb, str):
            vec = np.frombuffer(base64.b64decode(emb), dtype="<f4").astype(np.float32)
        else:
            vec = np.asarray(emb, dtype=np.float32)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ProviderResponseError(
            f"{embedder.endpoint}: vector {row} cannot be decoded: {exc}"
        ) from exc
    if vec.ndim != 1 or vec.size == 0:
        raise ProviderResponseError(
            f"{embedder.endpoint} returned a vector of shape {vec.shape} for input {row}"
        )
    if embedder.dimensions is not None and vec.size > embedder.dimensions:
        # The server ignored `dimensions`: cut and renormalise (Matryoshka models).
        vec = vec[: embedder.dimensions]
        norm = float(np.linalg.norm(vec))
        vec = vec / norm if norm > 0 else vec
    with embedder._lock:
        expected = embedder._dimension
        if expected is None:
            embedder._dimension, embedder.dimension_source = int(vec.size), "server"
            return vec
    if vec.size != expected:
        how = {
            "stated": "the stated dimension",
            "model table": f"{embedder.model}'s dimension",
        }.get(embedder.dimension_source, "the dimension it answered with before")
        raise ProviderResponseError(
            f"{embedder.endpoint} returned {vec.size}-dimensional vectors for {embedder.model}, "
            f"but {how} is {expected}: the server changed model or dimension mid-job "
            "(check its configuration and dimensions/dimension)"
        )
    return vec


def concat_outputs(outputs: list[BatchOutput]) -> BatchOutput:
    """One output of several requests' outputs, in order (tokens None if any is unknown)."""
    tokens = [o.tokens_used for o in outputs]
    limits = next((o.rate_limits for o in reversed(outputs) if o.rate_limits), None)
    return BatchOutput(
        np.ascontiguousarray(np.concatenate([o.vectors for o in outputs]), dtype=np.float32),
        None if any(t is None for t in tokens) else sum(tokens),
        limits,
    )
