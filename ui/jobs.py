"""Embedding jobs as the pages run them: progress per batch, Stop, and a summary afterwards.

Stop works the Streamlit way. Clicking any widget while the script runs asks for a rerun; with
``runner.fastReruns`` the running script is interrupted at its next UI call — here the progress
bar update inside the batch engine's progress callback. An exception raised by that callback
cancels the job after the in-flight requests finish, and every finished batch is already in
this session's vector store, so pressing Embed again resumes from there. The job's record in
session state says how far it got, so the rerun can tell the visitor what was kept.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.data import Collection
from core.embedding import EmbeddingResult, Progress, embed_texts
from core.errors import EmbeddingJobError
from core.services import EmbedSummary, embed_collection
from ui import state
from ui.cache import session_store


def run_embedding(
    texts: Sequence[str],
    metadata: pd.DataFrame | None,
    embedder,
    *,
    batch_size: int | None = None,
    concurrency: int | None = None,
    label: str = "Embedding",
    batch_api: bool = False,
    add_to: Collection | None = None,
) -> tuple[Collection, EmbedSummary]:
    """Embed ``texts`` with live progress (:func:`core.services.embed_collection`); make them
    this session's collection (through the Batch API first when ``batch_api``), or with
    ``add_to`` add them to that collection: only texts it does not hold are embedded.

    Returns
    -------
    (Collection, EmbedSummary)
    """
    texts = list(texts)
    job = {"total": len(texts), "done": 0, "batches": 0, "n_batches": None, "label": label}
    st.session_state[state.EMBED_JOB] = job
    bar = st.progress(0.0, text=f"{label}: preparing {len(texts):,} texts…")
    started = time.perf_counter()

    def on_progress(p: Progress) -> None:
        job.update(done=p.texts_done, batches=p.batch_index, n_batches=p.n_batches)
        eta = "" if p.eta_s is None else f", about {p.eta_s:,.0f} s left"
        eta = f" · {p.note}" if p.note else eta  # a retry wait (Stop ends it at once)
        bar.progress(
            min(1.0, p.fraction),
            text=f"{label}: batch {p.batch_index}/{p.n_batches} · "
            f"{p.texts_done:,}/{p.texts_total:,} texts{eta}",
        )

    try:
        if batch_api:  # the Batch API first; the normal path assembles and does the rest
            from ui.batch_api import run_in_session

            run_in_session(texts, embedder, bar, label, session_store())
        outcome = embed_collection(
            texts,
            metadata,
            embedder,
            batch_size=batch_size,
            concurrency=concurrency,
            cache=session_store(),
            progress=on_progress,
            add_to=add_to,
        )
    except EmbeddingJobError:
        # A provider error, not a Stop: the message says what was kept; no "stopped" notice,
        # and no progress bar left behind above the caller's error message.
        st.session_state[state.EMBED_JOB] = None
        bar.empty()
        raise
    bar.progress(1.0, text=f"{label}: done in {time.perf_counter() - started:,.1f} s")
    collection, summary = outcome.collection, outcome.summary
    st.session_state[state.EMBED_JOB] = None
    state.set_collection(collection)
    st.session_state[state.EMBED_SUMMARY] = summary
    return collection, summary


def interrupted_job() -> dict | None:
    """The record of a job that a Stop (or any click) interrupted, or None."""
    return st.session_state.get(state.EMBED_JOB)


# Labels of the Embed button when pressing it would change nothing: it is drawn disabled.
UP_TO_DATE_LABEL = "Collection up to date"
NOTHING_TO_EMBED_LABEL = "Nothing to embed"
IDLE_LABELS = frozenset({UP_TO_DATE_LABEL, NOTHING_TO_EMBED_LABEL})

_STOP_HELP = "Stops after the current batch; the finished ones are kept. Active while a job runs."


def render_job_buttons(
    ready: bool, label: str = "Embed", help: str | None = None
) -> tuple[bool, DeltaGenerator]:
    """The Embed and Stop buttons, and the notice of a stopped job.

    Stop is enabled only in the run that starts a job (the one where Embed was clicked): that
    run is the one a click on Stop interrupts. A label in :data:`IDLE_LABELS` (nothing would
    change) draws Embed disabled. Returns ``(start the job now, Stop's slot)``; after a job
    that fails, pass the slot to :func:`disable_stop`.
    """
    ready = ready and label not in IDLE_LABELS
    row = st.container(horizontal=True)
    clicked = row.button(label, type="primary", key="up_embed", disabled=not ready, help=help)
    start = clicked and ready
    slot = row.empty()
    slot.button("Stop", key="up_stop", disabled=not start, help=_STOP_HELP)
    job = interrupted_job()
    if job is not None and not clicked:
        st.warning(
            f"Stopped after {job['done']:,} of {job['total']:,} texts. The finished batches are "
            "kept in this session: press **Embed** to resume — only the rest is embedded."
        )
    return start, slot


def disable_stop(slot: DeltaGenerator) -> None:
    """Redraw Stop disabled once the job it could stop is over (a run that did not rerun)."""
    slot.button("Stop", key="up_stop_idle", disabled=True, help=_STOP_HELP)


def embed_queries(queries: Sequence[str], embedder) -> EmbeddingResult:
    """Embed queries through this session's store (a query embedded before is not sent again).

    Returns the whole :class:`~core.embedding._batching.EmbeddingResult`: ``.vectors`` (float32
    (n_queries, dim)) and ``.n_cached`` (queries served from the store), for the Search and
    Similarity pages alike.
    """
    return embed_texts(list(queries), embedder, cache=session_store(), role="query")
