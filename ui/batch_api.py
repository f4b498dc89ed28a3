"""The Upload page's Batch API choice: about half the price for a large upload, results when
the batch completes (minutes on a quiet account, up to 24 h at OpenAI).

The batch id is kept in this session (``ui.state.BATCH_API_IDS``), so pressing Embed again after
a Stop, or after the page was left, polls the same batch instead of paying twice. Failed or
expired lines go through the normal path afterwards, like every other job.
"""

from __future__ import annotations

import streamlit as st

from core.embedding.providers._batch_api import run_batch_api
from core.errors import EmbeddingJobError, ProviderError
from ui import state

POLL_S = 2.0


def render_batch_api_choice(provider: str, n_texts: int) -> bool:
    """A checkbox for OpenAI jobs; returns whether the Batch API is chosen."""
    if provider != "openai":
        return False
    return st.checkbox(
        "Use the Batch API (about half the price; for large uploads)",
        key="up_batch_api",
        help="The texts are sent as one batch job. OpenAI finishes it within 24 hours (often "
        "much sooner); keep this page open while it is polled. Stop and press Embed again to "
        f"resume the same batch. {n_texts:,} text(s) in this upload.",
    )


def run_in_session(texts: list[str], embedder, bar, label: str, store) -> None:
    """Send what the session's store lacks through the Batch API, with progress on ``bar``."""
    saved = st.session_state.setdefault(state.BATCH_API_IDS, {})

    def on_poll(p) -> None:
        done = p.completed + p.failed
        fraction = done / p.total if p.total else 0.0
        bar.progress(
            min(1.0, fraction),
            text=f"{label}: Batch API {p.status} · {done:,}/{p.total:,} requests "
            f"· {p.elapsed_s:,.0f} s",
        )

    try:
        run_batch_api(texts, embedder, store, state_dir=saved, poll_interval_s=POLL_S,
                      progress=on_poll)  # fmt: skip
    except ProviderError as exc:
        raise EmbeddingJobError(
            f"{exc} — nothing was embedded; the normal path (untick the Batch API) still works.",
            n_done=0,
            n_total=len(texts),
        ) from exc
