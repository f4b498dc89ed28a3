"""Cache wrappers: what is shared between sessions, what is per session, and why.

Shared (``st.cache_resource`` / ``st.cache_data``, global): only things that hold no visitor's
data — local models (loaded once per process) and the vectors of the built-in sample corpus.
Their arguments are provider and model names only: never an API key, never uploaded text.

Per session: the OpenAI embedder (it holds the session's key) lives in session state, vectors in
this session's :class:`~ui.session_store.SessionVectorStore`, and structures derived from the
session's collection (projection, near-duplicate pairs) in session-scoped caches keyed by the
collection's content hash — so a rerun never rebuilds them, and another session can never read
them. The memory-mode indexes live on the collection itself (``Collection.index``), which is in
this session's state: an edited collection carries them on without re-encoding.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import numpy as np
import streamlit as st

from core.data._sample import sample_texts
from core.embedding._batching import embed_texts
from core.embedding._types import EmbedderSpec
from core.embedding.providers import get_embedder, provider_info, resolve_prefixes
from core.embedding.providers._endpoints import public_only_http_client
from core.embedding.providers._openai import DEFAULT_TIMEOUT_S
from core.errors import EndpointRefusedError, MissingAPIKeyError
from core.viz._projection import Projection, fit_projection
from ui import state
from ui.budget import process_budget
from ui.endpoint import custom_model, endpoint_options, prefixes_for
from ui.secrets import credentials
from ui.session_store import SessionVectorStore

# Sent as the bearer token to a visitor's own endpoint when the visitor typed no key (servers
# that need no key ignore it; the operator's key is never sent there).
NO_KEY = "no-key"


# One "missing key" error for the whole project; pages catch it to show its message.
MissingKeyError = MissingAPIKeyError


@st.cache_resource(show_spinner="Loading the embedding model…", max_entries=4)
def local_embedder(provider: str, model: str, dimensions: int | None):
    """A local (offline) model's embedder, loaded once and shared by every session.

    The weights load lazily on first use; one tiny warm-up call loads them here, under the
    spinner, instead of inside the first embedding job's timing.
    """
    embedder = get_embedder(provider=provider, model=model, dimensions=dimensions)
    embedder.embed_batch(["warm-up"])
    return embedder


def embedder_for(spec: EmbedderSpec):
    """The embedder for ``spec``: shared for local models, per session for remote ones.

    Raises
    ------
    MissingKeyError
        The provider needs a key and none is in the sidebar, secrets or environment.
    """
    info = provider_info(spec.provider)
    if not info.remote:
        return local_embedder(spec.provider, spec.model, spec.dimensions)
    try:
        creds = credentials()
    except EndpointRefusedError as exc:
        raise MissingKeyError(f"The Base URL in the sidebar is refused: {exc}.") from exc
    key = creds.api_key
    if info.needs_key and not key and not creds.visitor_endpoint:
        raise MissingKeyError(
            f"{info.label} needs an API key: paste one in the sidebar (kept only in this browser "
            "session), set OPENAI_API_KEY in .streamlit/secrets.toml or the environment, or "
            "choose the offline provider."
        )
    # A visitor's own endpoint without a typed key gets a placeholder, never the operator's key
    # (the client would otherwise fall back to OPENAI_API_KEY from the environment).
    key = key or NO_KEY
    base_url = creds.base_url
    extra = endpoint_options()  # limits and rates typed in the endpoint panel
    fingerprint = (
        spec.key, spec.query_prefix, spec.document_prefix, tuple(sorted(extra.items())),
        hashlib.sha256(key.encode()).hexdigest(), base_url, creds.policy,
    )  # fmt: skip
    held = st.session_state.get(state.REMOTE_EMBEDDER)
    if held is not None and held[0] == fingerprint:
        return held[1]
    options = {}
    if creds.visitor_endpoint and creds.policy == "public":
        # Checked again on every connection (DNS may change), no redirects followed.
        options["http_client"] = public_only_http_client(DEFAULT_TIMEOUT_S)
    embedder = get_embedder(
        provider=spec.provider,
        model=spec.model,
        dimensions=spec.dimensions,
        api_key=key,
        base_url=base_url,
        cache=None,  # never the shared disk cache: this session's store is passed per job
        query_prefix=spec.query_prefix,
        document_prefix=spec.document_prefix,
        **extra,
        **options,
    )
    st.session_state[state.REMOTE_EMBEDDER] = (fingerprint, embedder)
    return embedder


def current_spec() -> EmbedderSpec:
    """The provider, model, dimensions and prefixes chosen in the sidebar (a model name typed
    in the endpoint panel replaces the chosen one for OpenAI)."""
    provider = st.session_state[state.PROVIDER]
    model, dimensions = st.session_state[state.MODEL], st.session_state.get(state.DIMENSIONS)
    if provider == "openai" and custom_model():
        model, dimensions = custom_model(), None
    prefixes = prefixes_for(model) if provider == "openai" else resolve_prefixes(model)
    return EmbedderSpec(provider, model, dimensions, prefixes.query, prefixes.document)


def pricing_embedder(spec: EmbedderSpec):
    """An embedder that can count and price ``spec``'s texts but holds no key (never sends):
    the Upload page's estimate before a key is pasted. None for local providers."""
    if spec.provider != "openai":
        return None
    try:
        return get_embedder(
            provider=spec.provider, model=spec.model, dimensions=spec.dimensions, api_key=None,
            require_key=False, cache=None,
        )  # fmt: skip
    except ValueError:  # a custom model without a usable endpoint: nothing to price
        return None


def session_store() -> SessionVectorStore:
    """This session's vector store (created on first use)."""
    store = st.session_state.get(state.EMBED_STORE)
    if store is None:
        store = st.session_state[state.EMBED_STORE] = SessionVectorStore(on_grow=_admit_vectors)
    return store


def _admit_vectors(store: SessionVectorStore, extra: int) -> None:
    """The whole process's memory budget, before a session's store grows (see ui.budget)."""
    process_budget().admit(store, extra, "embedding these texts")


@st.cache_data(show_spinner=False, max_entries=4, ttl=timedelta(days=1))
def sample_vectors(provider: str, model: str, dimensions: int | None) -> np.ndarray:
    """Vectors of the built-in sample corpus for a local model: public data, shared."""
    embedder = local_embedder(provider, model, dimensions)
    return embed_texts(sample_texts(), embedder, cache=None).vectors


@st.cache_data(scope="session", show_spinner=False, max_entries=4)
def projection(content_hash: str, method: str, _embeddings: np.ndarray) -> Projection:
    """The fitted 2-D projection of this session's collection (keyed by its content hash)."""
    return fit_projection(_embeddings, method)
