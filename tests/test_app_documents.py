"""Documents that change in the dashboard: a metadata filter on Search, uploads added to the
current collection, rows selected and deleted on Upload & embed (offline model, for real)."""

from __future__ import annotations

import numpy as np
import pytest

from core.data._sample import SAMPLE_DOCUMENTS
from tests.app_support import assert_ok, load_sample, new_app, open_page
from ui import state

SUBMIT = "FormSubmitter:search_form-Search"
LANGS = np.array([d.lang for d in SAMPLE_DOCUMENTS])


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="module")
def sample_app():
    return load_sample(new_app())


def search(at, where: str):
    open_page(at, "search")
    at.text_area(key="w_search_queries").set_value("how do I bake bread")
    at.text_input(key="s_where").set_value(where)
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    return at


def test_search_filter_comes_before_top_k(sample_app):
    at = search(sample_app, 'lang = "zh"')
    result = at.session_state[state.SEARCH_RESULT]
    assert result.ids.shape == (1, 5)
    assert set(LANGS[result.ids.ravel()]) == {"zh"}
    n_zh = int((LANGS == "zh").sum())
    assert f"Metadata filter: {n_zh} of 72 documents pass." in [c.value for c in at.caption]
    at.selectbox(key="s_mode").set_value("binary")
    at.button(key=SUBMIT).click().run()
    assert set(LANGS[at.session_state[state.SEARCH_RESULT].ids.ravel()]) == {"zh"}


def test_bad_filter_is_explained_as_text_and_nothing_is_searched(sample_app):
    at = search(sample_app, "")
    before = at.session_state[state.SEARCH_RESULT].ids.copy()
    at = search(sample_app, "lang = zh **bold**")
    assert at.error[0].value == "The metadata filter cannot be used:"
    assert "bad filter at character 8: expected a value" in at.code[0].value
    assert "lang = zh **bold**" in at.code[0].value  # shown verbatim, not as Markdown
    np.testing.assert_array_equal(at.session_state[state.SEARCH_RESULT].ids, before)
    at = search(sample_app, 'topic = "no such topic"')
    assert "No document matches the metadata filter" in at.warning[0].value


def test_upload_adds_to_the_current_collection_then_rows_are_deleted():
    at = load_sample(new_app())
    before = at.session_state[state.COLLECTION]
    open_page(at, "upload")
    known = SAMPLE_DOCUMENTS[0].text
    notes = f"{known}\nA brand new line about tea.\n".encode()
    at.file_uploader(key="up_files").set_value([("notes.txt", notes, "text/plain")]).run()
    at.toggle(key="up_add").set_value(True).run()
    assert "Adds 2 documents to the current 72. 1 distinct texts" in at.info[0].value
    at.button(key="up_embed").click().run()
    assert_ok(at)
    grown = at.session_state[state.COLLECTION]
    assert len(grown) == 74 and grown.ids[:72] == before.ids
    assert grown.texts[-2:] == [known, "A brand new line about tea."]
    np.testing.assert_array_equal(grown.embeddings[72], before.embeddings[0])

    # Find the new ones with the filter, select them, delete them.
    at.text_input(key="doc_where").set_value('source = "notes.txt"').run()
    table = at.dataframe(key="doc_table").value
    assert table["text"].tolist() == grown.texts[-2:]
    at.session_state["doc_table"] = {"selection": {"rows": [0, 1], "columns": []}}
    at.run()
    assert at.button(key="doc_delete").label == "Delete 2 selected"
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download for the TensorFlow Projector" in labels
    at.button(key="doc_delete").click().run()
    assert_ok(at)
    after = at.session_state[state.COLLECTION]
    assert after.ids == before.ids and after.texts == before.texts
    assert "Deleted 2 documents; 72 remain." in [s.value for s in at.success]
