"""The current collection's documents on the Upload page: add uploads to it, find documents
with the metadata filter, select rows and delete them. Each change makes a new collection
version current (the old one's search results, indexes and maps no longer apply)."""

from __future__ import annotations

import streamlit as st

from core.data._collection import Collection
from core.data._formats import EXPORTS
from core.embedding._types import EmbedderSpec
from ui import state
from ui.filters import FilterRefused, check_filter, filter_input

ADD_LABEL = "Add to collection"
ADD_HELP = "Embeds only the texts the current collection does not hold, and adds every document."
# Rows listed at once in the documents table (the filter finds the others).
MAX_ROWS_SHOWN = 1_000


def render_add_choice(current: Collection | None, spec: EmbedderSpec) -> bool:
    """The "add to the current collection" switch; True when the upload is to be added."""
    if current is None:
        return False
    if current.spec != spec:
        st.caption(
            f"To add these documents to the current collection instead of replacing it, choose "
            f"its model in the sidebar ({current.spec.provider} / {current.spec.model})."
        )
        return False
    return st.toggle(
        f"Add to the current collection ({len(current):,} documents) instead of replacing it",
        key="up_add",
    )


def render_add_estimate(current: Collection, texts: list[str]) -> str:
    """What adding would embed; returns the button label."""
    held = set(current.texts)
    new = len({t for t in texts if t not in held and t.strip()})
    st.info(
        f"Adds {len(texts):,} documents to the current {len(current):,}. {new:,} distinct texts "
        "are not in the collection yet: only those are embedded (those this session embedded "
        "before come from its store)."
    )
    return ADD_LABEL


def render_projector_download(collection: Collection) -> None:
    """Download ``vectors.tsv`` + ``metadata.tsv`` (zipped) for the TensorFlow Projector."""
    fmt = EXPORTS["projector"]
    st.download_button(
        "Download for the TensorFlow Projector",
        lambda: fmt.write(collection),
        fmt.filename,
        fmt.mime,
        key="doc_dl_projector",
        help="vectors.tsv and metadata.tsv in a zip: load both at projector.tensorflow.org.",
        icon=":material/download:",
        on_click="ignore",
    )


def render_documents(collection: Collection | None) -> None:
    """The documents table: filter, select rows, delete them."""
    if collection is None:
        st.caption("No collection yet.")
        return
    text = filter_input(collection, key="doc_where")
    try:
        mask = check_filter(collection, text)
    except FilterRefused:
        return
    table = collection.to_frame()
    if mask is not None:
        table = table[mask]
    shown = table.head(MAX_ROWS_SHOWN)
    if len(table) > len(shown):
        st.caption(f"The first {len(shown):,} of {len(table):,} documents; filter to find others.")
    picked = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="doc_table",
    )
    rows = list(picked.selection.rows) if picked is not None else []
    ids = [str(shown["id"].iloc[r]) for r in rows if r < len(shown)]
    render_projector_download(collection)
    label = f"Delete {len(ids):,} selected" if ids else "Delete selected"
    if st.button(label, key="doc_delete", disabled=not ids, icon=":material/delete:"):
        smaller = collection.delete(ids)
        if len(smaller) == 0:
            state.set_collection(None)
            state.flash("info", "Deleted every document; the session has no collection now.")
        else:
            state.set_collection(smaller)
            state.flash("success", f"Deleted {len(ids):,} documents; {len(smaller):,} remain.")
        st.rerun()
