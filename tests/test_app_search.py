"""Search page: the sample's queries find their expected documents, for real, with every method
and memory mode; the map shows queries and hits; results download as CSV."""

from __future__ import annotations

import pytest

from tests.app_support import (
    assert_ok,
    charts,
    expected_text,
    load_sample,
    new_app,
    open_page,
    texts_on_page,
    trace_names,
)


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="module")
def searched():
    """Sample loaded, three prefilled queries searched with the defaults (cosine, k=5)."""
    at = open_page(load_sample(new_app()), "search")
    at.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(at)
    return at


def test_without_collection_the_page_points_home():
    at = open_page(new_app(), "search")
    assert "No collection yet" in at.info[0].value
    assert [link.proto.label for link in at.get("page_link")] == ["Go to Home"]


def test_prefilled_sample_queries_find_their_expected_documents(searched):
    best = [m.value for m in searched.markdown if "Top result" in m.value]
    assert len(best) == 3
    for q, line in enumerate(best):
        assert line.startswith(f"**Q{q + 1}**")
        assert line.endswith(expected_text(q))


def test_results_table_latency_and_download(searched):
    table = searched.dataframe[0].value
    assert list(table.columns) == ["query", "rank", "score", "text", "source"]
    assert len(table) == 3 * 5
    assert table.groupby("query")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert set(table["source"].str.split(" · ").str[0]) == {"sample corpus"}
    metrics = {m.label: m.value for m in searched.metric}
    assert metrics["Search latency"].endswith(" ms")
    assert metrics["Recall@10 vs exact"] == "1.000 (exact)"
    assert searched.get("download_button")[0].proto.label == "Download results (CSV)"


def test_map_shows_documents_queries_and_hits(searched):
    (figure,) = charts(searched)
    names = trace_names(figure)
    assert names[0] == "documents" and "queries" in names and "top-k hits" in names
    queries = figure["data"][names.index("queries")]
    assert queries["text"] == ["Q1", "Q2", "Q3"]
    assert "Click a point" in texts_on_page(searched)


@pytest.mark.parametrize("method", ["euclidean", "dot"])
def test_other_methods_agree_on_unit_vectors(searched, method):
    searched.radio(key="s_method").set_value(method)
    searched.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(searched)
    best = [m.value for m in searched.markdown if "Top result" in m.value]
    assert all(line.endswith(expected_text(q)) for q, line in enumerate(best))
    column = "distance" if method == "euclidean" else "score"
    assert column in searched.dataframe[0].value.columns
    if method == "euclidean":
        assert searched.dataframe[0].value.groupby("query")[column].is_monotonic_increasing.all()


@pytest.mark.parametrize("mode", ["int8", "binary"])
def test_memory_modes_report_memory_and_measured_recall(searched, mode):
    searched.radio(key="s_method").set_value("cosine")
    searched.selectbox(key="s_mode").set_value(mode)
    searched.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(searched)
    metrics = {m.label: m.value for m in searched.metric}
    exact_mb = 72 * 512 * 4 / 2**20
    assert float(metrics[f"Index memory ({mode})"].split()[0]) < exact_mb
    assert 0.0 <= float(metrics["Recall@10 vs exact"]) <= 1.0
    searched.selectbox(key="s_mode").set_value("float32")


def test_empty_query_box_is_an_error_not_a_crash(searched):
    searched.text_area(key="w_search_queries").set_value("  \n ")
    searched.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(searched)
    assert "Type at least one query" in searched.error[0].value


def test_queries_and_results_survive_a_page_change(searched):
    searched.text_area(key="w_search_queries").set_value("Why does Mars look red?")
    searched.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(searched)
    open_page(searched, "similarity")
    assert searched.text_area(key="w_sim_queries").value == "Why does Mars look red?"
    open_page(searched, "search")
    assert searched.text_area(key="w_search_queries").value == "Why does Mars look red?"
    (best,) = [m.value for m in searched.markdown if "Top result" in m.value]
    assert best.endswith(expected_text(3))  # sample query 3 is "Why does Mars look red?"
