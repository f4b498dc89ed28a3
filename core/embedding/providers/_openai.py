"""OpenAI embeddings (or any OpenAI-compatible server) as a LangChain ``Embeddings`` and a
:class:`~core.embedding._types.BatchEmbedder`.

Built on langchain-openai's ``OpenAIEmbeddings`` (``check_embedding_ctx_length=False``: raw strings,
no tiktoken download; ``max_retries=0``: the batch engine retries). Each request goes through its
underlying ``openai`` client with ``with_raw_response`` so this module can check what came back:
``data`` is sorted by ``index`` (neither openai nor langchain does), the count and dimension are
verified, base64 vectors are decoded straight into NumPy.

Configuration
-------------
- API key: the ``api_key`` argument, else ``OPENAI_API_KEY`` in the environment, else
  ``OPENAI_API_KEY`` in a ``.env`` file (found from the working directory upwards). Streamlit
  exports root keys of ``.streamlit/secrets.toml`` to the environment itself.
- Endpoint: the ``base_url`` argument, else ``OPENAI_BASE_URL`` (environment or ``.env``), else
  api.openai.com. Vectors from a non-default endpoint are cached under their own key.

Other servers (Ollama, vLLM, TEI, Infinity, LM Studio, llama.cpp, LiteLLM...): with a base URL
any model name is accepted. The output dimension is learnt from the server (one probe request)
unless stated (``dimension=``); base64 is asked for and float arrays used for good after a 400
about it; ``data`` with or without ``index``, in any order, with or without ``usage``; a 404
for the path retries once with ``/v1`` added or removed; a 413 (or a 400 saying the batch is too
large) halves the request and keeps the size that worked. Limits default to OpenAI's for
OpenAI's models and to :data:`COMPATIBLE_LIMITS` otherwise; token counts for other models are
an estimate (``token_counter.exact`` is False).

Errors: 400/401/403/404 and an exhausted quota raise :class:`OpenAIRequestError` at once, saying
what to fix; 429, 5xx, timeouts and connection errors raise
:class:`~core.errors.RetryableEmbeddingError` (with the server's Retry-After) for the engine.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import json
import math
import os
import re
import threading
import time

import numpy as np
import openai
from dotenv import dotenv_values, find_dotenv
from langchain_openai import OpenAIEmbeddings

from core.embedding._adapter import EngineEmbeddings
from core.embedding._tokens import TokenCounter, token_counter
from core.embedding._types import BatchLimits, BatchOutput, EmbedderSpec, RateLimitHeaders
from core.embedding.providers._prefixes import resolve_prefixes
from core.errors import (
    InvalidInputError,
    MissingAPIKeyError,
    OpenAIRequestError,
    ProviderResponseError,
    RetryableEmbeddingError,
)

OPENAI_PROVIDER = "openai"
OPENAI_MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
OPENAI_LIMITS = BatchLimits(
    max_inputs_per_request=2048,
    max_tokens_per_request=300_000,
    max_tokens_per_input=8191,
    remote=True,
)
DEFAULT_TIMEOUT_S = 60.0


def key_help() -> str:
    """Where to give the key, as the current surface names it (core.surface)."""
    from core.surface import control

    return f"give one with {control('api_key')}"


def _dotenv_value(name: str) -> str | None:
    path = find_dotenv(usecwd=True)
    return dotenv_values(path).get(name) if path else None


def resolve_api_key(explicit: str | None = None) -> str | None:
    """The OpenAI key: ``explicit``, else ``$OPENAI_API_KEY``, else the one in ``.env``."""
    for candidate in (explicit, os.environ.get("OPENAI_API_KEY"), _dotenv_value("OPENAI_API_KEY")):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def resolve_base_url(explicit: str | None = None) -> str | None:
    """The endpoint: ``explicit``, else ``$OPENAI_BASE_URL``, else from ``.env``; None = OpenAI."""
    for candidate in (
        explicit,
        os.environ.get("OPENAI_BASE_URL"),
        _dotenv_value("OPENAI_BASE_URL"),
    ):
        if candidate and candidate.strip():
            return candidate.strip().rstrip("/")
    return None


def check_model(model: str, dimensions: int | None) -> int:
    """Validate ``model`` and ``dimensions``; returns the output dimension."""
    if model not in OPENAI_MODEL_DIMENSIONS:
        known = ", ".join(OPENAI_MODEL_DIMENSIONS)
        raise InvalidInputError(f"unknown OpenAI embedding model {model!r}; choose one of: {known}")
    native = OPENAI_MODEL_DIMENSIONS[model]
    if dimensions is None:
        return native
    if not model.startswith("text-embedding-3"):
        raise InvalidInputError(
            f"dimensions is only supported by the text-embedding-3 models; {model} always "
            f"returns {native} dimensions: leave dimensions unset"
        )
    if isinstance(dimensions, bool) or not isinstance(dimensions, int | np.integer):
        raise InvalidInputError(f"dimensions must be an integer, got {dimensions!r}")
    if not 1 <= dimensions <= native:
        raise InvalidInputError(
            f"dimensions for {model} must be from 1 to {native}, got {dimensions}"
        )
    return int(dimensions)


def _seconds(value: str) -> float | None:
    """A Retry-After number: seconds (``inf`` and huge values kept: the engine caps them);
    None when it is not a number or is NaN."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return None if math.isnan(seconds) else max(0.0, seconds)


def _retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    Anything unreadable (``soon``, a bad date) is None: the engine then backs off as for a 429
    without the header; the request stays retryable.
    """
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        ms = _seconds(value)
        if ms is not None:
            return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


# --- what this module knows about servers that are not api.openai.com -------------------------
# Limits for a model this module does not know, on a server it does not know: small enough for
# every server seen (TEI's default batch is 32; most local models read 512 tokens), settable.
COMPATIBLE_LIMITS = BatchLimits(
    max_inputs_per_request=32,
    max_tokens_per_request=16_384,
    max_tokens_per_input=512,
    remote=True,
)
LIMIT_OPTIONS = ("max_inputs_per_request", "max_tokens_per_input", "max_tokens_per_request")
# The bearer token sent to a custom endpoint when no key is configured (servers that need none
# ignore it; Ollama, vLLM, TEI, Infinity and LM Studio do by default).
NO_KEY = "no-key"
ENCODINGS = ("auto", "base64", "float")
PROBE_TEXT = "dimension probe"

# What servers taught this process, per endpoint: base URL -> "float" when base64 was refused,
# (base URL, model) -> the most inputs a request was accepted with. Facts about servers only
# (no texts, no keys); bounded.
_LEARNT: dict = {}
_LEARNT_MAX = 512


def _remember(key, value) -> None:
    if len(_LEARNT) >= _LEARNT_MAX and key not in _LEARNT:
        _LEARNT.pop(next(iter(_LEARNT)))
    _LEARNT[key] = value


_BASE64_REFUSED = re.compile(r"base64|encoding[_ ]?format", re.IGNORECASE)
_TOO_LARGE = re.compile(
    r"batch|too many|too large|payload|per request|maximum allowed|max(imum)? (number of )?"
    r"(inputs|items|texts)",
    re.IGNORECASE,
)
_ONE_INPUT = re.compile(r"context length|in input \d+|input is too long|too long", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_reset(value: str | None) -> float | None:
    """Seconds in an ``x-ratelimit-reset-*`` header: ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"0.5"``."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _int_header(headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def rate_limit_headers(headers) -> RateLimitHeaders | None:
    """The ``x-ratelimit-*`` headers of a response (OpenAI's names), or None if there are none."""
    if headers is None:
        return None
    found = RateLimitHeaders(
        limit_requests=_int_header(headers, "x-ratelimit-limit-requests"),
        limit_tokens=_int_header(headers, "x-ratelimit-limit-tokens"),
        remaining_requests=_int_header(headers, "x-ratelimit-remaining-requests"),
        remaining_tokens=_int_header(headers, "x-ratelimit-remaining-tokens"),
        reset_requests_s=parse_reset(headers.get("x-ratelimit-reset-requests")),
        reset_tokens_s=parse_reset(headers.get("x-ratelimit-reset-tokens")),
    )
    return None if found.empty else found


def _alternate_base(url: str) -> str:
    """The same server with ``/v1`` added or removed (some servers serve one, some the other)."""
    return url[: -len("/v1")] if url.endswith("/v1") else url + "/v1"


def _positive(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class _TooLarge(Exception):
    """A server refused a request for its size (413, or a 400 saying so)."""


class _WrongPath(Exception):
    """A 404 for the path, not the model: the base URL may need ``/v1`` added or removed."""


class OpenAIEmbedder(EngineEmbeddings):
    """OpenAI embeddings, or any OpenAI-compatible server's, through the batch engine.

    Parameters
    ----------
    model : str
        At api.openai.com: ``text-embedding-3-small`` (default), ``text-embedding-3-large`` or
        ``text-embedding-ada-002``. With a base URL: any name the server knows
        (``nomic-embed-text``, ``BAAI/bge-m3``, ...).
    dimensions : int, optional
        Ask the server for shorter vectors (the ``dimensions`` request field; OpenAI -3 models,
        and Matryoshka models on servers that support it). A server that ignores it and answers
        longer vectors gets them cut to ``dimensions`` and renormalised here.
    api_key, base_url : str, optional
        See the module docstring for the fallbacks. A custom endpoint needs no key.
    dimension : int, optional
        The output dimension, stated. Default: known for OpenAI's models, else learnt from the
        server with one short probe request the first time it is needed.
    max_inputs_per_request, max_tokens_per_input, max_tokens_per_request : int, optional
        The endpoint's limits. Defaults: OpenAI's for OpenAI's models, else
        :data:`COMPATIBLE_LIMITS` (32 inputs, 512 tokens per input, 16,384 per request).
    query_prefix, document_prefix : str, optional
        Put before queries / documents; default: the model family's (see
        :func:`~core.embedding.providers._prefixes.default_prefixes`), ``""`` for none.
    encoding_format : {"auto", "base64", "float"}
        ``auto`` asks for base64 and falls back to float arrays for good after a 400 about it.
    timeout : float
        Seconds per request before it counts as a (retryable) timeout.
    tokens_per_minute, requests_per_minute : int, optional
        Your limits: the engine paces requests under both.
    cache : "default", EmbeddingCache or None
        Cache used by ``embed_documents`` / ``embed_query``.
    concurrency : int, optional
        Requests in flight for ``embed_documents`` (engine default 4).
    http_client : httpx.Client, optional
        The HTTP client for requests (for example
        :func:`public_only_http_client` for a visitor's endpoint).
    require_key : bool
        False builds an embedder that can count and price but not send (a dry run without a key).
    """

    def __init__(
        self,
        model: str = DEFAULT_OPENAI_MODEL,
        dimensions: int | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        dimension: int | None = None,
        max_inputs_per_request: int | None = None,
        max_tokens_per_input: int | None = None,
        max_tokens_per_request: int | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        encoding_format: str = "auto",
        timeout: float = DEFAULT_TIMEOUT_S,
        tokens_per_minute: int | None = None,
        requests_per_minute: int | None = None,
        cache="default",
        concurrency: int | None = None,
        http_client=None,
        require_key: bool = True,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError(f"model must be a non-empty name, got {model!r}")
        model = model.strip()
        self.base_url = resolve_base_url(base_url)
        self.known_model = model in OPENAI_MODEL_DIMENSIONS
        stated = _positive("dimension", dimension)
        if self.known_model:
            self._dimension: int | None = check_model(model, dimensions)
            if stated is not None and stated != self._dimension:
                raise InvalidInputError(
                    f"{model} returns {self._dimension} dimensions, not dimension={stated}: "
                    "leave dimension unset (use dimensions to ask for shorter vectors)"
                )
            self.dimension_source = "model table"
        elif self.base_url is None:
            known = ", ".join(OPENAI_MODEL_DIMENSIONS)
            raise InvalidInputError(
                f"unknown OpenAI embedding model {model!r}; choose one of: {known}, or set a "
                "base URL (OPENAI_BASE_URL, --base-url, base_url=) to use any model an "
                "OpenAI-compatible server serves"
            )
        else:
            dimensions = _positive("dimensions", dimensions)
            if stated is not None and dimensions is not None and stated != dimensions:
                raise InvalidInputError(
                    f"dimension={stated} contradicts dimensions={dimensions}: state one"
                )
            self._dimension = stated or dimensions
            self.dimension_source = "stated" if self._dimension else "server"
        if encoding_format not in ENCODINGS:
            raise InvalidInputError(
                f"encoding_format must be one of {ENCODINGS}, got {encoding_format!r}"
            )
        key = resolve_api_key(api_key)
        if key is None and self.base_url is not None:
            key = NO_KEY  # a self-hosted server: most need no key
        if key is None and require_key:
            raise MissingAPIKeyError(
                f"OpenAI model {model!r} needs an API key: {key_help()}. "
                "Or choose a local provider, which needs none."
            )
        self.can_send = key is not None
        self.model = model
        self.dimensions = None if dimensions is None else int(dimensions)
        self.timeout = float(timeout)
        self.tokens_per_minute = _positive("tokens_per_minute", tokens_per_minute)
        self.requests_per_minute = _positive("requests_per_minute", requests_per_minute)
        self.cache = cache
        self.concurrency = concurrency
        prefixes = resolve_prefixes(model, query_prefix, document_prefix)
        self.prefix_family = prefixes.family
        self.spec = EmbedderSpec(
            OPENAI_PROVIDER, model, self.dimensions, prefixes.query, prefixes.document
        )
        base_limits = OPENAI_LIMITS if self.known_model else COMPATIBLE_LIMITS
        self.limits = BatchLimits(
            _positive("max_inputs_per_request", max_inputs_per_request)
            or base_limits.max_inputs_per_request,
            _positive("max_tokens_per_request", max_tokens_per_request)
            or base_limits.max_tokens_per_request,
            _positive("max_tokens_per_input", max_tokens_per_input)
            or base_limits.max_tokens_per_input,
            remote=True,
        )
        self.limits_source = (
            "stated"
            if any(v is not None for v in (max_inputs_per_request, max_tokens_per_input,
                                          max_tokens_per_request))
            else "OpenAI" if self.known_model else "safe defaults"
        )  # fmt: skip
        # Another endpoint may return other vectors for the same model name: cache them apart.
        self.cache_key = (
            self.spec.key if self.base_url is None else f"{self.spec.key}|{self.base_url}"
        )
        base = token_counter()
        if self.known_model:
            self.token_counter: TokenCounter = base
        else:
            self.token_counter = TokenCounter(
                f"estimate:{base.method}",
                False,
                f"{model} uses its own tokenizer, unknown here: {base.method} counts are an "
                "estimate",
                base.encoding,
            )
        learnt_float = encoding_format == "auto" and _LEARNT.get(self.base_url) == "float"
        self.encoding = "float" if encoding_format == "float" or learnt_float else "base64"
        self.encoding_learnt = learnt_float  # True once a 400 taught us this server wants float
        # Most inputs a request was accepted with, once a server refused a bigger one.
        self.working_batch: int | None = _LEARNT.get((self.base_url, model))
        self.last_rate_limits: RateLimitHeaders | None = None
        self.last_answer: dict = {}  # the shape of the last answer (for "Test connection")
        self._moved = False  # the /v1 alternative was tried
        self._lock = threading.Lock()
        self.langchain = OpenAIEmbeddings(
            model=model,
            dimensions=self.dimensions,
            api_key=key or NO_KEY,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
            check_embedding_ctx_length=False,
            http_client=http_client,
        )
        self._client = self.langchain.client

    def __repr__(self) -> str:
        where = self.base_url or "api.openai.com"
        return f"OpenAIEmbedder(model={self.model!r}, dimensions={self.dimensions}, at {where})"

    @property
    def dimension(self) -> int:
        """Length of the returned vectors (learnt with one probe request if not known)."""
        if self._dimension is None:
            self._probe()
        return self._dimension

    @property
    def dimension_known(self) -> bool:
        """True when :attr:`dimension` needs no request."""
        return self._dimension is not None

    @property
    def endpoint(self) -> str:
        return self.base_url or "https://api.openai.com/v1"

    def count_tokens(self, text: str) -> int:
        """cl100k_base tokens (an estimate for other models; see ``token_counter.exact``)."""
        return self.token_counter.count(text)

    def _probe(self) -> None:
        out = self._embed_chunk([PROBE_TEXT])
        with self._lock:
            if self._dimension is None:
                self._dimension = int(out.vectors.shape[1])
                self.dimension_source = "server"

    # --- one request -------------------------------------------------------------------------
    def embed_batch(self, texts: list[str]) -> BatchOutput:
        """Send ``texts`` (one request, or several of the size the server accepted);
        returns vectors of shape ``(len(texts), dimension)`` in input order."""
        size = self.working_batch
        if size is None or len(texts) <= size:
            return self._embed_chunk(list(texts))
        return _concat([self._embed_chunk(texts[i : i + size]) for i in range(0, len(texts), size)])

    def _embed_chunk(self, texts: list[str]) -> BatchOutput:
        try:
            out = self._request(texts)
        except _TooLarge as exc:
            if len(texts) == 1:
                raise OpenAIRequestError(
                    f"{self.endpoint} refuses even a single text as too large ({exc}): lower "
                    "max_tokens_per_input to this model's limit (its texts are then split "
                    "or truncated before sending)",
                    status=413,
                ) from exc
            half = (len(texts) + 1) // 2
            with self._lock:
                self.working_batch = min(self.working_batch or half, half)
                if self.base_url is not None:
                    _remember((self.base_url, self.model), self.working_batch)
            return _concat([self.embed_batch(texts[:half]), self.embed_batch(texts[half:])])
        return out

    def _request(self, texts: list[str]) -> BatchOutput:
        if not self.can_send:
            raise MissingAPIKeyError(
                f"OpenAI model {self.model!r} needs an API key to embed: {key_help()}"
            )
        params = {"input": list(texts), "model": self.model, "encoding_format": self.encoding}
        if self.dimensions is not None:
            params["dimensions"] = self.dimensions
        try:
            raw = self._client.with_raw_response.create(**params)
        except openai.APITimeoutError as exc:
            raise RetryableEmbeddingError(
                f"{self.endpoint} did not answer within {self.timeout:g} s"
            ) from exc
        except openai.APIConnectionError as exc:
            raise RetryableEmbeddingError(f"could not connect to {self.endpoint}: {exc}") from exc
        except openai.APIStatusError as exc:
            retry = self._adapt(exc)
            if retry:
                return self._request(texts)
            raise self._status_error(exc) from exc
        try:
            payload = json.loads(raw.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProviderResponseError(
                f"{self.endpoint} answered with invalid JSON: {exc}"
            ) from exc
        out = self._parse(payload, len(texts))
        data = payload.get("data") or [{}]
        self.last_answer = {
            "model": payload.get("model"),
            "n_vectors": len(data),
            "index": all(isinstance(item.get("index"), int) for item in data),
            "usage": payload.get("usage"),
            "encoding": "base64" if isinstance(data[0].get("embedding"), str) else "float",
        }
        limits = rate_limit_headers(raw.headers)
        if limits is not None:
            self.last_rate_limits = limits
            out = BatchOutput(out.vectors, out.tokens_used, limits)
        return out

    def _adapt(self, exc: openai.APIStatusError) -> bool:
        """Learn from a refusal that a changed request can fix; True to send it again.

        Raises ``_TooLarge`` for a request refused for its size (the caller halves it).
        """
        status, message = exc.status_code, str(exc.message or "")
        body = f"{message} {getattr(exc, 'body', '') or ''}"
        if status in (400, 422) and self.encoding == "base64" and _BASE64_REFUSED.search(body):
            with self._lock:
                self.encoding, self.encoding_learnt = "float", True
                if self.base_url is not None:
                    _remember(self.base_url, "float")
            return True
        if status == 413 or (
            status in (400, 422) and _TOO_LARGE.search(body) and not _ONE_INPUT.search(body)
        ):
            raise _TooLarge(f"{status}: {message}")
        if status == 404 and self.base_url and not self._moved:
            code = getattr(exc, "code", None)
            if code != "model_not_found" and "model" not in message.lower():
                alternate = _alternate_base(self.base_url)
                with self._lock:
                    self._moved = True
                    self._tried = self.base_url
                    self.base_url = alternate
                    root = self._client._client.with_options(base_url=alternate)
                    self._client = root.embeddings
                return True
        return False

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        status, code = exc.status_code, getattr(exc, "code", None)
        detail = f"{status} {code or ''}".strip() + f" from {self.endpoint}: {exc.message}"
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
            hint = f"this key may not use {self.model}: check the project's model access"
        elif status == 404 and self._moved and "model" not in str(exc.message).lower():
            hint = (
                f"neither {self._tried}/embeddings nor {self.base_url}/embeddings exists: "
                "check the base URL points at the server's OpenAI-compatible API"
            )
        elif status == 404:
            hint = (
                f"model {self.model!r} is not available at {self.endpoint}: pick another model, "
                "or check OPENAI_BASE_URL points at an OpenAI-compatible .../v1 endpoint"
            )
        elif status in (400, 422) and _ONE_INPUT.search(str(exc.message)):
            hint = (
                f"a text is longer than the model reads: lower max_tokens_per_input (now "
                f"{self.limits.max_tokens_per_input}) so longer texts are split before sending"
            )
        elif status == 400 and "dimension" in exc.message.lower():
            hint = f"check dimensions={self.dimensions} is supported by {self.model}"
        else:
            hint = "the request was refused; check the model, dimensions and base URL"
        return OpenAIRequestError(f"OpenAI request failed ({detail}): {hint}", status=status)

    def _parse(self, payload, n: int) -> BatchOutput:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise ProviderResponseError(f"{self.endpoint} answered without a 'data' list")
        indexed = [isinstance(item.get("index"), int) for item in data]
        if all(indexed) and data:
            items = sorted(data, key=lambda item: item["index"])
            if [item["index"] for item in items] != list(range(n)):
                raise ProviderResponseError(
                    f"{self.endpoint} returned {len(items)} vectors for {n} inputs (indices "
                    f"{sorted(item['index'] for item in items)[:10]}...); refusing to guess "
                    "which text each belongs to"
                )
        elif any(indexed):
            raise ProviderResponseError(
                f"{self.endpoint}: some vectors have an index and some do not; refusing to "
                "guess which text each belongs to"
            )
        else:  # no index at all (LM Studio, some proxies): answers come in input order
            items = data
            if len(items) != n:
                raise ProviderResponseError(
                    f"{self.endpoint} returned {len(items)} vectors without indices for {n} "
                    "inputs; refusing to guess which text each belongs to"
                )
        rows = [self._decode(item.get("embedding"), row) for row, item in enumerate(items)]
        vectors = np.ascontiguousarray(np.stack(rows), dtype=np.float32) if rows else None
        # The vectors are paid for: a malformed usage only loses the token count, never them.
        usage = payload.get("usage")
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        valid = isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0
        return BatchOutput(vectors, int(tokens) if valid else None)

    def _decode(self, emb, row: int) -> np.ndarray:
        try:
            if isinstance(emb, str):
                vec = np.frombuffer(base64.b64decode(emb), dtype="<f4").astype(np.float32)
            else:
                vec = np.asarray(emb, dtype=np.float32)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise ProviderResponseError(
                f"{self.endpoint}: vector {row} cannot be decoded: {exc}"
            ) from exc
        if vec.ndim != 1 or vec.size == 0:
            raise ProviderResponseError(
                f"{self.endpoint} returned a vector of shape {vec.shape} for input {row}"
            )
        if self.dimensions is not None and vec.size > self.dimensions:
            # The server ignored `dimensions`: cut and renormalise (Matryoshka models).
            vec = vec[: self.dimensions]
            norm = float(np.linalg.norm(vec))
            vec = vec / norm if norm > 0 else vec
        with self._lock:
            expected = self._dimension
            if expected is None:
                self._dimension, self.dimension_source = int(vec.size), "server"
                return vec
        if vec.size != expected:
            how = {
                "stated": "the stated dimension",
                "model table": f"{self.model}'s dimension",
            }.get(self.dimension_source, "the dimension it answered with before")
            raise ProviderResponseError(
                f"{self.endpoint} returned {vec.size}-dimensional vectors for {self.model}, but "
                f"{how} is {expected}: the server changed model or dimension mid-job "
                "(check its configuration and dimensions/dimension)"
            )
        return vec

    # --- LangChain Embeddings (EngineEmbeddings runs them through the batch engine) ----------
    @property
    def engine_cache(self):
        return self.cache

    @property
    def engine_concurrency(self) -> int | None:
        return self.concurrency


def _concat(outputs: list[BatchOutput]) -> BatchOutput:
    tokens = [o.tokens_used for o in outputs]
    limits = next((o.rate_limits for o in reversed(outputs) if o.rate_limits), None)
    return BatchOutput(
        np.ascontiguousarray(np.concatenate([o.vectors for o in outputs]), dtype=np.float32),
        None if any(t is None for t in tokens) else sum(tokens),
        limits,
    )


OPENAI_OPTIONS = (
    "dimension", *LIMIT_OPTIONS, "query_prefix", "document_prefix", "encoding_format",
    "timeout", "tokens_per_minute", "requests_per_minute", "cache", "concurrency",
    "http_client", "require_key",
)  # fmt: skip


def make_openai_embedder(
    model: str = DEFAULT_OPENAI_MODEL,
    dimensions: int | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    tokens_per_minute: int | None = None,
    **kwargs,
) -> OpenAIEmbedder:
    """Build an :class:`OpenAIEmbedder` (for the provider registry); see its parameters."""
    unknown = sorted(set(kwargs) - set(OPENAI_OPTIONS))
    if unknown:
        raise InvalidInputError(
            f"option(s) {', '.join(unknown)} do not apply to openai; accepted: "
            f"{', '.join(OPENAI_OPTIONS)}"
        )
    return OpenAIEmbedder(
        model, dimensions, api_key=api_key, base_url=base_url, timeout=timeout,
        tokens_per_minute=tokens_per_minute, **kwargs,
    )  # fmt: skip
