"""Upload & embed: files in, documents previewed, vectors out — with progress, Stop and resume,
a summary, and the collection to download or load back."""

import streamlit as st

from core.batching import EmbeddingJobError
from core.language import language_warning
from core.providers import provider_info
from ui import cache, state
from ui.frame import page_frame
from ui.jobs import interrupted_job, run_embedding
from ui.upload import (
    UPLOAD_TYPES,
    estimate,
    parse_uploads,
    render_preview,
    render_reading_options,
    render_save_load,
    render_summary,
    signature,
)

page_frame()
st.title("Upload & embed")
files = st.file_uploader(
    "Documents (.txt, .md, .csv, .jsonl, .pdf — several at once)",
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
dims = "native" if spec.dimensions is None else spec.dimensions
st.caption(
    f"Provider **{info.label}** · model **{spec.model}** · dimensions **{dims}** "
    "(change them in the sidebar)"
)
embedder = None
try:
    embedder = cache.embedder_for(spec)
except cache.MissingKeyError as exc:
    st.warning(str(exc))
limit = embedder.limits.max_inputs_per_request if embedder else 2048
c1, c2 = st.columns(2)
batch_size = c1.number_input(
    "Batch size (texts per request)", 1, limit, min(64, limit), key="up_batch"
)
concurrency = c2.number_input(
    "Concurrency (requests in flight)",
    1,
    16,
    4 if info.remote else 1,
    key="up_concurrency",
    disabled=not info.remote,
    help="Local models run one batch at a time, using every core.",
)

ready = bool(parsed and parsed.texts and embedder)
if ready:
    store = cache.session_store()
    key = (signature(files), tuple(options.items()), spec.key, len(store))
    est = estimate(*key, parsed.texts, embedder, store)
    if info.remote:
        bound = "" if est.exact else " (an upper bound)"
        cost = f"{est.tokens:,} tokens{bound} · ${est.usd:,.4f}"
    else:
        cost = "runs locally: no tokens billed, $0"
    st.info(f"Estimate: {est.n_texts:,} texts to embed · {cost}")
    if warning := language_warning(parsed.texts, embedder):
        st.warning(warning)

b1, b2, _ = st.columns([1, 1, 4])
embed_clicked = b1.button("Embed", type="primary", key="up_embed", disabled=not ready)
b2.button("Stop", key="up_stop", help="Stops after the current batch; finished ones are kept.")
job = interrupted_job()
if job is not None and not embed_clicked:
    st.warning(
        f"Stopped after {job['done']:,} of {job['total']:,} texts. The finished batches are kept "
        "in this session: press **Embed** to resume — only the rest is embedded."
    )
if embed_clicked and ready:
    try:
        run_embedding(
            parsed.texts,
            parsed.metadata,
            embedder,
            batch_size=int(batch_size),
            concurrency=int(concurrency),
        )
    except EmbeddingJobError as exc:
        st.error(f"Embedding failed: {exc}")
    else:
        st.rerun()  # redraw the sidebar with the new collection; the summary is kept in state

if summary := state.get(state.EMBED_SUMMARY):
    render_summary(summary)

st.subheader("Save or load a collection")
render_save_load(state.collection())
