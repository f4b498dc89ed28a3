"""Every session-state key the dashboard uses, with its default, in one place.

Session state is per browser session: a visitor's documents, collection, search results and API
key live here and nowhere else (never in ``st.cache_*``, files, logs or URLs). The one exception
is the visitor's own choice: **Keep on the server** (``ui.kept``) writes a copy of the collection
to disk under a random key that only this session and the page's address hold.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.budget import nbytes_of, process_budget

# Sidebar widgets (rendered on every run by app.py, so their values persist across pages).
PROVIDER = "provider"
MODEL = "model"
DIMENSIONS = "dimensions"
API_KEY = "api_key"  # typed in the sidebar; session only
BASE_URL = "base_url"  # optional OpenAI-compatible endpoint; session only
# The endpoint panel (ui.endpoint): session only, like the key. 0 means "not set".
CUSTOM_MODEL = "custom_model"  # any model name the endpoint serves
EP_DIMENSION = "ep_dimension"
EP_MAX_INPUTS = "ep_max_inputs"
EP_MAX_TOKENS_INPUT = "ep_max_tokens_input"
EP_MAX_TOKENS_REQUEST = "ep_max_tokens_request"
EP_RPM = "ep_rpm"
EP_TPM = "ep_tpm"
EP_AUTO_PREFIX = "ep_auto_prefix"  # True: the model family's prefixes
EP_QUERY_PREFIX = "ep_query_prefix"
EP_DOC_PREFIX = "ep_doc_prefix"
CONNECTION_TEST = "connection_test"  # (fingerprint, ConnectionReport or error text)
BATCH_API_IDS = "batch_api_ids"  # job digest -> Batch API batch id, to resume polling

# Data of this session.
COLLECTION = "collection"  # core.data._collection.Collection, or None
EMBED_SUMMARY = "embed_summary"  # dict shown after an embedding run
EMBED_JOB = "embed_job"  # dict describing the running (or interrupted) job
EMBED_STORE = "embed_store"  # ui.session_store.SessionVectorStore: this session's vectors
REMOTE_EMBEDDER = "remote_embedder"  # (fingerprint, embedder) built with this session's key
SEARCH_RESULT = "search_result"  # dict: queries, query vectors, ids, scores, latency, ...
BENCH_RESULTS = "bench_results"  # dict name -> pandas.DataFrame
BENCH_CONFIG = "bench_config"  # dict of the parameters the results were measured with
SIM_QUERIES = "sim_queries"  # text of the similarity page's query box (None: follow Search)
SEARCH_QUERIES = "search_queries"  # text of the search page's query box
LOADED_SIGNATURE = "loaded_collection_signature"  # the saved-collection upload already loaded
FLASH = "flash"  # (kind, message) shown once after a rerun, e.g. "collection loaded"
EVAL_RESULT = "eval_result"  # core.eval.Comparison of the Evaluate page
# The copy kept on the server (ui.kept). The key is this visitor's: it lives here and in the
# page's own address, nowhere another session reads.
KEPT_TOKEN = "kept_token"  # the key this session keeps its collection under, or None
KEPT_INFO = "kept_info"  # core.services.KeptInfo of that copy
KEPT_OF = "kept_of"  # id() of the collection object the copy was made from
KEPT_NOTICE = "kept_notice"  # (kind, message) of the last restore, shown once
KEPT_DISMISSED = "kept_dismissed"  # a key whose restore offer the visitor dismissed

DEFAULTS: dict[str, Any] = {
    BASE_URL: "",
    CUSTOM_MODEL: "",
    EP_DIMENSION: 0,
    EP_MAX_INPUTS: 0,
    EP_MAX_TOKENS_INPUT: 0,
    EP_MAX_TOKENS_REQUEST: 0,
    EP_RPM: 0,
    EP_TPM: 0,
    EP_AUTO_PREFIX: True,
    EP_QUERY_PREFIX: "",
    EP_DOC_PREFIX: "",
    CONNECTION_TEST: None,
    API_KEY: "",
    COLLECTION: None,
    EMBED_SUMMARY: None,
    EMBED_JOB: None,
    REMOTE_EMBEDDER: None,
    SEARCH_RESULT: None,
    BENCH_RESULTS: {},
    BENCH_CONFIG: None,
    FLASH: None,
    SEARCH_QUERIES: "",
    SIM_QUERIES: None,
    EVAL_RESULT: None,
    KEPT_TOKEN: None,
    KEPT_INFO: None,
    KEPT_OF: None,
    KEPT_NOTICE: None,
    KEPT_DISMISSED: None,
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
    """Make ``new`` the current collection; results computed on the old one no longer apply.

    Raises
    ------
    core.errors.BudgetExceededError
        The app's memory, shared by every session, cannot hold it (see ``ui.budget``).
    """
    if new is not None:
        old = st.session_state.get(COLLECTION)
        process_budget().admit(new, nbytes_of(new), "this collection", replacing=old)
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


def bind(key: str) -> str:
    """The widget key for persistent state ``key``, primed with the stored value.

    A widget's own state belongs to the page that draws it and is dropped when the visitor
    opens another page. The value lives under ``key`` (plain session state, kept across pages),
    is copied into the widget before it is drawn, and back by :func:`store` when it changes —
    pass ``on_change=store, args=(key,)`` (in a form: on the submit button).
    """
    widget_key = f"w_{key}"
    st.session_state[widget_key] = st.session_state.get(key, DEFAULTS.get(key))
    return widget_key


def store(key: str) -> None:
    """Copy the widget's value (see :func:`bind`) into the persistent key."""
    st.session_state[key] = st.session_state[f"w_{key}"]
