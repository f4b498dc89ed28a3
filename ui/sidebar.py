"""The sidebar, drawn on every page: provider, model, dimensions, API key, current collection."""

from __future__ import annotations

import streamlit as st

from core.embedding.providers import available_providers, default_provider
from ui import state
from ui.endpoint import custom_model, render_endpoint_panel
from ui.kept import where_it_lives
from ui.secrets import configured_api_key, key_source
from ui.text import md

# Shorter output sizes the OpenAI text-embedding-3 models accept through ``dimensions``.
_DIMENSION_CHOICES = {
    "text-embedding-3-small": [256, 512, 1024],
    "text-embedding-3-large": [256, 512, 1024, 1536],
}
# The Dimensions box's value for "native" (stored as None). None itself cannot be an option:
# a select box shows None as "no choice", i.e. the empty placeholder.
_NATIVE = 0


def _store_dimensions() -> None:
    value = st.session_state[f"w_{state.DIMENSIONS}"]
    st.session_state[state.DIMENSIONS] = None if value == _NATIVE else value


def render_sidebar() -> None:
    """Draw the sidebar widgets; their values live in session state under ``ui.state`` keys."""
    infos = {info.name: info for info in available_providers()}
    if st.session_state.get(state.PROVIDER) not in infos:
        st.session_state[state.PROVIDER] = default_provider(configured_api_key() or None)
    with st.sidebar:
        st.subheader("Embedding model")
        st.selectbox(
            "Provider",
            list(infos),
            key=state.bind(state.PROVIDER),
            on_change=state.store,
            args=(state.PROVIDER,),
            format_func=lambda name: infos[name].label,
        )
        info = infos[st.session_state[state.PROVIDER]]
        if st.session_state.get(state.MODEL) not in info.models:
            st.session_state[state.MODEL] = info.default_model
        st.selectbox(
            "Model",
            list(info.models),
            key=state.bind(state.MODEL),
            on_change=state.store,
            args=(state.MODEL,),
        )
        shorter = _DIMENSION_CHOICES.get(st.session_state[state.MODEL])
        if shorter:
            if st.session_state.get(state.DIMENSIONS) not in shorter:
                st.session_state[state.DIMENSIONS] = None
            native = info.native_dimensions.get(st.session_state[state.MODEL])
            widget = state.bind(state.DIMENSIONS)
            if st.session_state[widget] is None:
                st.session_state[widget] = _NATIVE
            st.selectbox(
                "Dimensions",
                [_NATIVE, *shorter],
                key=widget,
                on_change=_store_dimensions,
                format_func=lambda d: f"native ({native})" if d == _NATIVE else str(d),
                help="text-embedding-3 models can return shorter vectors: less memory, "
                "slightly lower quality.",
            )
        else:
            st.session_state[state.DIMENSIONS] = None
        st.caption(f"Languages: {info.languages} · {'remote' if info.remote else 'offline'}")
        st.text_input(
            "OpenAI API key",
            key=state.bind(state.API_KEY),
            on_change=state.store,
            args=(state.API_KEY,),
            type="password",
            placeholder="sk-…",
            help="Kept only in this browser session: never written to disk, logs, caches or "
            "URLs. Leave empty to use the app's secrets or the offline model.",
        )
        source = key_source()
        custom = bool(str(st.session_state.get(state.BASE_URL) or "").strip())
        if source == "sidebar":
            st.caption("Using the key typed above (this session only).")
        elif source:
            st.caption(f"Using the key from the app's {source}.")
        elif custom and info.remote:
            st.caption(
                "Custom endpoint: only a key typed above is sent to it (none typed); "
                "the app's own key never is."
            )
        elif info.needs_key:
            st.warning("This provider needs an API key.")
        if info.name == "openai":
            render_endpoint_panel(custom_model() or st.session_state[state.MODEL])
        st.divider()
        collection = state.collection()
        if collection is None:
            st.caption("No collection yet: load the sample on Home, or upload files.")
        else:
            m = collection.manifest
            st.caption(f"Collection: {m.count:,} × {m.dimension} · {md(m.model)}")
            st.caption(where_it_lives(collection))
