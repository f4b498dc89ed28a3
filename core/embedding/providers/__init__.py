"""Embedding providers: which exist here, which is the default, and one factory for all.

===========================  =========================================  =======  =============
provider                     models                                     offline  languages
===========================  =========================================  =======  =============
``openai``                   text-embedding-3-small/-large, ada-002     no       multilingual
``use-multilingual``         universal-sentence-encoder-multilingual-3  yes      multilingual
``sentence-transformers``    all-MiniLM-L6-v2 (bundled), any local one  yes      en
===========================  =========================================  =======  =============

``sentence-transformers`` is listed only when torch and sentence-transformers are installed
(``requirements-st.txt``); nothing here imports torch, openai or a model until an embedder is
asked for. Every embedder is both a LangChain ``Embeddings`` and a
:class:`~core.embedding._types.BatchEmbedder`.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.embedding._types import EmbedderSpec
from core.embedding.providers._local import (
    ST_DEFAULT_MODEL,
    ST_PROVIDER,
    USE_DIMENSION,
    USE_MODEL,
    USE_PROVIDER,
)
from core.errors import InvalidInputError

__all__ = [
    "OPENAI",
    "PROVIDER_NAMES",
    "SENTENCE_TRANSFORMERS",
    "USE_MULTILINGUAL",
    "ProviderInfo",
    "available_providers",
    "default_provider",
    "get_embedder",
    "is_english_only",
    "provider_info",
    "sentence_transformers_installed",
]

OPENAI = "openai"
USE_MULTILINGUAL = USE_PROVIDER
SENTENCE_TRANSFORMERS = ST_PROVIDER
PROVIDER_NAMES = (OPENAI, USE_MULTILINGUAL, SENTENCE_TRANSFORMERS)

# Name fragments of sentence-transformers checkpoints trained on Chinese or many languages.
_MULTILINGUAL_HINTS = ("multilingual", "labse", "bge-m3", "chinese", "-zh", "text2vec", "m3e")
_INSTALL_ST = (
    "sentence-transformers needs torch and sentence-transformers: "
    "pip install -r requirements-st.txt (CPU torch)"
)

# Which provider and model an embedder uses, and why: one INFO record per get_embedder call.
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderInfo:
    """What the UI and the CLI show about a provider.

    Attributes
    ----------
    name : str
        Registry name passed to :func:`get_embedder`.
    label : str
        Human-readable name.
    models : tuple of str
        Models to offer (sentence-transformers also takes any local model directory).
    default_model : str
    remote : bool
        True when texts leave the machine.
    needs_key : bool
        True when an API key is required.
    languages : {"multilingual", "en"}
        What the default model reads; ``"en"`` means Chinese text gets poor vectors.
    native_dimensions : dict of str to int
        Output dimension of each listed model (when known without loading it).
    """

    name: str
    label: str
    models: tuple[str, ...]
    default_model: str
    remote: bool
    needs_key: bool
    languages: str
    native_dimensions: dict[str, int] = field(default_factory=dict, compare=False)


def sentence_transformers_installed() -> bool:
    """True when torch and sentence-transformers can be imported (checked without importing)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers"))


def _all_providers() -> dict[str, ProviderInfo]:
    from core.embedding.providers._openai import DEFAULT_OPENAI_MODEL, OPENAI_MODEL_DIMENSIONS

    return {
        OPENAI: ProviderInfo(
            OPENAI, "OpenAI", tuple(OPENAI_MODEL_DIMENSIONS), DEFAULT_OPENAI_MODEL,
            remote=True, needs_key=True, languages="multilingual",
            native_dimensions=dict(OPENAI_MODEL_DIMENSIONS),
        ),
        USE_MULTILINGUAL: ProviderInfo(
            USE_MULTILINGUAL, "Universal Sentence Encoder multilingual (offline)", (USE_MODEL,),
            USE_MODEL, remote=False, needs_key=False, languages="multilingual",
            native_dimensions={USE_MODEL: USE_DIMENSION},
        ),
        SENTENCE_TRANSFORMERS: ProviderInfo(
            SENTENCE_TRANSFORMERS, "sentence-transformers (offline, English)",
            (ST_DEFAULT_MODEL,), ST_DEFAULT_MODEL, remote=False, needs_key=False,
            languages="en", native_dimensions={ST_DEFAULT_MODEL: 384},
        ),
    }  # fmt: skip


def available_providers() -> list[ProviderInfo]:
    """Providers usable in this installation, OpenAI first (whether or not a key is set)."""
    providers = _all_providers()
    if not sentence_transformers_installed():
        del providers[SENTENCE_TRANSFORMERS]
    return list(providers.values())


def provider_info(name: str) -> ProviderInfo:
    """The :class:`ProviderInfo` of ``name``.

    Raises
    ------
    ValueError
        For an unknown provider (the message lists the valid ones) or sentence-transformers when
        it is not installed (the message says how to install it).
    """
    providers = _all_providers()
    if name not in providers:
        raise InvalidInputError(
            f"unknown provider {name!r}; choose one of: {', '.join(PROVIDER_NAMES)}"
        )
    if name == SENTENCE_TRANSFORMERS and not sentence_transformers_installed():
        raise InvalidInputError(_INSTALL_ST)
    return providers[name]


def default_provider(api_key: str | None = None) -> str:
    """``"openai"`` when an API key is configured (argument, environment or ``.env``), else
    ``"use-multilingual"``, which works offline with Chinese and English."""
    from core.embedding.providers._openai import resolve_api_key

    return OPENAI if resolve_api_key(api_key) else USE_MULTILINGUAL


def _choose(provider: str | None, model: str | None, api_key: str | None) -> tuple[str, str]:
    """The provider :func:`get_embedder` builds, and why, in words (logged once per call)."""
    if provider is not None:
        return provider, "the provider was named"
    if model:
        return _provider_for_model(model), f"the provider of model {model!r}"
    chosen = default_provider(api_key)
    if chosen == OPENAI:
        return chosen, "an OpenAI API key was found (argument, OPENAI_API_KEY or .env)"
    return chosen, (
        "no OpenAI API key was found (argument, OPENAI_API_KEY or .env), so the offline model; "
        "set a key to use OpenAI"
    )


def _provider_for_model(model: str) -> str:
    from core.embedding.providers._local import _BUNDLED_ST_MODELS
    from core.embedding.providers._openai import OPENAI_MODEL_DIMENSIONS

    if model in OPENAI_MODEL_DIMENSIONS:
        return OPENAI
    if model == USE_MODEL:
        return USE_MULTILINGUAL
    if model in _BUNDLED_ST_MODELS or Path(model).expanduser().is_dir():
        return SENTENCE_TRANSFORMERS
    known = [*OPENAI_MODEL_DIMENSIONS, USE_MODEL, ST_DEFAULT_MODEL]
    raise InvalidInputError(
        f"unknown model {model!r}; choose one of: {', '.join(known)}, or name the provider "
        "(sentence-transformers also accepts a local model directory)"
    )


def _reject_options(provider: str, options: dict[str, Any], accepted: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidInputError(
            f"option(s) {', '.join(unknown)} do not apply to {provider}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )


def get_embedder(
    provider: str | None = None,
    model: str | None = None,
    dimensions: int | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    **options: Any,
):
    """Build an embedder: a LangChain ``Embeddings`` that is also a ``BatchEmbedder``.

    Parameters
    ----------
    provider : str, optional
        ``"openai"``, ``"use-multilingual"`` or ``"sentence-transformers"``. Default: the
        provider of ``model`` if one is named, else :func:`default_provider`.
    model : str, optional
        Default: the provider's default model.
    dimensions : int, optional
        Shorter vectors (OpenAI text-embedding-3 models only).
    api_key, base_url : str, optional
        OpenAI only (fallbacks: ``OPENAI_API_KEY``/``OPENAI_BASE_URL``, environment or ``.env``);
        ignored by local providers.
    **options
        Provider options: OpenAI ``timeout``, ``tokens_per_minute``, ``cache``,
        ``concurrency``; sentence-transformers ``batch_size``.

    Returns
    -------
    OpenAIEmbedder, UseMultilingualEmbedder or SentenceTransformerEmbedder

    Raises
    ------
    ValueError
        Unknown provider or model (listing the valid ones), ``dimensions`` where unsupported,
        a missing API key for an OpenAI model (saying how to set one), unknown options.
    """
    provider, why = _choose(provider, model, api_key)
    info = provider_info(provider)
    _log.info("Embedding with %s, model %s: %s.", provider, model or info.default_model, why)
    if provider == OPENAI:
        from core.embedding.providers._openai import make_openai_embedder

        return make_openai_embedder(
            model or info.default_model, dimensions, api_key=api_key, base_url=base_url, **options
        )
    native = info.native_dimensions.get(model or info.default_model)
    if dimensions is not None and dimensions != native:
        raise InvalidInputError(
            f"{provider} models have a fixed dimension; dimensions={dimensions} applies only to "
            "OpenAI text-embedding-3 models. Leave it unset."
        )
    if provider == USE_MULTILINGUAL:
        if model not in (None, USE_MODEL):
            raise InvalidInputError(f"unknown model {model!r} for {provider}; choose: {USE_MODEL}")
        _reject_options(provider, options, ())
        from core.embedding.providers._local import UseMultilingualEmbedder

        return UseMultilingualEmbedder()
    _reject_options(provider, options, ("batch_size",))
    from core.embedding.providers._local import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model or info.default_model, **options)


def is_english_only(spec: EmbedderSpec) -> bool:
    """True when the model behind ``spec`` reads English only (poor vectors for Chinese).

    OpenAI and USE models are multilingual. A sentence-transformers model counts as English-only
    unless its name says otherwise (multilingual, LaBSE, bge-m3, chinese, -zh, text2vec, m3e).
    """
    if spec.provider != SENTENCE_TRANSFORMERS:
        return False
    name = spec.model.lower()
    return not any(hint in name for hint in _MULTILINGUAL_HINTS)
