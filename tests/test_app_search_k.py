"""Search page: a k outside 1 … n is brought into range and the page says so (a bounded box
would turn red and Search would silently do nothing)."""

from __future__ import annotations

import pytest

from tests.app_support import assert_ok, load_sample, new_app, open_page

SUBMIT = "FormSubmitter:search_form-Search"


@pytest.fixture(scope="module")
def search_page(monkeypatch_module):
    return open_page(load_sample(new_app()), "search")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("OPENAI_API_KEY", raising=False)
        yield mp


@pytest.mark.parametrize(
    ("typed", "used", "said"),
    [
        (100, 72, "k = 100 is more than the collection has 72 documents: searched with k = 72."),
        (0, 1, "k = 0 asks for no results: searched with k = 1, the smallest."),
        (-3, 1, "k = -3 asks for no results"),
    ],
)
def test_k_out_of_range_is_clamped_and_said(search_page, typed, used, said):
    at = search_page
    at.number_input(key="s_k").set_value(typed)
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    assert any(said in w.value for w in at.warning), [w.value for w in at.warning]
    table = at.dataframe[0].value
    assert table["rank"].max() == used
    assert len(table) == used * table["query"].nunique()


def test_k_in_range_searches_without_a_note(search_page):
    at = search_page
    at.number_input(key="s_k").set_value(7)
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    assert not any("k = " in w.value for w in at.warning)
    assert at.dataframe[0].value["rank"].max() == 7


def test_results_download_is_utf8_with_bom_named_after_the_collection(search_page, monkeypatch):
    import codecs
    import io
    import re

    import pandas as pd
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    stored = {}  # what the page handed the real media storage: file name -> bytes
    real = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        stored[filename] = path_or_data
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    at = search_page
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    names = [n for n in stored if n and n.endswith(".csv")]
    assert len(names) == 1, stored.keys()
    assert re.fullmatch(r"sample-search-results-\d{4}-\d\d-\d\d-\d{4}\.csv", names[0])
    data = stored[names[0]]
    assert data.startswith(codecs.BOM_UTF8)
    table = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert table["text"].str.contains("[\u4e00-\u9fff]").any()  # Chinese, intact
