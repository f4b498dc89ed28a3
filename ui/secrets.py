"""Where the OpenAI key and endpoint come from: this session's sidebar, the app's secrets, or the
environment — in that order.

A key typed in the sidebar lives only in ``st.session_state`` (one browser session). It is never
written to disk, logged, put in a URL, or passed to ``st.cache_*`` (whose arguments and results
are shared by every session); the embedder built from it is kept in session state too.
"""

from __future__ import annotations

import os

import streamlit as st

from ui import state

KEY_NAME = "OPENAI_API_KEY"
BASE_URL_NAME = "OPENAI_BASE_URL"


def _from_secrets(name: str) -> str:
    try:
        value = st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml anywhere: an ordinary, keyless deployment
        return ""
    return str(value or "").strip()


def configured_api_key() -> str:
    """The key to use for this session ("" when there is none)."""
    typed = str(st.session_state.get(state.API_KEY) or "").strip()
    return typed or _from_secrets(KEY_NAME) or os.environ.get(KEY_NAME, "").strip()


def key_source() -> str:
    """Where :func:`configured_api_key` found the key: "sidebar", "secrets", "environment", ""."""
    if str(st.session_state.get(state.API_KEY) or "").strip():
        return "sidebar"
    if _from_secrets(KEY_NAME):
        return "secrets"
    if os.environ.get(KEY_NAME, "").strip():
        return "environment"
    return ""


def configured_base_url() -> str | None:
    """An OpenAI-compatible endpoint, or None for api.openai.com."""
    typed = str(st.session_state.get(state.BASE_URL) or "").strip()
    value = typed or _from_secrets(BASE_URL_NAME) or os.environ.get(BASE_URL_NAME, "").strip()
    return value or None
