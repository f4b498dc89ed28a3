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

Beside this module: :mod:`._openai_settings` (models, limits, key and endpoint resolution),
:mod:`._openai_headers` (Retry-After and rate-limit headers) and :mod:`._openai_answers`
(reading replies and refusals); every name is importable from here as before.
"""

from __future__ import annotations

import json
import threading

import openai
from langchain_openai import OpenAIEmbeddings

from core.embedding._adapter import EngineEmbeddings
from core.embedding._tokens import TokenCounter, token_counter
from core.embedding._types import BatchLimits, BatchOutput, EmbedderSpec, RateLimitHeaders
from core.embedding.providers._openai_answers import (
    _BASE64_REFUSED,
    _ONE_INPUT,
    _TOO_LARGE,
    _TooLarge,
    concat_outputs,
    parse_answer,
    status_error,
)
from core.embedding.providers._openai_headers import _retry_after, parse_reset, rate_limit_headers
from core.embedding.providers._openai_settings import (
    COMPATIBLE_LIMITS,
    DEFAULT_OPENAI_MODEL,
    DEFAULT_TIMEOUT_S,
    ENCODINGS,
    LIMIT_OPTIONS,
    NO_KEY,
    OPENAI_LIMITS,
    OPENAI_MODEL_DIMENSIONS,
    OPENAI_PROVIDER,
    PROBE_TEXT,
    _alternate_base,
    _positive,
    check_model,
    key_help,
    resolve_api_key,
    resolve_base_url,
)
from core.embedding.providers._prefixes import resolve_prefixes
from core.errors import (
    InvalidInputError,
    MissingAPIKeyError,
    OpenAIRequestError,
    ProviderResponseError,
    RetryableEmbeddingError,
)

# Importers of this module keep finding every name that moved to _openai_settings,
# _openai_headers and _openai_answers (tests, the registry, the CLI, the dashboard).
__all__ = [
    "COMPATIBLE_LIMITS",
    "DEFAULT_OPENAI_MODEL",
    "DEFAULT_TIMEOUT_S",
    "ENCODINGS",
    "LIMIT_OPTIONS",
    "NO_KEY",
    "OPENAI_LIMITS",
    "OPENAI_MODEL_DIMENSIONS",
    "OPENAI_OPTIONS",
    "OPENAI_PROVIDER",
    "PROBE_TEXT",
    "MissingAPIKeyError",
    "OpenAIEmbedder",
    "OpenAIRequestError",
    "ProviderResponseError",
    "RetryableEmbeddingError",
    "_retry_after",
    "check_model",
    "key_help",
    "make_openai_embedder",
    "parse_reset",
    "rate_limit_headers",
    "resolve_api_key",
    "resolve_base_url",
]

# What servers taught this process, per endpoint: base URL -> "float" when base64 was refused,
# (base URL, model) -> the most inputs a request was accepted with. Facts about servers only
# (no texts, no keys); bounded.
_LEARNT: dict = {}
_LEARNT_MAX = 512


def _remember(key, value) -> None:
    if len(_LEARNT) >= _LEARNT_MAX and key not in _LEARNT:
        _LEARNT.pop(next(iter(_LEARNT)))
    _LEARNT[key] = value


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
        return concat_outputs(
            [self._embed_chunk(texts[i : i + size]) for i in range(0, len(texts), size)]
        )

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
            return concat_outputs([self.embed_batch(texts[:half]), self.embed_batch(texts[half:])])
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
            raise status_error(self, exc) from exc
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

    def _parse(self, payload, n: int) -> BatchOutput:
        """The checked vectors of a JSON answer to ``n`` inputs (also the Batch API's)."""
        return parse_answer(self, payload, n)

    # --- LangChain Embeddings (EngineEmbeddings runs them through the batch engine) ----------
    @property
    def engine_cache(self):
        return self.cache

    @property
    def engine_concurrency(self) -> int | None:
        return self.concurrency


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
    from core.embedding.providers import _reject_options  # the registry's one check

    _reject_options(OPENAI_PROVIDER, kwargs, OPENAI_OPTIONS)
    return OpenAIEmbedder(
        model, dimensions, api_key=api_key, base_url=base_url, timeout=timeout,
        tokens_per_minute=tokens_per_minute, **kwargs,
    )  # fmt: skip
