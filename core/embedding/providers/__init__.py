"""Embedding providers: which exist here, which is the default, and one factory for all.

===========================  =========================================  =======  =============
provider                     models                                     offline  languages
===========================  =========================================  =======  =============
``openai``                   text-embedding-3-small/-large, ada-002;    no       multilingual
                             any name on an OpenAI-compatible server
``use-multilingual``         universal-sentence-encoder-multilingual-3  yes      multilingual
``sentence-transformers``    all-MiniLM-L6-v2 (bundled), any local one  yes      en
===========================  =========================================  =======  =============

With a base URL (``base_url=``, ``OPENAI_BASE_URL``) ``openai`` takes any model name: its
dimension is learnt from the server or stated (``dimension=``), its limits default to safe
ones, known model families get their query/document prefixes (:func:`default_prefixes`), and
:func:`check_connection` shows what a server answers. :func:`embedder_for_collection` rebuilds
a saved collection's embedder (model, dimension, prefixes) for its queries.

``sentence-transformers`` is listed only when torch and sentence-transformers are installed
(``requirements-st.txt``); nothing here imports torch, openai or a model until an embedder is
asked for. Every embedder is both a LangChain ``Embeddings`` and a
:class:`~core.embedding._types.BatchEmbedder`.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.embedding._types import EmbedderSpec
from core.embedding.providers._connection import ConnectionReport, check_connection
from core.embedding.providers._local import (
    ST_DEFAULT_MODEL,
    ST_PROVIDER,
    USE_DIMENSION,
    USE_MODEL,
    USE_PROVIDER,
)
from core.embedding.providers._prefixes import Prefixes, default_prefixes, resolve_prefixes
from core.errors import InvalidInputError

__all__ = [
    "OPENAI",
    "PROVIDER_NAMES",
    "SENTENCE_TRANSFORMERS",
    "USE_MULTILINGUAL",
    "ConnectionReport",
    "Prefixes",
    "ProviderInfo",
    "available_providers",
    "check_connection",
    "default_prefixes",
    "default_provider",
    "embedder_for_collection",
    "get_embedder",
    "is_english_only",
    "provider_info",
    "resolve_prefixes",
    "resolve_provider",
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


def _choose(
    provider: str | None, model: str | None, api_key: str | None, base_url: str | None
) -> tuple[str, str]:
    """The provider :func:`get_embedder` builds, and why, in words (logged once per call)."""
    if provider is not None:
        return provider, "the provider was named"
    if model:
        return _provider_for_model(model, base_url), f"the provider of model {model!r}"
    chosen = default_provider(api_key)
    if chosen == OPENAI:
        return chosen, "an OpenAI API key was found (argument, OPENAI_API_KEY or .env)"
    return chosen, (
        "no OpenAI API key was found (argument, OPENAI_API_KEY or .env), so the offline model; "
        "set a key to use OpenAI"
    )


def _provider_for_model(model: str, base_url: str | None = None) -> str:
    from core.embedding.providers._local import _BUNDLED_ST_MODELS
    from core.embedding.providers._openai import OPENAI_MODEL_DIMENSIONS, resolve_base_url

    if model in OPENAI_MODEL_DIMENSIONS:
        return OPENAI
    if model == USE_MODEL:
        return USE_MULTILINGUAL
    if model in _BUNDLED_ST_MODELS or Path(model).expanduser().is_dir():
        return SENTENCE_TRANSFORMERS
    if resolve_base_url(base_url) is not None:
        return OPENAI  # any name an OpenAI-compatible server serves
    known = [*OPENAI_MODEL_DIMENSIONS, USE_MODEL, ST_DEFAULT_MODEL]
    raise InvalidInputError(
        f"unknown model {model!r}; choose one of: {', '.join(known)}, or name the provider "
        "(sentence-transformers also accepts a local model directory), or set a base URL "
        "(OPENAI_BASE_URL, --base-url, base_url=) for a model an OpenAI-compatible server serves"
    )


def resolve_provider(
    provider: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
) -> str:
    """The provider :func:`get_embedder` would use for these arguments."""
    return _choose(provider, model, api_key, base_url)[0]


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
        Every provider: ``query_prefix`` / ``document_prefix`` (default: the model family's,
        see :func:`default_prefixes`; ``""`` for none) and ``dimension`` (the output dimension,
        checked). OpenAI and compatible servers also: ``max_inputs_per_request``,
        ``max_tokens_per_input``, ``max_tokens_per_request``, ``tokens_per_minute``,
        ``requests_per_minute``, ``encoding_format``, ``timeout``, ``cache``, ``concurrency``,
        ``http_client``, ``require_key``; sentence-transformers ``batch_size``.

    Returns
    -------
    OpenAIEmbedder, UseMultilingualEmbedder or SentenceTransformerEmbedder

    Raises
    ------
    ValueError
        Unknown provider or model (listing the valid ones), ``dimensions`` where unsupported,
        a missing API key for an OpenAI model (saying how to set one), unknown options.
    """
    provider, why = _choose(provider, model, api_key, base_url)
    info = provider_info(provider)
    _log.info("Embedding with %s, model %s: %s.", provider, model or info.default_model, why)
    return _FACTORIES[provider](info, model, dimensions, api_key, base_url, options)


def _openai(info: ProviderInfo, model, dimensions, api_key, base_url, options):
    from core.embedding.providers._openai import make_openai_embedder

    return make_openai_embedder(
        model or info.default_model, dimensions, api_key=api_key, base_url=base_url, **options
    )


def _use_multilingual(info: ProviderInfo, model, dimensions, api_key, base_url, options):
    if model not in (None, USE_MODEL):
        raise InvalidInputError(f"unknown model {model!r} for {info.name}; choose: {USE_MODEL}")

    def build(_options):
        from core.embedding.providers._local import UseMultilingualEmbedder

        return UseMultilingualEmbedder()

    return _build_local(info, model, dimensions, options, (), build)


def _sentence_transformers(info: ProviderInfo, model, dimensions, api_key, base_url, options):
    def build(local_options):
        from core.embedding.providers._local import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model or info.default_model, **local_options)

    return _build_local(info, model, dimensions, options, ("batch_size",), build)


def _build_local(info: ProviderInfo, model, dimensions, options, accepted, build):
    """What every local provider shares: a fixed dimension, its own options, prefixes, and a
    stated dimension checked against the model's."""
    native = info.native_dimensions.get(model or info.default_model)
    if dimensions is not None and dimensions != native:
        raise InvalidInputError(
            f"{info.name} models have a fixed dimension; dimensions={dimensions} applies only "
            "to OpenAI text-embedding-3 models. Leave it unset."
        )
    options = dict(options)
    query_prefix = options.pop("query_prefix", None)
    document_prefix = options.pop("document_prefix", None)
    stated = options.pop("dimension", None)
    _reject_options(info.name, options, accepted)
    embedder = build(options)
    prefixes = resolve_prefixes(embedder.spec.model, query_prefix, document_prefix)
    if prefixes.query or prefixes.document:
        embedder.spec = replace(
            embedder.spec, query_prefix=prefixes.query, document_prefix=prefixes.document
        )
    if stated is not None and int(stated) != embedder.dimension:
        raise InvalidInputError(
            f"{embedder.spec.model} returns {embedder.dimension} dimensions, not {stated}: "
            "this is another model than the one stated"
        )
    return embedder


# The provider registry: name -> factory(info, model, dimensions, api_key, base_url, options).
# A new provider is one module in this package, one ProviderInfo in _all_providers() and one
# entry here.
_FACTORIES = {
    OPENAI: _openai,
    USE_MULTILINGUAL: _use_multilingual,
    SENTENCE_TRANSFORMERS: _sentence_transformers,
}


def embedder_for_collection(
    manifest, *, api_key: str | None = None, base_url: str | None = None, **options: Any
):
    """The embedder that made a saved collection, for its queries: same provider, model,
    ``dimensions``, output dimension (checked, so no probe is sent) and prefixes.

    Parameters
    ----------
    manifest : core.data.Manifest
        ``collection.manifest``.
    api_key, base_url, **options
        As for :func:`get_embedder` (a custom endpoint's base URL is not kept in the manifest).
    """
    spec = manifest.spec
    return get_embedder(
        provider=spec.provider,
        model=spec.model,
        dimensions=spec.dimensions,
        api_key=api_key,
        base_url=base_url,
        dimension=manifest.dimension,
        query_prefix=spec.query_prefix,
        document_prefix=spec.document_prefix,
        **options,
    )


def is_english_only(spec: EmbedderSpec) -> bool:
    """True when the model behind ``spec`` reads English only (poor vectors for Chinese).

    OpenAI and USE models are multilingual. A sentence-transformers model counts as English-only
    unless its name says otherwise (multilingual, LaBSE, bge-m3, chinese, -zh, text2vec, m3e).
    """
    if spec.provider != SENTENCE_TRANSFORMERS:
        return False
    name = spec.model.lower()
    return not any(hint in name for hint in _MULTILINGUAL_HINTS)
