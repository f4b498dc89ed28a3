"""Every session-state key the dashboard uses, with its default, in one place.

Session state is per browser session: a visitor's documents, collection, search results and API
key live here and nowhere else (never in ``st.cache_*``, files, logs or URLs).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

# Sidebar widgets (rendered on every run by app.py, so their values persist across pages).
PROVIDER = "provider"
MODEL = "model"
DIMENSIONS = "dimensions"
API_KEY = "api_key"  # typed in the sidebar; session only
BASE_URL = "base_url"  # optional OpenAI-compatible endpoint; session only

# Data of this session.
DOCUMENTS = "documents"  # core.parsing.ParsedDocuments waiting to be embedded
UPLOAD_ERRORS = "upload_errors"  # list of str, one per rejected file
COLLECTION = "collection"  # core.collection.Collection, or None
EMBED_SUMMARY = "embed_summary"  # dict shown after an embedding run
EMBED_JOB = "embed_job"  # dict describing the running (or interrupted) job
EMBED_STORE = "embed_store"  # ui.session_store.SessionVectorStore: this session's vectors
REMOTE_EMBEDDER = "remote_embedder"  # (fingerprint, embedder) built with this session's key
SEARCH_RESULT = "search_result"  # dict: queries, query vectors, ids, scores, latency, ...
BENCH_RESULTS = "bench_results"  # dict name -> pandas.DataFrame
BENCH_CONFIG = "bench_config"  # dict of the parameters the results were measured with
SIM_QUERIES = "sim_queries"  # text of the similarity page's query box
FLASH = "flash"  # (kind, message) shown once after a rerun, e.g. "collection loaded"

DEFAULTS: dict[str, Any] = {
    BASE_URL: "",
    API_KEY: "",
    DOCUMENTS: None,
    UPLOAD_ERRORS: [],
    COLLECTION: None,
    EMBED_SUMMARY: None,
    EMBED_JOB: None,
    REMOTE_EMBEDDER: None,
    SEARCH_RESULT: None,
    BENCH_RESULTS: {},
    BENCH_CONFIG: None,
    FLASH: None,
}


def init_state() -> None:
    """Set every missing key to a fresh copy of its default (mutable defaults are not shared)."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if isinstance(value, dict | list) else value


def get(key: str) -> Any:
    """The value of ``key``, or its default when the key is not set yet."""
    return st.session_state.get(key, DEFAULTS.get(key))


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


def collection():
    """The session's current collection, or None."""
    return st.session_state.get(COLLECTION)


def set_collection(new) -> None:
    """Make ``new`` the current collection; results computed on the old one no longer apply."""
    st.session_state[COLLECTION] = new
    st.session_state[SEARCH_RESULT] = None
    st.session_state[EMBED_JOB] = None


def flash(kind: str, message: str) -> None:
    """Show ``message`` (``kind``: "success", "info", "warning") once, after the next rerun."""
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    """Draw and forget the pending flash message, if any."""
    pending = st.session_state.get(FLASH)
    if pending:
        st.session_state[FLASH] = None
        kind, message = pending
        getattr(st, kind)(message)
