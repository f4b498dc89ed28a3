"""Where the OpenAI key and endpoint come from, and which key may go to which endpoint.

Two sources: this session's sidebar (the visitor) and the app's secrets or environment (the
operator). The rule that keeps the operator's key safe on a shared, hosted app:

- **a Base URL typed in the sidebar is used only with a key typed in the sidebar** — never with
  the operator's key, which would otherwise go to any listener a visitor names; and the URL must
  pass ``check_visitor_endpoint`` (no internal addresses unless the
  operator allows them), so the box cannot make the server call its own network;
- with no typed Base URL, the operator's endpoint (secrets, environment, else api.openai.com)
  is used with the typed key, else the operator's key.

A key typed in the sidebar lives only in ``st.session_state`` (one browser session). It is never
written to disk, logged, put in a URL, or passed to ``st.cache_*`` (whose arguments and results
are shared by every session); the embedder built from it is kept in session state too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from core.embedding.providers._endpoints import POLICY_NAME, check_visitor_endpoint, parse_policy
from ui import state

KEY_NAME = "OPENAI_API_KEY"
BASE_URL_NAME = "OPENAI_BASE_URL"


def _from_secrets(name: str) -> str:
    try:
        value = st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml anywhere: an ordinary, keyless deployment
        return ""
    return str(value or "").strip()


def _operator(name: str) -> str:
    return _from_secrets(name) or os.environ.get(name, "").strip()


def _typed(key: str) -> str:
    return str(st.session_state.get(key) or "").strip()


@dataclass(frozen=True)
class Credentials:
    """The key and endpoint this session may use together.

    ``api_key`` is "" when there is none; ``base_url`` None means api.openai.com;
    ``key_source`` is "sidebar", "secrets", "environment" or ""; ``visitor_endpoint`` is True
    when the Base URL was typed in this session's sidebar.
    """

    api_key: str
    base_url: str | None
    key_source: str
    visitor_endpoint: bool
    policy: str = "public"


def credentials() -> Credentials:
    """This session's key and endpoint, paired by the rule in the module docstring.

    Raises
    ------
    core.embedding.providers._endpoints.EndpointRefusedError
        The typed Base URL is refused by the operator's endpoint policy.
    """
    typed_key = _typed(state.API_KEY)
    typed_url = _typed(state.BASE_URL)
    if typed_url:
        policy = parse_policy(_operator(POLICY_NAME))
        url = check_visitor_endpoint(typed_url, policy)
        return Credentials(typed_key, url, "sidebar" if typed_key else "", True, policy)
    base_url = _operator(BASE_URL_NAME) or None
    if typed_key:
        return Credentials(typed_key, base_url, "sidebar", False)
    if _from_secrets(KEY_NAME):
        return Credentials(_from_secrets(KEY_NAME), base_url, "secrets", False)
    env_key = os.environ.get(KEY_NAME, "").strip()
    return Credentials(env_key, base_url, "environment" if env_key else "", False)


def configured_api_key() -> str:
    """A key this session could use with the operator's endpoint ("" when there is none).

    Only for choosing the default provider; requests take their key from :func:`credentials`.
    """
    return _typed(state.API_KEY) or _operator(KEY_NAME)


def key_source() -> str:
    """Where this session's key comes from under the pairing rule ("" when there is none)."""
    if _typed(state.BASE_URL):
        return "sidebar" if _typed(state.API_KEY) else ""
    if _typed(state.API_KEY):
        return "sidebar"
    if _from_secrets(KEY_NAME):
        return "secrets"
    return "environment" if os.environ.get(KEY_NAME, "").strip() else ""
