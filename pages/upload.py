"""Upload & embed: files in, documents previewed, vectors out — with progress, Stop and resume,
a summary, and the collection to download or load back."""

import streamlit as st

from core.embedding import language_warning
from core.embedding.providers import provider_info
from core.errors import BudgetExceededError, EmbeddingJobError
from ui import cache, state
from ui.batch_api import render_batch_api_choice
from ui.documents import ADD_HELP, render_add_choice, render_add_estimate, render_documents
from ui.frame import page_frame
from ui.jobs import disable_stop, render_job_buttons, run_embedding
from ui.text import md
from ui.upload import (
    BUTTON_HELP,
    EMBED_LABEL,
    UPLOAD_TYPES,
    estimate,
    max_upload_bytes,
    parse_uploads,
    render_estimate,
    render_preview,
    render_reading_options,
    render_request_options,
    render_save_load,
    render_summary,
    signature,
)

page_frame()
st.title("Upload & embed")
files = st.file_uploader(
    "Documents (.txt, .md, .csv, .jsonl, .json, .parquet, .pdf — several at once)",
    type=UPLOAD_TYPES,
    accept_multiple_files=True,
    key="up_files",
    help=f"Up to {max_upload_bytes() // 2**20} MB per file.",
)
st.caption(
    f"Up to {max_upload_bytes() // 2**20} MB per file: a larger file is refused by the uploader "
    "(the reason shows under its name) — split it into smaller files."
)
options = render_reading_options(files)
parsed = None
if files:
    try:
        parsed = parse_uploads(files, **options)
    except ValueError as exc:  # bad options, e.g. an overlap as long as the chunk
        st.error(md(exc))
    else:
        render_preview(parsed)

st.subheader("Embed")
spec = cache.current_spec()
info = provider_info(spec.provider)
native = info.native_dimensions.get(spec.model)
dims = spec.dimensions or (f"native ({native})" if native else "native")
st.caption(
    f"Provider **{info.label}** · model **{md(spec.model)}** · dimensions **{dims}** "
    "(change them in the sidebar)"
)
embedder = None
try:
    embedder = cache.embedder_for(spec)
except cache.MissingKeyError as exc:
    st.warning(md(exc))
batch_size, concurrency = render_request_options(info, embedder)
use_batch_api = render_batch_api_choice(spec.provider, len(parsed.texts) if parsed else 0)

ready = bool(parsed and parsed.texts and embedder)
label = EMBED_LABEL
pricer = embedder or cache.pricing_embedder(spec)  # the price shows before a key is pasted
adding = render_add_choice(state.collection(), spec)
if parsed and parsed.texts and pricer:
    store = cache.session_store()
    priced = spec.key + ("|keyless" if embedder is None else "")
    key = (signature(files), tuple(options.items()), priced, len(store))
    est = estimate(*key, parsed.texts, pricer, store, batch_api=use_batch_api)
    if adding:
        label = render_add_estimate(state.collection(), parsed.texts)
    else:
        label = render_estimate(est, parsed.texts, spec, info.remote, parsed.metadata)
    if warning := language_warning(parsed.texts, pricer):
        st.warning(md(warning))

start, stop_slot = render_job_buttons(ready, label, help=BUTTON_HELP.get(label, ADD_HELP))
if start:
    try:
        run_embedding(
            parsed.texts, parsed.metadata, embedder, batch_size=batch_size,
            concurrency=concurrency, batch_api=use_batch_api,
            add_to=state.collection() if adding else None,
        )  # fmt: skip
    except (EmbeddingJobError, BudgetExceededError) as exc:
        disable_stop(stop_slot)
        st.error(f"Embedding failed: {md(exc)}")
    else:
        st.rerun()  # redraw the sidebar with the new collection; the summary is kept in state

if summary := state.get(state.EMBED_SUMMARY):
    render_summary(summary)

st.subheader("Documents in the collection")
render_documents(state.collection())

st.subheader("Save or load a collection")
render_save_load(state.collection())
