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

Errors: 400/401/403/404 and an exhausted quota raise :class:`OpenAIRequestError` at once, saying
what to fix; 429, 5xx, timeouts and connection errors raise
:class:`~core.errors.RetryableEmbeddingError` (with the server's Retry-After) for the engine.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import os
import time

import numpy as np
import openai
from dotenv import dotenv_values, find_dotenv
from langchain_core.embeddings import Embeddings
from langchain_openai import OpenAIEmbeddings

from core.embedding._batching import embed_texts
from core.embedding._tokens import TokenCounter, token_counter
from core.embedding._types import BatchLimits, BatchOutput, EmbedderSpec
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


def _retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass  # malformed: try Retry-After
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


class OpenAIEmbedder(Embeddings):
    """OpenAI embeddings through the batch engine.

    Parameters
    ----------
    model : str
        ``text-embedding-3-small`` (default), ``text-embedding-3-large`` or
        ``text-embedding-ada-002``.
    dimensions : int, optional
        Shorter vectors, text-embedding-3 models only (1..1536 or 1..3072).
    api_key, base_url : str, optional
        See the module docstring for the fallbacks.
    timeout : float
        Seconds per request before it counts as a (retryable) timeout.
    tokens_per_minute : int, optional
        Your account's TPM limit: the engine paces requests under it.
    cache : "default", EmbeddingCache or None
        Cache used by ``embed_documents`` / ``embed_query``.
    concurrency : int, optional
        Requests in flight for ``embed_documents`` (engine default 4).
    http_client : httpx.Client, optional
        The HTTP client for requests (for example
        :func:`public_only_http_client` for a visitor's endpoint).
    """

    def __init__(
        self,
        model: str = DEFAULT_OPENAI_MODEL,
        dimensions: int | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        tokens_per_minute: int | None = None,
        cache="default",
        concurrency: int | None = None,
        http_client=None,
    ) -> None:
        self._dimension = check_model(model, dimensions)
        key = resolve_api_key(api_key)
        if key is None:
            raise MissingAPIKeyError(
                f"OpenAI model {model!r} needs an API key: {key_help()}. "
                "Or choose a local provider, which needs none."
            )
        self.model = model
        self.dimensions = None if dimensions is None else int(dimensions)
        self.base_url = resolve_base_url(base_url)
        self.timeout = float(timeout)
        self.tokens_per_minute = tokens_per_minute
        self.cache = cache
        self.concurrency = concurrency
        self.spec = EmbedderSpec(OPENAI_PROVIDER, model, self.dimensions)
        self.limits = OPENAI_LIMITS
        # Another endpoint may return other vectors for the same model name: cache them apart.
        self.cache_key = (
            self.spec.key if self.base_url is None else f"{self.spec.key}|{self.base_url}"
        )
        self.token_counter: TokenCounter = token_counter()
        self.langchain = OpenAIEmbeddings(
            model=model,
            dimensions=self.dimensions,
            api_key=key,
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
        """Length of the returned vectors."""
        return self._dimension

    @property
    def endpoint(self) -> str:
        return self.base_url or "https://api.openai.com/v1"

    def count_tokens(self, text: str) -> int:
        """cl100k_base tokens (an upper bound if the encoding file is unavailable offline)."""
        return self.token_counter.count(text)

    # --- one request -------------------------------------------------------------------------
    def embed_batch(self, texts: list[str]) -> BatchOutput:
        """Send one request; returns vectors of shape ``(len(texts), dimension)`` in input order."""
        params = {"input": list(texts), "model": self.model, "encoding_format": "base64"}
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
            raise self._status_error(exc) from exc
        try:
            payload = json.loads(raw.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProviderResponseError(
                f"{self.endpoint} answered with invalid JSON: {exc}"
            ) from exc
        return self._parse(payload, len(texts))

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
        elif status == 404:
            hint = (
                f"model {self.model!r} is not available at {self.endpoint}: pick another model, "
                "or check OPENAI_BASE_URL points at an OpenAI-compatible .../v1 endpoint"
            )
        elif status == 400 and "dimension" in exc.message.lower():
            hint = f"check dimensions={self.dimensions} is supported by {self.model}"
        else:
            hint = "the request was refused; check the model, dimensions and base URL"
        return OpenAIRequestError(f"OpenAI request failed ({detail}): {hint}", status=status)

    def _parse(self, payload, n: int) -> BatchOutput:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise ProviderResponseError(f"{self.endpoint} answered without a 'data' list")
        try:
            items = sorted(data, key=lambda item: item["index"])
        except (KeyError, TypeError) as exc:
            raise ProviderResponseError(f"{self.endpoint}: an item has no integer index") from exc
        if [item["index"] for item in items] != list(range(n)):
            raise ProviderResponseError(
                f"{self.endpoint} returned {len(items)} vectors for {n} inputs (indices "
                f"{sorted(item['index'] for item in items)[:10]}...); refusing to guess which "
                "text each belongs to"
            )
        vectors = np.empty((n, self._dimension), dtype=np.float32)
        for row, item in enumerate(items):
            emb = item.get("embedding")
            try:
                if isinstance(emb, str):
                    vec = np.frombuffer(base64.b64decode(emb), dtype="<f4")
                else:
                    vec = np.asarray(emb, dtype=np.float32)
            except (binascii.Error, ValueError, TypeError) as exc:
                raise ProviderResponseError(
                    f"{self.endpoint}: vector {row} cannot be decoded: {exc}"
                ) from exc
            if vec.shape != (self._dimension,):
                raise ProviderResponseError(
                    f"{self.endpoint} returned a vector of shape {vec.shape} for input {row}; "
                    f"expected {self._dimension} dimensions (check `dimensions`)"
                )
            vectors[row] = vec
        usage = payload.get("usage") or {}
        tokens = usage.get("prompt_tokens")
        return BatchOutput(vectors, int(tokens) if isinstance(tokens, int) else None)

    # --- LangChain Embeddings ----------------------------------------------------------------
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` through the batch engine (cached, concurrent, retried)."""
        result = embed_texts(texts, self, cache=self.cache, concurrency=self.concurrency)
        return result.vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (an empty query gives a zero vector)."""
        return self.embed_documents([text])[0]


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
    return OpenAIEmbedder(
        model, dimensions, api_key=api_key, base_url=base_url, timeout=timeout,
        tokens_per_minute=tokens_per_minute, **kwargs,
    )  # fmt: skip
