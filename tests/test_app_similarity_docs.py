"""Similarity page, documents × documents: choose which documents (the last search, a sample,
a selection, the first ones), ordered by similarity, readable labels, matrix and figure to
download."""

from __future__ import annotations

import numpy as np
import pytest

from core.search import similarity_matrix
from tests.app_support import assert_ok, charts, load_sample, new_app, open_page, plotly_array

SUBMIT = "FormSubmitter:search_form-Search"


@pytest.fixture(scope="module")
def docs_page():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("OPENAI_API_KEY", raising=False)
        at = open_page(load_sample(new_app()), "search")
        at.button(key=SUBMIT).click().run()  # three sample queries, k = 5
        assert_ok(at)
        open_page(at, "similarity")
        at.radio(key="sim_mode").set_value("Documents × documents").run()
        assert_ok(at)
        yield at


def heat(at) -> dict:
    return charts(at)[0]["data"][0]


def shown_ids(at) -> list[int]:
    return [int(key.split(" ", 1)[0].lstrip("#")) for key in heat(at)["y"]]


def test_the_last_searchs_results_are_the_default_and_ordered_by_similarity(docs_page):
    at = docs_page
    assert at.selectbox(key="sim_doc_source").value == "The last search's results"
    found = {int(i) for i in at.session_state["search_result"].ids.ravel()}
    ids = shown_ids(at)
    assert set(ids) == found and len(ids) == len(found)
    z = plotly_array(heat(at)["z"])
    vectors = at.session_state["collection"].embeddings
    np.testing.assert_allclose(z, similarity_matrix(vectors[ids], None, "cosine"), atol=1e-5)

    # Ordered: neighbours in the order are more alike than in the documents' own order.
    def adjacent(order):
        m = similarity_matrix(vectors[order], None, "cosine")
        return float(np.mean(np.diag(m, 1)))

    assert adjacent(ids) > adjacent(sorted(ids))
    figure = charts(at)[0]
    assert figure["layout"]["xaxis"]["ticktext"] == [f"#{i}" for i in ids]  # short labels
    assert figure["layout"]["yaxis"]["ticktext"][0].startswith(f"#{ids[0]} ")


def test_unordered_keeps_the_search_order(docs_page):
    at = docs_page
    at.toggle(key="sim_order").set_value(False).run()
    assert_ok(at)
    ranked = at.session_state["search_result"].ids.ravel().tolist()
    assert shown_ids(at) == list(dict.fromkeys(ranked))  # query by query, best first
    at.toggle(key="sim_order").set_value(True).run()


def test_a_sample_and_a_selection(docs_page):
    at = docs_page
    at.selectbox(key="sim_doc_source").set_value("A random sample").run()
    at.slider(key="sim_n_docs").set_value(30).run()
    assert_ok(at)
    first = sorted(shown_ids(at))
    assert len(first) == 30
    at.number_input(key="sim_seed").set_value(7).run()
    assert sorted(shown_ids(at)) != first and len(shown_ids(at)) == 30
    at.selectbox(key="sim_doc_source").set_value("Documents I choose").run()
    at.multiselect(key="sim_doc_picked").set_value([3, 40, 41, 70]).run()
    assert_ok(at)
    assert sorted(shown_ids(at)) == [3, 40, 41, 70]
    at.multiselect(key="sim_doc_picked").set_value([5]).run()
    assert "Choose at least two documents." in [w.value for w in at.warning]
    at.selectbox(key="sim_doc_source").set_value("The last search's results").run()


def test_matrix_and_figure_downloads(docs_page):
    labels = [b.proto.label for b in docs_page.get("download_button")]
    assert labels == ["Download the matrix (CSV)", "Download the figure (HTML)"]
