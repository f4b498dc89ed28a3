"""Upload & embed: files in, documents previewed, vectors out — with progress, Stop and resume,
a summary, and the collection to download or load back."""

import streamlit as st

from core.embedding._batching import EmbeddingJobError
from core.embedding._language import language_warning
from core.embedding.providers import provider_info
from ui import cache, state
from ui.documents import ADD_HELP, render_add_choice, render_add_estimate, render_documents
from ui.frame import page_frame
from ui.jobs import disable_stop, render_job_buttons, run_embedding
from ui.upload import (
    BUTTON_HELP,
    EMBED_LABEL,
    UPLOAD_TYPES,
    estimate,
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
)
options = render_reading_options(files)
parsed = None
if files:
    try:
        parsed = parse_uploads(files, **options)
    except ValueError as exc:  # bad options, e.g. an overlap as long as the chunk
        st.error(str(exc))
    else:
        render_preview(parsed)

st.subheader("Embed")
spec = cache.current_spec()
info = provider_info(spec.provider)
native = info.native_dimensions.get(spec.model)
dims = spec.dimensions or (f"native ({native})" if native else "native")
st.caption(
    f"Provider **{info.label}** · model **{spec.model}** · dimensions **{dims}** "
    "(change them in the sidebar)"
)
embedder = None
try:
    embedder = cache.embedder_for(spec)
except cache.MissingKeyError as exc:
    st.warning(str(exc))
batch_size, concurrency = render_request_options(info, embedder)

ready = bool(parsed and parsed.texts and embedder)
label = EMBED_LABEL
adding = render_add_choice(state.collection(), spec)
if ready:
    store = cache.session_store()
    key = (signature(files), tuple(options.items()), spec.key, len(store))
    est = estimate(*key, parsed.texts, embedder, store)
    if adding:
        label = render_add_estimate(state.collection(), parsed.texts)
    else:
        label = render_estimate(est, parsed.texts, spec, info.remote, parsed.metadata)
    if warning := language_warning(parsed.texts, embedder):
        st.warning(warning)

start, stop_slot = render_job_buttons(ready, label, help=BUTTON_HELP.get(label, ADD_HELP))
if start:
    try:
        run_embedding(
            parsed.texts, parsed.metadata, embedder, batch_size=batch_size, concurrency=concurrency,
            add_to=state.collection() if adding else None,
        )  # fmt: skip
    except EmbeddingJobError as exc:
        disable_stop(stop_slot)
        st.error(f"Embedding failed: {exc}")
    else:
        st.rerun()  # redraw the sidebar with the new collection; the summary is kept in state

if summary := state.get(state.EMBED_SUMMARY):
    render_summary(summary)

st.subheader("Documents in the collection")
render_documents(state.collection())

st.subheader("Save or load a collection")
render_save_load(state.collection())
