"""The sidebar's OpenAI-compatible endpoint panel: base URL, any model name, the endpoint's
limits and prefixes, and "Test connection".

Everything typed here lives in this browser session only, like the key (``ui.state``). The
security rule of :mod:`ui.secrets` holds for every request made from here, Test connection
included: the embedder comes from :func:`ui.cache.embedder_for`, so a typed Base URL is used
only with a typed key and must pass the operator's endpoint policy.
"""

from __future__ import annotations

import streamlit as st

from core.embedding.providers import check_connection, resolve_prefixes
from core.errors import WorkbenchError
from ui import state

# Panel field -> get_embedder option; 0 in a field means "not set" (the endpoint's default).
_NUMBER_OPTIONS = {
    state.EP_DIMENSION: "dimension",
    state.EP_MAX_INPUTS: "max_inputs_per_request",
    state.EP_MAX_TOKENS_INPUT: "max_tokens_per_input",
    state.EP_MAX_TOKENS_REQUEST: "max_tokens_per_request",
    state.EP_RPM: "requests_per_minute",
    state.EP_TPM: "tokens_per_minute",
}
_NUMBER_LABELS = {
    state.EP_DIMENSION: ("Dimension", "The model's output size. 0: ask the server."),
    state.EP_MAX_INPUTS: ("Max texts / request", "0: OpenAI's 2,048, or 32 for other models."),
    state.EP_MAX_TOKENS_INPUT: (
        "Max tokens / text",
        "0: 8,191 for OpenAI's models, 512 for others. Longer texts are split (or cut).",
    ),
    state.EP_MAX_TOKENS_REQUEST: ("Max tokens / request", "0: 300,000 for OpenAI, 16,384 else."),
    state.EP_RPM: ("Requests / minute", "Your rate limit; 0: none (or the server's headers)."),
    state.EP_TPM: ("Tokens / minute", "Your rate limit; 0: none (or the server's headers)."),
}


def typed_base_url() -> str:
    return str(st.session_state.get(state.BASE_URL) or "").strip()


def custom_model() -> str:
    """The model name typed in the panel ("" when none, or when no Base URL is typed)."""
    if not typed_base_url():
        return ""
    return str(st.session_state.get(state.CUSTOM_MODEL) or "").strip()


def endpoint_options() -> dict:
    """The ``get_embedder`` options set in the panel (fields left at 0 are not passed)."""
    options = {}
    for key, option in _NUMBER_OPTIONS.items():
        value = int(st.session_state.get(key) or 0)
        if value > 0 and (key != state.EP_DIMENSION or custom_model()):
            options[option] = value
    return options


def prefixes_for(model: str):
    """The prefixes a model gets in this session: its family's, or the ones typed."""
    if st.session_state.get(state.EP_AUTO_PREFIX, True):
        return resolve_prefixes(model)
    return resolve_prefixes(
        model,
        str(st.session_state.get(state.EP_QUERY_PREFIX) or ""),
        str(st.session_state.get(state.EP_DOC_PREFIX) or ""),
    )


def _bound_input(kind, label: str, key: str, **kwargs):
    return kind(label, key=state.bind(key), on_change=state.store, args=(key,), **kwargs)


def render_endpoint_panel(model: str) -> None:
    """Draw the panel (inside the sidebar); ``model`` is the model the session will use."""
    with st.expander("OpenAI-compatible endpoint", expanded=bool(typed_base_url())):
        _bound_input(
            st.text_input, "Base URL", state.BASE_URL, placeholder="https://api.openai.com/v1",
            help="A self-hosted, OpenAI-compatible embeddings server (Ollama, vLLM, TEI, "
            "Infinity, LM Studio…). This session only; it is used only with a key typed above, "
            "never with the app's own key.",
        )  # fmt: skip
        _bound_input(
            st.text_input, "Model name", state.CUSTOM_MODEL, placeholder="nomic-embed-text",
            disabled=not typed_base_url(),
            help="Any model the server serves; used with the Base URL above. Empty: the model "
            "chosen above.",
        )  # fmt: skip
        left, right = st.columns(2)
        for i, (key, (label, tip)) in enumerate(_NUMBER_LABELS.items()):
            column = left if i % 2 == 0 else right
            _bound_input(column.number_input, label, key, min_value=0, step=1, help=tip)
        _bound_input(
            st.checkbox, "The model family's prefixes", state.EP_AUTO_PREFIX,
            help="nomic: search_query: / search_document: · e5: query: / passage: · bge, "
            "mxbai, arctic: an instruction before queries. Stored with the collection.",
        )  # fmt: skip
        if not st.session_state.get(state.EP_AUTO_PREFIX, True):
            _bound_input(st.text_input, "Query prefix", state.EP_QUERY_PREFIX)
            _bound_input(st.text_input, "Document prefix", state.EP_DOC_PREFIX)
        prefixes = prefixes_for(model)
        # Shown as plain text: typed prefixes are never interpreted as Markdown.
        st.text(f"Prefixes for {model}: query {prefixes.query!r} · document {prefixes.document!r}")
        if st.button("Test connection", key="ep_test"):
            _test_connection()
        _show_connection_test()


def _test_connection() -> None:
    from ui import cache

    spec = cache.current_spec()
    try:
        embedder = cache.embedder_for(spec)
        report = check_connection(embedder)
    except (WorkbenchError, ValueError) as exc:
        st.session_state[state.CONNECTION_TEST] = (spec.key, str(exc))
        return
    st.session_state[state.CONNECTION_TEST] = (spec.key, report)


def _show_connection_test() -> None:
    held = st.session_state.get(state.CONNECTION_TEST)
    if held is None:
        return
    _, report = held
    if isinstance(report, str):
        st.error(f"Test connection failed: {report}")
        return
    st.success(
        f"Connected: {report.dimension} dimensions, {report.latency_ms:,.0f} ms for two texts."
    )
    st.text(f"Endpoint: {report.endpoint}\nModel: {report.model}")
    st.text(f"Cosine of the two test texts: {report.cosine:.3f}")
    for note in report.notes:
        st.text(note)
    st.json(report.answer, expanded=False)
