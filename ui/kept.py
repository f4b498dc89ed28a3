"""Keep the collection on the server and restore it in one click after a page reload.

A reload starts a new Streamlit session, which holds nothing of the old one. **Keep on the
server** stores the collection (``core.services.KeptCollections``) under a fresh unguessable key
and puts that key in this page's address (``?kept=…``); after a reload the same address brings
the key back, and every page offers **Restore <name> (N documents, saved HH:MM)** at its top.
The key never leaves the visitor's address bar and this session's state; it is not in any
cache another session reads, and the files on the server are named after its hash.

Page navigation drops query parameters, so :func:`render_restore_offer` (called by every page)
puts this session's key back into the address on each run.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from core.embedding._cache import default_cache_dir
from core.errors import BudgetExceededError, CollectionError, InvalidInputError, StorageError
from core.services import KeptCollections, KeptInfo, collection_name
from ui import state
from ui.budget import process_budget
from ui.text import md

QUERY_KEY = "kept"  # the page address parameter that holds the key
KEPT_DIR_ENV = "EMBEDDING_WORKBENCH_KEPT_DIR"
KEPT_MAX_MB_ENV = "EMBEDDING_WORKBENCH_KEPT_MAX_MB"
TTL_S = 24 * 3600
DEFAULT_MAX_TOTAL_MB = 1024
KEEP_LABEL = "Keep on the server for 24 h"
FORGET_LABEL = "Remove the kept copy"


@st.cache_resource(show_spinner=False)
def kept_store() -> KeptCollections:
    """The server's kept collections (one directory for the process; no visitor data here)."""
    root = os.environ.get(KEPT_DIR_ENV, "").strip() or default_cache_dir() / "kept"
    raw = os.environ.get(KEPT_MAX_MB_ENV, "").strip() or str(DEFAULT_MAX_TOTAL_MB)
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInputError(
            f"{KEPT_MAX_MB_ENV}={raw!r}: expected a whole number of megabytes, e.g. 1024"
        )
    max_mb = int(raw)
    return KeptCollections(root, ttl_s=TTL_S, max_total_bytes=max_mb * 2**20)


def _visitor_zone() -> tzinfo:
    try:
        name = st.context.timezone
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError, AttributeError):
        return UTC


def clock_text(timestamp: float) -> str:
    """``14:05`` in the visitor's time zone (``14:05 UTC`` when the browser did not say),
    with the date when it is not today."""
    zone = _visitor_zone()
    when = datetime.fromtimestamp(timestamp, zone)
    text = (
        when.strftime("%H:%M")
        if when.date() == datetime.now(zone).date()
        else (when.strftime("%b %d, %H:%M"))
    )
    return f"{text} UTC" if zone is UTC else text


def restore_label(info: KeptInfo) -> str:
    return f"Restore {md(info.name)} ({info.count:,} documents, saved {clock_text(info.saved_at)})"


# --- callbacks (run before the page, so the sidebar already shows their result) -----------------
def _keep() -> None:
    collection = state.collection()
    if collection is None:
        return
    try:
        token, info = kept_store().keep(
            collection, collection_name(collection), token=state.get(state.KEPT_TOKEN)
        )
    except (BudgetExceededError, StorageError) as exc:
        state.flash("error", md(exc))
        return
    state.put(state.KEPT_TOKEN, token)
    state.put(state.KEPT_INFO, info)
    state.put(state.KEPT_OF, id(collection))
    st.query_params[QUERY_KEY] = token
    state.flash(
        "success",
        f"Kept on the server until {clock_text(info.expires_at)}. This page's address now holds "
        "its private key: after a reload, the same address offers **Restore** at the top of "
        "every page. Anyone you give the address to can restore it too.",
    )


def _forget() -> None:
    token = state.get(state.KEPT_TOKEN)
    if token:
        kept_store().forget(token)
    for key in (state.KEPT_TOKEN, state.KEPT_INFO, state.KEPT_OF):
        state.put(key, None)
    st.query_params.pop(QUERY_KEY, None)
    state.flash("info", "The kept copy was removed from the server; this tab still has it.")


def _restore(token: str) -> None:
    try:
        collection, info = kept_store().load(token, max_bytes=process_budget().load_allowance())
        state.set_collection(collection)
    except (InvalidInputError, CollectionError, BudgetExceededError) as exc:
        state.put(state.KEPT_NOTICE, ("error", md(exc)))
        return
    state.put(state.EMBED_SUMMARY, None)
    state.put(state.KEPT_TOKEN, token)
    state.put(state.KEPT_INFO, info)
    state.put(state.KEPT_OF, id(collection))
    m = collection.manifest
    state.put(
        state.KEPT_NOTICE,
        (
            "success",
            f"Restored {md(info.name)}: {m.count:,} documents × {m.dimension} ({md(m.model)}), "
            f"kept on the server until {clock_text(info.expires_at)}.",
        ),
    )


def _dismiss(token: str) -> None:
    state.put(state.KEPT_DISMISSED, token)
    if st.query_params.get(QUERY_KEY) == token:
        st.query_params.pop(QUERY_KEY, None)


# --- components ------------------------------------------------------------------------------
def render_restore_offer() -> None:
    """At the top of every page: the result of a restore, or the offer to restore what the
    address's key holds, or why it cannot be restored. Puts this session's key back into the
    address when navigation dropped it."""
    own = state.get(state.KEPT_TOKEN)
    in_url = st.query_params.get(QUERY_KEY)
    if notice := state.get(state.KEPT_NOTICE):
        state.put(state.KEPT_NOTICE, None)
        getattr(st, notice[0])(notice[1])
    if own and in_url in (None, own):
        if in_url is None:
            st.query_params[QUERY_KEY] = own
        return
    if not in_url or in_url == state.get(state.KEPT_DISMISSED):
        return
    try:
        info = kept_store().info(in_url)
    except (InvalidInputError, CollectionError) as exc:
        with st.container(border=True, key="kept_problem"):
            st.warning(md(exc))
            st.button("Dismiss", key="kept_dismiss", on_click=_dismiss, args=(in_url,))
        return
    with st.container(border=True, key="kept_offer"):
        replaces = " (it replaces the collection this tab has now)" if state.collection() else ""
        st.info(
            f"A collection is kept on the server under this page's address until "
            f"{clock_text(info.expires_at)}: {md(info.name)}, {info.count:,} documents × "
            f"{info.dimension} ({md(info.model)}).{replaces}",
            icon=":material/cloud_done:",
        )
        row = st.container(horizontal=True)
        row.button(
            restore_label(info), key="kept_restore", type="primary", on_click=_restore,
            args=(in_url,), icon=":material/restore:",
        )  # fmt: skip
        row.button("Not now", key="kept_dismiss", on_click=_dismiss, args=(in_url,))


def where_it_lives(collection) -> str:
    """One sentence for the sidebar: where the current collection lives and until when."""
    info = state.get(state.KEPT_INFO)
    if info is not None and state.get(state.KEPT_OF) == id(collection):
        return (
            f"This tab's session; a copy is kept on the server until {clock_text(info.expires_at)}."
        )
    return "Only in this tab's session: a reload drops it (keep or download it on Upload & embed)."


def render_keep(collection) -> None:
    """Where the collection lives, and the buttons to keep it on the server or remove the copy."""
    info = state.get(state.KEPT_INFO)
    current = info is not None and state.get(state.KEPT_OF) == id(collection)
    if collection is None:
        lives = (
            "A collection lives only in this browser tab's session, in the server's memory: "
            "reloading the page or closing the tab drops it."
        )
    elif current:
        lives = (
            f"This collection lives in this browser tab's session, and a copy is kept on the "
            f"server until **{clock_text(info.expires_at)}** (saved {clock_text(info.saved_at)}) "
            "under a private key in this page's address: after a reload, press **Restore** at "
            "the top of the page."
        )
    elif info is not None:
        lives = (
            f"This collection lives only in this browser tab's session. The copy kept on the "
            f"server ({info.count:,} documents, saved {clock_text(info.saved_at)}) is older: "
            f"**{KEEP_LABEL}** again to replace it."
        )
    else:
        lives = (
            "This collection lives only in this browser tab's session, in the server's memory: "
            f"reloading the page or closing the tab drops it. **{KEEP_LABEL}** stores a copy on "
            "the server under a private key in this page's address (reload or bookmark the "
            "address to restore it)."
        )
    st.caption(
        f":material/info: {lives} **Download** keeps a permanent copy as a file; drop that file "
        "below to load it back."
    )
    if collection is None:
        return
    row = st.container(horizontal=True)
    row.button(
        KEEP_LABEL if not current else "Keep again (restart the 24 h)", key="kept_keep",
        on_click=_keep, icon=":material/cloud_upload:",
        help="Stored under a random key that only this page's address holds; deleted after "
        "24 h. Nobody can list kept collections.",
    )  # fmt: skip
    if info is not None:
        row.button(FORGET_LABEL, key="kept_forget", on_click=_forget, icon=":material/delete:")
