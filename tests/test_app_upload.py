"""Upload & embed page: several formats in, a preview, a real embedding run with the offline
model, a summary, search on the result; every kind of bad upload is an error naming the file
and place while the good files are kept; a saved collection loads back."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from core.data._formats import to_npz_bytes, to_parquet_bytes
from tests.app_support import assert_ok, new_app, open_page, shown, texts_on_page
from tests.data.test_parsing import make_pdf

NOTES = "\n".join(
    [
        "The train from Zurich to Milan crosses the Alps through the Gotthard base tunnel.",
        "熊猫主要吃竹子，每天要花十几个小时进食。",
        "A sourdough starter is a mix of flour and water full of wild yeast.",
    ]
).encode("utf-8")
FAQ = (
    b"question,answer,topic\n"
    b'How do I reset my password?,"Open Settings, choose Security and press Reset password.",'
    b"account\n"
    b"Can I pay by invoice?,Yes: business plans can be paid by bank transfer each month.,billing\n"
)
PDF = make_pdf(
    ["Saturn has bright rings made of ice and rock.", "Glaciers are slow rivers of ice."]
)
GOOD = [
    ("notes.txt", NOTES, "text/plain"),
    ("faq.csv", FAQ, "text/csv"),
    ("paper.pdf", PDF, "application/pdf"),
]


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def upload(at, files, text_column: str | None = None):
    """Put ``files`` in the uploader (and choose the CSV/JSONL text column) and rerun."""
    at.file_uploader(key="up_files").set_value(files)
    at.run()
    if text_column is not None:
        at.selectbox(key="up_column").set_value(text_column).run()
    assert_ok(at)
    return at


@pytest.fixture(scope="module")
def embedded():
    """Three formats uploaded (CSV text column chosen), embedded with the offline model."""
    at = open_page(new_app(), "upload")
    upload(at, GOOD, text_column="answer")
    at.button(key="up_embed").click().run()
    assert_ok(at)
    return at


def test_page_renders_without_files():
    at = open_page(new_app(), "upload")
    assert at.title[0].value == "Upload & embed"
    assert at.button(key="up_embed").disabled
    assert at.button(key="up_stop").disabled  # no job runs: nothing to stop
    assert at.file_uploader(key="up_files").accept_multiple_files


def test_concurrency_is_offered_only_for_remote_providers():
    at = open_page(new_app(), "upload")
    assert "up_concurrency" not in [n.key for n in at.number_input]
    assert (
        "**Concurrency** does not apply: local models run in this process, one batch at a time "
        "on every core." in [c.value for c in at.caption]
    )
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    assert_ok(at)
    assert at.number_input(key="up_concurrency").value == 4
    assert "dimensions **native (1536)**" in texts_on_page(at)


def test_preview_counts_documents_of_every_format():
    at = open_page(new_app(), "upload")
    upload(at, GOOD, text_column="answer")
    assert not at.error
    assert "**7 documents** from 3 file(s)" in texts_on_page(at)
    preview = at.dataframe[0].value
    assert set(preview["source"]) == {"notes.txt", "faq.csv", "paper.pdf"}
    assert {"question", "topic"} <= set(preview.columns)  # other CSV columns become metadata
    assert "Estimate: 7 texts to embed" in at.info[0].value
    assert not at.button(key="up_embed").disabled


def test_embedding_summary_shape_dtype_norms(embedded):
    metrics = {m.label: m.value for m in embedded.metric}
    assert metrics["Count"] == "7"
    assert metrics["Shape"] == "7 × 512"
    assert metrics["dtype"] == "float32"
    assert metrics["Norms"] == "unit ✓"
    assert "Embedded 7 texts" in embedded.success[0].value
    collection = embedded.session_state["collection"]
    assert collection.metadata.loc[6, "location"] == "page 2"
    np.testing.assert_allclose(np.linalg.norm(collection.embeddings, axis=1), 1.0, rtol=1e-5)
    buttons = [(b.proto.label, b.proto.help) for b in embedded.get("download_button")]
    assert buttons == [
        (
            "Download for the TensorFlow Projector",
            "vectors.tsv and metadata.tsv in a zip: load both at projector.tensorflow.org.",
        ),
        (
            "Download Parquet",
            "One file with texts, metadata and vectors; pandas, Polars and DuckDB read it.",
        ),
        (
            "Download .npz",
            "NumPy arrays: vectors, texts, metadata and manifest (np.load, no pickle).",
        ),
    ]


def test_after_embedding_nothing_is_left_to_send(embedded):
    assert embedded.info[0].value == (
        "All 7 texts are already embedded and are the current collection — nothing to send or "
        "rebuild."
    )
    assert "Estimate:" not in texts_on_page(embedded)
    # Rebuilding would build the same collection again: the button is off and says why.
    button = embedded.button(key="up_embed")
    assert button.proto.label == "Collection up to date" and button.disabled
    assert button.proto.help == (
        "These texts, from these sources, already are the current collection."
    )
    assert (
        "**Rebuild collection** is off: it would build the same collection again. Upload other "
        "files, or change the reading options or the model, to embed." in texts_on_page(embedded)
    )
    assert embedded.button(key="up_stop").disabled  # the job is over
    assert "Embedding replaces the current collection" not in texts_on_page(embedded)


def test_the_same_texts_from_another_file_rebuild_from_this_sessions_vectors():
    at = open_page(new_app(), "upload")
    upload(at, [GOOD[0]])
    at.button(key="up_embed").click().run()
    assert_ok(at)
    assert "Embedded 3 texts" in at.success[0].value
    upload(at, [("renamed.txt", NOTES, "text/plain")])  # same texts, other source
    assert at.info[0].value == (
        "All 3 texts are already embedded — nothing to send; **Rebuild collection** makes them "
        "the current collection without any request."
    )
    assert "Embedding replaces the current collection (3 documents × 512" in texts_on_page(at)
    button = at.button(key="up_embed")
    assert button.proto.label == "Rebuild collection" and not button.disabled
    assert button.proto.help.startswith("Nothing is sent")
    button.click().run()
    assert_ok(at)
    assert "0 request(s), 3 text(s) reused from this session" in texts_on_page(at)
    assert set(at.session_state["collection"].metadata["source"]) == {"renamed.txt"}
    assert at.button(key="up_embed").disabled  # now they are the current collection


def _estimate_page():
    """render_estimate and the Embed button for texts and a cost estimate put in the state."""
    import streamlit as st

    from core.embedding._pricing import CostEstimate
    from core.embedding._types import EmbedderSpec
    from ui.jobs import render_job_buttons
    from ui.upload import BUTTON_HELP, render_estimate

    texts, to_send = st.session_state["texts"], st.session_state["to_send"]
    est = CostEstimate(0, 0.0, True, "model", to_send)
    label = render_estimate(est, texts, EmbedderSpec("use-multilingual", "model"), False, None)
    render_job_buttons(True, label, help=BUTTON_HELP[label])


@pytest.mark.parametrize(
    ("texts", "to_send", "kind", "message", "enabled"),
    [
        (
            ["", "  ", "\n"],
            0,
            "warning",
            "All 3 texts are blank — there is nothing to embed. Check the text column and the "
            "reading options.",
            False,
        ),
        (
            ["a cat", " ", "a dog"],
            0,
            "info",
            "All 2 texts are already embedded — nothing to send; **Rebuild collection** makes "
            "them the current collection without any request. 1 blank text(s) get zero vectors.",
            True,
        ),
        (
            ["a cat", " "],
            1,
            "info",
            "Estimate: 1 texts to embed · runs locally: no tokens billed, $0. 1 blank text(s) get "
            "zero vectors.",
            True,
        ),
    ],
)
def test_blank_texts_are_counted_apart_from_embedded_ones(texts, to_send, kind, message, enabled):
    at = AppTest.from_function(_estimate_page, default_timeout=60)
    at.session_state["texts"], at.session_state["to_send"] = texts, to_send
    at.run()
    assert_ok(at)
    assert [e.value for e in getattr(at, kind)] == [message]
    assert at.button(key="up_embed").disabled is not enabled


def test_uploaded_documents_are_searchable(embedded):
    at = open_page(embedded, "search")
    at.text_area(key="w_search_queries").set_value(
        "土星的光环是由什么组成的？\nHow can I change my password?"
    )
    at.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(at)
    best = [m.value for m in at.markdown if "Top result" in m.value]
    assert best[0].endswith("Saturn has bright rings made of ice and rock.")
    assert best[1].endswith("Open Settings, choose Security and press Reset password.")
    table = at.dataframe[0].value
    assert table.iloc[0]["source"] == "paper.pdf · page 1"
    open_page(at, "upload")


BAD_UPLOADS = [
    (("empty.txt", b"", "text/plain"), None, "empty.txt: the file is empty"),
    (
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00IHDR", "text/plain"),
        None,
        "image.txt, byte 8: this looks like a binary file",
    ),
    (
        (
            "junk.txt",
            np.random.default_rng(0).integers(1, 256, 3000, np.uint8).tobytes(),
            "text/plain",
        ),
        None,
        "junk.txt, line 1, byte 1: not valid UTF-8 (bytes 82 c2 d9 cf) and no other text",
    ),
    (
        ("other.csv", b"id,body2\n1,x\n", "text/csv"),
        "text",
        "other.csv: there is no column 'text'",
    ),
    (
        ("pick.csv", b"id,title\n1,x\n", "text/csv"),
        None,
        "pick.csv: cannot tell which column holds the text. Available columns: 'id', 'title'. "
        "Choose the text column (the 'CSV / JSONL text column' box under 'How to read the "
        "files').",
    ),
    (
        ("broken.jsonl", b'{"text": "fine"}\n{"text": oops}\n', "application/json"),
        None,
        "broken.jsonl, line 2: broken JSON",
    ),
    (
        ("scan.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"),
        None,
        "scan.pdf: cannot read this PDF",
    ),
]


@pytest.mark.parametrize(("bad", "column", "message"), BAD_UPLOADS, ids=lambda v: str(v)[:24])
def test_bad_upload_names_file_and_place_and_keeps_the_good_ones(bad, column, message):
    good = ("good.csv", b"text,id\nA good line of text.,1\nAnother good line.,2\n", "text/csv")
    at = open_page(new_app(), "upload")
    upload(at, [good, bad], text_column=column)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(message), errors
    assert "**2 documents** from 1 file(s)" in texts_on_page(at)
    assert set(at.dataframe[0].value["source"]) == {"good.csv"}
    assert not at.button(key="up_embed").disabled
    # Errors about the text column name the box the visitor can use.
    assert at.selectbox(key="up_column").label == "CSV / JSONL text column"


def test_too_large_file_is_refused_by_the_configured_limit():
    previous = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        at = open_page(new_app(), "upload")
        upload(at, [("big.txt", b"line\n" * 230_000, "text/plain"), GOOD[0]])
    finally:
        config.set_option("server.maxUploadSize", previous)
    assert at.error[0].value.startswith("big.txt: the file is 1.1 MB; the limit is 1.0 MB")
    assert "**3 documents** from 1 file(s)" in texts_on_page(at)


def test_bad_chunk_options_are_an_error():
    at = open_page(new_app(), "upload")
    upload(at, [GOOD[0]])
    at.checkbox(key="up_chunking").check().run()
    at.number_input(key="up_size").set_value(50)
    at.number_input(key="up_overlap").set_value(60).run()
    assert_ok(at)
    assert "overlap" in at.error[0].value


def test_chunking_cuts_long_documents():
    at = open_page(new_app(), "upload")
    upload(at, [GOOD[0]])
    at.checkbox(key="up_chunking").check().run()
    at.number_input(key="up_size").set_value(50)
    at.number_input(key="up_overlap").set_value(10).run()
    assert_ok(at)
    preview = at.dataframe[0].value
    assert len(preview) > 3 and preview["chunk"].max() >= 1


@pytest.mark.parametrize(
    ("name", "writer"), [("saved.parquet", to_parquet_bytes), ("saved.npz", to_npz_bytes)]
)
def test_saved_collection_loads_back(embedded, name, writer):
    original = embedded.session_state["collection"]
    at = open_page(new_app(), "upload")
    at.file_uploader(key="up_saved").set_value((name, writer(original), "application/octet-stream"))
    at.run()
    assert_ok(at)
    assert (
        at.success[0].value
        == f"Loaded {name}: 7 documents × 512 (universal-sentence-encoder-multilingual-3)."
    )
    loaded = at.session_state["collection"]
    assert loaded.manifest.content_hash == original.manifest.content_hash
    assert loaded.texts == original.texts
    # The page was redrawn with it: the sidebar shows the loaded collection.
    assert "Collection: 7 × 512 · universal-sentence-encoder-multilingual-3" in [
        c.value for c in at.sidebar.caption
    ]


def test_loading_a_collection_replaces_the_embedded_one_everywhere(embedded):
    saved = to_parquet_bytes(embedded.session_state["collection"])
    at = open_page(new_app(), "upload")
    upload(at, [GOOD[0]])
    assert "Embedding replaces the current collection" not in texts_on_page(at)  # none yet
    at.button(key="up_embed").click().run()
    assert_ok(at)
    assert "Embedded 3 texts" in at.success[0].value
    assert "Collection: 3 × 512" in texts_on_page(at)

    at.file_uploader(key="up_saved").set_value(("saved.parquet", saved, "application/octet-stream"))
    at.run()
    assert_ok(at)
    assert [s.value for s in at.success] == [
        "Loaded saved.parquet: 7 documents × 512 (universal-sentence-encoder-multilingual-3)."
    ]  # the old "Embedded 3 texts" summary is gone, and so are its metrics
    assert not at.metric
    captions = [c.value for c in at.sidebar.caption]
    assert "Collection: 7 × 512 · universal-sentence-encoder-multilingual-3" in captions
    # The uploaded notes are no longer the collection: embedding them would replace it.
    assert (
        "Embedding replaces the current collection (7 documents × 512, "
        "universal-sentence-encoder-multilingual-3); download it below first to keep it."
        in [c.value for c in at.caption]
    )
    # Their vectors are still in this session: nothing to send, the button rebuilds.
    assert at.info[0].value == (
        "All 3 texts are already embedded — nothing to send; **Rebuild collection** makes them "
        "the current collection without any request."
    )
    at.button(key="up_embed").click().run()
    assert_ok(at)
    assert "0 request(s), 3 text(s) reused from this session" in texts_on_page(at)
    assert at.session_state["collection"].texts == NOTES.decode().splitlines()


def test_random_bytes_as_npz_get_our_message_not_numpys():
    at = open_page(new_app(), "upload")
    at.file_uploader(key="up_saved").set_value(
        ("bad.npz", bytes(range(256)) * 8, "application/octet-stream")
    )
    at.run()
    assert_ok(at)
    (error,) = [e.value for e in at.error]
    assert shown(error) == (
        "bad.npz: not a readable .npz file: it is not a zip archive of NumPy arrays (damaged, cut "
        "short, or another kind of file). Upload a collection file downloaded from this app "
        "(Upload & embed page)."
    )
    assert at.session_state["collection"] is None


def test_corrupt_collection_file_is_an_error_naming_it():
    at = open_page(new_app(), "upload")
    at.file_uploader(key="up_saved").set_value(
        ("old.npz", b"PK\x03\x04 broken", "application/octet-stream")
    )
    at.run()
    assert_ok(at)
    assert at.error[0].value.startswith("old.npz: not a readable .npz file")
    assert at.session_state["collection"] is None
