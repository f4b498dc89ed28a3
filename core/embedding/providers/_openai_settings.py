"""OpenAI settings: the models, limits and defaults this provider knows, and where the key and
the endpoint come from (argument, environment, ``.env``)."""

from __future__ import annotations

import os

import numpy as np
from dotenv import dotenv_values, find_dotenv

from core.embedding._types import BatchLimits
from core.errors import InvalidInputError

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


def _alternate_base(url: str) -> str:
    """The same server with ``/v1`` added or removed (some servers serve one, some the other)."""
    return url[: -len("/v1")] if url.endswith("/v1") else url + "/v1"


def _positive(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
