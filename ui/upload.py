"""Helpers for the Upload & embed page: parse uploads once per change, offer text columns,
and load a saved collection file."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.data._collection import Collection, CollectionError
from core.data._formats import from_bytes, to_npz_bytes, to_parquet_bytes
from core.data._parsing import ParsedDocuments, ParseError, columns_of, parse_files
from core.data._readers import COMMON_ENCODINGS
from core.embedding._pricing import CostEstimate, estimate_cost
from core.embedding._types import EmbedderSpec
from core.embedding.providers import ProviderInfo
from core.errors import BudgetExceededError
from core.services import EmbedSummary, download_name
from ui import state
from ui.budget import process_budget
from ui.jobs import NOTHING_TO_EMBED_LABEL, UP_TO_DATE_LABEL
from ui.kept import render_keep
from ui.text import md

UPLOAD_TYPES = ["txt", "md", "csv", "jsonl", "json", "parquet", "pdf"]
AUTO_COLUMN = "(automatic)"
AUTO_ENCODING = "(detect)"
SAME_COLUMN = "(as above)"
EMBED_LABEL = "Embed"
REBUILD_LABEL = "Rebuild collection"  # the Embed button when every text is already embedded
# Tooltips of the Embed button by label (UP_TO_DATE_LABEL and NOTHING_TO_EMBED_LABEL, from
# ui.jobs, draw it disabled: pressing it would change nothing).
BUTTON_HELP = {
    EMBED_LABEL: None,
    REBUILD_LABEL: "Nothing is sent: the collection is built from the vectors this session has.",
    UP_TO_DATE_LABEL: "These texts, from these sources, already are the current collection.",
    NOTHING_TO_EMBED_LABEL: "Every text is blank.",
}


# Session-state key (private to this page's helpers): the documents parse_uploads returned last,
# so render_estimate can compare their sources with the current collection's (the page passes
# it the texts only).
def load_allowance() -> int:
    """Most memory a loaded collection file may take: this session's share of what is free."""
    return process_budget().load_allowance()


def max_upload_bytes() -> int:
    """The per-file limit: ``server.maxUploadSize`` from .streamlit/config.toml, in bytes."""
    return int(st.get_option("server.maxUploadSize")) * 2**20


def signature(files) -> tuple:
    """What identifies a set of uploads: a new upload of the same name is a new file."""
    return tuple((f.file_id, f.name, f.size) for f in files)


@st.cache_resource(scope="session", max_entries=4, show_spinner="Reading the files…")
def _parse(
    sig: tuple,
    _files: list[tuple[str, bytes]],
    split: str,
    text_column: str | None,
    encoding: str | None,
    per_file: tuple,
    chunk_size: int | None,
    chunk_overlap: int,
    max_bytes: int,
) -> ParsedDocuments:
    # Keyed by the upload signature and the options; the bytes (``_files``) are not hashed.
    # cache_resource, not cache_data: nothing is pickled, and the scope is this session only.
    return parse_files(
        _files,
        split=split,
        text_column=text_column,
        encoding=encoding,
        per_file={name: dict(options) for name, options in per_file},
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        max_bytes=max_bytes,
    )


def parse_uploads(
    files, *, split, text_column, encoding, per_file, chunk_size, chunk_overlap
) -> ParsedDocuments:
    """Parse the uploads; a rerun with the same files and options reuses the result.

    Bad files do not stop the others: they are listed in ``errors`` (see
    :func:`core.data._parsing.parse_files`).
    """
    data = [(f.name, f.getvalue()) for f in files]
    parsed = _parse(signature(files), data, split, text_column, encoding, per_file,
                    chunk_size, chunk_overlap, max_upload_bytes())  # fmt: skip
    return parsed


def text_columns(files, encoding: str | None = None) -> list[str]:
    """Column names of the CSV/JSONL uploads, in first-seen order (bad files are skipped here;
    parsing reports them)."""
    seen: dict[str, None] = {}
    for f in files:
        if not f.name.lower().endswith((".csv", ".jsonl", ".json", ".parquet")):
            continue
        try:
            names = columns_of(
                f.name, f.getvalue(), max_bytes=max_upload_bytes(), encoding=encoding
            )
        except ParseError:
            continue  # the same file fails in parse_uploads, which shows the error
        seen.update(dict.fromkeys(names))
    return list(seen)


def load_collection_file(uploaded) -> Collection | None:
    """Load a saved collection once per upload and make it current; None if already loaded.

    Raises
    ------
    core.data._collection.CollectionError
        The file is not a readable, consistent collection (the message names it).
    """
    sig = (uploaded.file_id, uploaded.name, uploaded.size)
    if st.session_state.get(state.LOADED_SIGNATURE) == sig:
        return None
    collection = from_bytes(uploaded.name, uploaded.getvalue(), max_bytes=load_allowance())
    state.set_collection(collection)
    st.session_state[state.EMBED_SUMMARY] = None
    st.session_state[state.LOADED_SIGNATURE] = sig
    return collection


@st.cache_data(scope="session", max_entries=8, show_spinner="Counting tokens…")
def estimate(
    sig: tuple,
    options: tuple,
    spec_key: str,
    n_stored: int,
    _texts,
    _embedder,
    _store,
    batch_api: bool = False,
) -> CostEstimate:
    """Tokens and dollars before running, excluding texts this session already embedded.

    Keyed by the uploads, the parse options, the embedder and the store's size (which changes
    when a stopped job kept some batches).
    """
    return estimate_cost(_texts, _embedder, cache=_store, batch_api=batch_api)


# --- components ---------------------------------------------------------------------------


def render_reading_options(files) -> dict:
    """Widgets for how files become documents; returns ``parse_files`` options."""
    with st.expander("How to read the files", expanded=bool(files)):
        c1, c2, c3 = st.columns(3)
        split = c1.radio(
            "Text / Markdown: one document per",
            ["line", "paragraph", "section", "file"],
            key="up_split",
            format_func=lambda s: "section (Markdown heading + its text)" if s == "section" else s,
        )
        encoding = c1.selectbox(
            "Text encoding",
            [AUTO_ENCODING, *COMMON_ENCODINGS],
            key="up_encoding",
            help="Detected by default (UTF-8, else the most plausible: GBK, Big5, Latin-1…); "
            "a note under the preview says which was used.",
        )
        encoding = None if encoding == AUTO_ENCODING else encoding
        tables = [f for f in files or [] if f.name.lower().endswith((".csv", ".jsonl"))]
        column = c2.selectbox(
            "CSV / JSONL text column",
            [AUTO_COLUMN, *text_columns(tables, encoding)],
            key="up_column",
            help="Automatic picks a column named text, content, body… The others become metadata.",
        )
        per_file = {}
        for f in tables if len(tables) > 1 else []:  # several tables: a column for each
            own = c2.selectbox(
                f"Text column of {f.name}",
                [SAME_COLUMN, *text_columns([f], encoding)],
                key=f"up_column_{f.name}",
            )
            if own != SAME_COLUMN:
                per_file[f.name] = {"text_column": own}
        chunking = c3.checkbox("Cut long documents into chunks", key="up_chunking")
        size = c3.number_input(
            "Chunk size (characters)", 50, 20_000, 1_000, 50, key="up_size", disabled=not chunking
        )
        overlap = c3.number_input(
            "Overlap (characters)", 0, 5_000, 100, 10, key="up_overlap", disabled=not chunking
        )
    return {
        "split": split,
        "encoding": encoding,
        "text_column": None if column == AUTO_COLUMN else column,
        "per_file": tuple((name, tuple(o.items())) for name, o in per_file.items()),
        "chunk_size": int(size) if chunking else None,
        "chunk_overlap": int(overlap) if chunking else 0,
    }


def render_request_options(info: ProviderInfo, embedder) -> tuple[int, int]:
    """Batch size and, for remote providers, concurrency; returns ``(batch_size, concurrency)``."""
    limit = embedder.limits.max_inputs_per_request if embedder else 2048
    c1, c2 = st.columns(2)
    batch_size = c1.number_input(
        "Batch size (texts per request)", 1, limit, min(64, limit), key="up_batch"
    )
    if not info.remote:
        c2.caption(
            "**Concurrency** does not apply: local models run in this process, one batch at a "
            "time on every core."
        )
        return int(batch_size), 1
    concurrency = c2.number_input(
        "Concurrency (requests in flight)",
        1,
        16,
        4,
        key="up_concurrency",
        help="Requests sent at the same time; lower it if the server answers 429 (rate limit).",
    )
    return int(batch_size), int(concurrency)


def holds(
    collection: Collection | None,
    texts: list[str],
    metadata: pd.DataFrame | None,
    spec: EmbedderSpec,
) -> bool:
    """Whether ``collection`` is already ``texts`` with ``metadata`` (sources, lines, chunks),
    embedded with ``spec``: the same texts from other files are another collection.

    ``metadata=None`` stands for none: an empty table of ``len(texts)`` rows.
    """
    if collection is None or collection.spec != spec or collection.texts != texts:
        return False
    if metadata is None:
        metadata = pd.DataFrame(index=range(len(texts)))
    return collection.metadata.reset_index(drop=True).equals(metadata.reset_index(drop=True))


def render_estimate(
    est: CostEstimate,
    texts: list[str],
    spec: EmbedderSpec,
    remote: bool,
    metadata: pd.DataFrame | None,
) -> str:
    """What pressing the button would send and cost, and what it replaces; returns the label
    the button should carry: :data:`EMBED_LABEL`, :data:`REBUILD_LABEL` if nothing is sent, or
    a label that draws it disabled when pressing would change nothing (the texts, with their
    ``metadata``, already are the current collection; every text is blank)."""
    current = state.collection()
    is_current = holds(current, texts, metadata, spec)
    n_blank = sum(1 for t in texts if not t.strip())  # never sent: they get zero vectors
    n_real = len(texts) - n_blank
    blanks = f" {n_blank:,} blank text(s) get zero vectors." if n_blank else ""
    if n_real == 0:
        st.warning(
            f"All {len(texts):,} texts are blank — there is nothing to embed. Check the text "
            "column and the reading options."
        )
        return NOTHING_TO_EMBED_LABEL
    if est.n_texts == 0:
        if is_current:
            st.info(
                f"All {n_real:,} texts are already embedded and are the current collection — "
                f"nothing to send or rebuild.{blanks}"
            )
            st.caption(
                f"**{REBUILD_LABEL}** is off: it would build the same collection again. Upload "
                "other files, or change the reading options or the model, to embed."
            )
            return UP_TO_DATE_LABEL
        st.info(
            f"All {n_real:,} texts are already embedded — nothing to send; **{REBUILD_LABEL}** "
            f"makes them the current collection without any request.{blanks}"
        )
    else:
        if remote:
            rough = " (an estimate)" if est.pricing != "paid" else " (an upper bound)"
            bound = "" if est.exact else rough
            cost = f"{est.tokens:,} tokens{bound} · {est.price_text}"
        else:
            cost = "runs locally: no tokens billed, $0"
        st.info(f"Estimate: {est.n_texts:,} texts to embed · {cost}{blanks and '.' + blanks}")
    if current is not None and not is_current:
        m = current.manifest
        st.caption(
            f"Embedding replaces the current collection ({m.count:,} documents × {m.dimension}, "
            f"{md(m.model)}); download it below first to keep it."
        )
    return REBUILD_LABEL if est.n_texts == 0 else EMBED_LABEL


def render_preview(parsed: ParsedDocuments) -> None:
    """Errors (one per bad file, naming it and the line/row), warnings, and the first rows."""
    for error in parsed.errors:
        st.error(md(error))
    for warning in parsed.warnings:
        st.warning(md(warning))
    if parsed.texts:
        n_files = parsed.metadata["source"].nunique()
        st.write(f"**{len(parsed):,} documents** from {n_files} file(s). Preview:")
        preview = parsed.metadata.head(100).copy()
        preview.insert(0, "text", parsed.texts[:100])
        st.dataframe(preview, hide_index=True, width="stretch", height=220)


def render_summary(summary: EmbedSummary) -> None:
    """Count, shape, dtype, memory, time, throughput and the norm check of the last run."""
    st.success(f"Embedded {summary.count:,} texts with {md(summary.model)}.")
    first, second = st.columns(4), st.columns(4)
    first[0].metric("Count", f"{summary.count:,}")
    first[1].metric("Shape", " × ".join(f"{s:,}" for s in summary.shape))
    first[2].metric("dtype", summary.dtype)
    first[3].metric("Memory", f"{summary.memory_mb:.2f} MB")
    second[0].metric("Time", f"{summary.seconds:.2f} s")
    second[1].metric("Texts/s", f"{summary.texts_per_s:,.0f}")
    norms = "unit ✓" if summary.normalized else "not unit"
    spread = f"{summary.norm_min:.4f} – {summary.norm_max:.4f}"
    second[2].metric("Norms", norms, spread, delta_color="off", delta_arrow="off")
    st.caption(
        f"{summary.requests} request(s), {summary.cached:,} text(s) reused from this "
        f"session, {summary.zero_rows} zero vector(s), {summary.tokens:,} tokens."
    )


def render_save_load(collection: Collection | None) -> None:
    """Keep the collection on the server (``ui.kept``), download it (Parquet or .npz), or load
    a saved one back.

    A loaded collection becomes current and the page reruns, so the sidebar and everything
    above this section show it; the "Loaded …" message is a flash shown after that rerun.
    """
    state.show_flash()
    render_keep(collection)
    if collection is not None:
        row = st.container(horizontal=True)
        row.download_button(
            "Download Parquet",
            lambda: to_parquet_bytes(collection),
            download_name(collection, "collection", "parquet"),
            "application/octet-stream",
            key="up_dl_parquet",
            help="One file with texts, metadata and vectors; pandas, Polars and DuckDB read it.",
            icon=":material/download:",
            on_click="ignore",
        )
        row.download_button(
            "Download .npz",
            lambda: to_npz_bytes(collection),
            download_name(collection, "collection", "npz"),
            "application/octet-stream",
            key="up_dl_npz",
            help="NumPy arrays: vectors, texts, metadata and manifest (np.load, no pickle).",
            icon=":material/download:",
            on_click="ignore",
        )
    saved = st.file_uploader(
        "Load a saved collection (.parquet or .npz)",
        type=["parquet", "npz"],
        key="up_saved",
        help=f"Up to {max_upload_bytes() // 2**20} MB per file.",
    )
    if saved is None:
        return
    try:
        loaded = load_collection_file(saved)
    except (CollectionError, BudgetExceededError) as exc:
        st.error(md(exc))
        return
    if loaded is not None:
        m = loaded.manifest
        text = f"Loaded {md(saved.name)}: {m.count:,} documents × {m.dimension} ({md(m.model)})."
        state.flash("success", text)
        st.rerun()  # redraw the sidebar and the page with the loaded collection
