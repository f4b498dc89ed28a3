"""Search page: the sample's queries find their expected documents, for real, with every method
and memory mode; the figures say what they measure (memory, recall, cached queries, weak
matches); the map shows queries above their hits; a click lists neighbours; results download."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.search._engine import normalize
from core.search._modes import build_index
from core.services import format_bytes, top_cosines
from tests.app_support import (
    assert_ok,
    charts,
    expected_text,
    load_sample,
    new_app,
    number_formats,
    open_page,
    texts_on_page,
    trace_names,
)
from ui import cache, state

SUBMIT = "FormSubmitter:search_form-Search"


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="module")
def searched():
    """Sample loaded, three prefilled queries searched with the defaults (cosine, k=5)."""
    at = open_page(load_sample(new_app()), "search")
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    return at


def search_for(at, queries: str, *, method: str = "cosine", mode: str = "float32"):
    """Type ``queries``, choose method and memory mode, press Search."""
    at.text_area(key="w_search_queries").set_value(queries)
    at.radio(key="s_method").set_value(method)
    at.selectbox(key="s_mode").set_value(mode)
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


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
        assert re.search(r"\(score \d\.\d{3}\)", line)  # three decimals, like the tables
    assert "No close match" not in texts_on_page(searched)  # real answers are not flagged


def test_results_table_latency_and_download(searched):
    table = searched.dataframe[0].value
    assert list(table.columns) == ["query", "rank", "score", "text", "source"]
    assert len(table) == 3 * 5
    assert table.groupby("query")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert set(table["source"].str.split(" · ").str[0]) == {"sample corpus"}
    assert number_formats(searched.dataframe[0]) == {"score": "%.3f"}
    shown = metrics(searched)
    assert shown["Search latency"].endswith(" ms")
    assert shown["Recall@10 vs exact"] == "1.000 (exact)"
    assert shown["Index memory (float32 vectors)"] == "144 KB"  # 72 x 512 x 4 bytes
    assert "Exact search over the float32 vectors (144 KB)." in captions(searched)
    assert searched.get("download_button")[0].proto.label == "Download results (CSV)"


def test_map_shows_documents_and_draws_queries_above_their_hits(searched):
    (figure,) = charts(searched)
    names = trace_names(figure)
    assert names[0] == "documents" and "top-k hits" in names
    # Plotly draws traces in order: the query stars and their Q labels come last, on top.
    assert names[-1] == "queries"
    assert figure["data"][-1]["text"] == ["Q1", "Q2", "Q3"]
    assert "Click a point" in texts_on_page(searched)


def test_map_axis_titles_show_small_variance_shares(searched):
    searched.radio(key="s_projection").set_value("random").run()
    assert_ok(searched)
    layout = charts(searched)[0]["layout"]
    titles = [layout[axis]["title"]["text"] for axis in ("xaxis", "yaxis")]
    # A random direction keeps ~0.2% of the variance: shown, not rounded to "0%".
    for i, title in enumerate(titles, start=1):
        assert re.fullmatch(rf"Random axis {i} \((0\.\d+|<0\.01)% of variance\)", title), title
    searched.radio(key="s_projection").set_value("pca").run()
    assert_ok(searched)
    title = charts(searched)[0]["layout"]["xaxis"]["title"]["text"]
    assert re.fullmatch(r"PCA 1 \(\d+(\.\d)?% of variance\)", title), title


@pytest.mark.parametrize("method", ["euclidean", "dot"])
def test_other_methods_agree_on_unit_vectors(searched, method):
    searched.radio(key="s_method").set_value(method)
    searched.button(key=SUBMIT).click().run()
    assert_ok(searched)
    best = [m.value for m in searched.markdown if "Top result" in m.value]
    assert all(line.endswith(expected_text(q)) for q, line in enumerate(best))
    column = "distance" if method == "euclidean" else "score"
    assert column in searched.dataframe[0].value.columns
    assert number_formats(searched.dataframe[0]) == {column: "%.3f"}
    if method == "euclidean":
        assert searched.dataframe[0].value.groupby("query")[column].is_monotonic_increasing.all()


@pytest.mark.parametrize("mode", ["float16", "int8"])
def test_float16_and_int8_report_their_codes(searched, mode):
    search_for(searched, "Why does Mars look red?", mode=mode)
    embeddings = searched.session_state[state.COLLECTION].embeddings
    shown = metrics(searched)
    assert shown[f"Index memory ({mode} codes)"] == format_bytes(
        build_index(embeddings, mode).nbytes
    )
    assert 0.0 <= float(shown["Recall@10 vs exact"]) <= 1.0
    text = captions(searched)
    assert f"{mode}: " in text and "against 144 KB for float32" in text
    assert "the float32 vectors are not read" in text
    assert "Recall is exact here" not in text


def test_binary_on_a_small_collection_says_recall_is_trivial_and_counts_the_float_vectors(
    searched,
):
    search_for(searched, "Why does Mars look red?", mode="binary")
    embeddings = searched.session_state[state.COLLECTION].embeddings
    shown = metrics(searched)
    codes = build_index(embeddings, "binary").nbytes
    assert shown["Index memory (binary codes)"] == format_bytes(codes)  # 6.78 KB
    assert float(shown["Recall@10 vs exact"]) == 1.0
    text = captions(searched)
    assert (
        "Recall is exact here: the rescoring pool (200) covers all 72 documents; "
        "binary pays off on large collections." in text
    )
    assert "plus 144 KB of float32 vectors read to rescore all 72 documents per query" in text
    assert "memory-mapped" in text


def test_query_embedding_says_cached_when_nothing_was_embedded(searched):
    search_for(searched, "How many keys does a piano have?")
    first = metrics(searched)["Query embedding"]
    assert first.endswith(" ms") and "cached" not in first
    search_for(searched, "How many keys does a piano have?")
    assert metrics(searched)["Query embedding"] == "cached"
    search_for(searched, "How many keys does a piano have?\nWhat is a fugue?")
    assert metrics(searched)["Query embedding"].endswith("ms (1 of 2 cached)")


@pytest.mark.parametrize(
    ("method", "wording"),
    [("cosine", "the best cosine score is"), ("dot", "the top result's cosine similarity is")],
)
def test_an_unrelated_query_gets_a_no_close_match_note(searched, method, wording):
    search_for(searched, "猫\nWhy does Mars look red?", method=method)
    notes = [c.value for c in searched.caption if "No close match" in c.value]
    assert len(notes) == 1  # only the query the corpus does not cover
    assert re.search(
        rf"No close match for Q1: {wording} 0\.\d{{3}}; the corpus may not cover this topic\.",
        notes[0],
    )
    best = [m.value for m in searched.markdown if "Top result" in m.value]
    assert best[1].endswith(expected_text(3))  # the real question still finds its answer


def test_empty_query_is_an_error_and_old_results_are_labelled(searched):
    search_for(searched, "Why does Mars look red?")
    assert not any("previous search" in i.value for i in searched.info)
    searched.text_area(key="w_search_queries").set_value("  \n ")
    searched.button(key=SUBMIT).click().run()
    assert_ok(searched)
    assert "Type at least one query" in searched.error[0].value
    labels = [i.value for i in searched.info if "previous search" in i.value]
    assert labels == ["Showing results for the previous search: Why does Mars look red?"]
    searched.radio(key="s_projection").set_value("random").run()  # any rerun, e.g. a map click
    assert_ok(searched)
    assert not searched.error
    assert any("Showing results for the previous search" in i.value for i in searched.info)
    searched.radio(key="s_projection").set_value("pca").run()


def test_a_failed_search_with_other_parameters_keeps_the_old_results_labelled(
    searched, monkeypatch
):
    search_for(searched, "Why does Mars look red?")
    assert not any("previous search" in i.value for i in searched.info)

    def no_key(spec):
        raise cache.MissingKeyError("no key for this test")

    monkeypatch.setattr(cache, "embedder_for", no_key)
    search_for(searched, "Why does Mars look red?", method="euclidean")  # same queries
    assert searched.error[0].value == "Could not embed the queries: no key for this test"
    label = "Showing results for the previous search: Why does Mars look red?"
    assert [i.value for i in searched.info if "previous search" in i.value] == [label]
    assert "score" in searched.dataframe[0].value.columns  # still the cosine results
    searched.radio(key="s_projection").set_value("random").run()  # any rerun, e.g. a map click
    assert_ok(searched)
    assert not searched.error
    assert [i.value for i in searched.info if "previous search" in i.value] == [label]
    open_page(open_page(searched, "similarity"), "search")  # and a page change
    assert [i.value for i in searched.info if "previous search" in i.value] == [label]

    monkeypatch.undo()
    search_for(searched, "Why does Mars look red?", method="euclidean")
    assert not searched.error
    assert not any("previous search" in i.value for i in searched.info)
    assert "distance" in searched.dataframe[0].value.columns
    searched.radio(key="s_projection").set_value("pca").run()
    assert_ok(searched)


class _Unread:
    """Embeddings that must not be read."""

    def __getitem__(self, index):
        raise AssertionError("exact cosine search already returned the top cosine")


def test_top_cosine_comes_from_exact_cosine_scores_without_reading_vectors(rng):
    ids = np.array([[3, 1], [0, 2]])
    scores = np.array([[0.75, 0.5], [0.25, 0.125]], dtype=np.float32)
    vectors = rng.standard_normal((2, 4)).astype(np.float32)
    best = top_cosines(vectors, _Unread(), ids, scores, "cosine", "float32")
    assert best.dtype == np.float32
    np.testing.assert_array_equal(best, [0.75, 0.25])


@pytest.mark.parametrize(("method", "mode"), [("dot", "float32"), ("euclidean", "float32"),
                                              ("cosine", "int8")])  # fmt: skip
def test_top_cosine_is_computed_for_other_methods_and_compressed_modes(method, mode, rng):
    embeddings = rng.standard_normal((5, 4)).astype(np.float32)
    embeddings[2] = 0.0  # a zero vector's cosine is 0, not NaN
    vectors = rng.standard_normal((3, 4)).astype(np.float32)
    ids = np.array([[4, 0], [2, 1], [0, 3]])
    scores = np.full((3, 2), 9.0, dtype=np.float32)  # not cosines: must not be used
    best = top_cosines(vectors, embeddings, ids, scores, method, mode)
    expected = np.einsum("ij,ij->i", normalize(vectors), normalize(embeddings[ids[:, 0]]))
    np.testing.assert_allclose(best, expected, atol=1e-6)
    assert best[1] == 0.0


def test_clicking_a_point_lists_its_neighbours_with_scores_and_sources():
    at = search_for(open_page(load_sample(new_app()), "search"), "Why does Mars look red?")
    at.session_state["s_map"] = {"selection": {"points": [{"customdata": [0]}]}}
    at.run()
    assert_ok(at)
    assert any(m.value.startswith("**Nearest neighbours of #0:**") for m in at.markdown)
    table = at.dataframe[-1].value
    assert list(table.columns) == ["rank", "score", "text", "source", "doc"]
    assert len(table) == 5 and 0 not in set(table["doc"])
    assert table["score"].is_monotonic_decreasing
    assert set(table["source"].str.split(" · ").str[0]) == {"sample corpus"}
    assert number_formats(at.dataframe[-1]) == {"score": "%.3f"}
    assert trace_names(charts(at)[0])[-1] == "queries"  # still above the selection ring


def test_queries_and_results_survive_a_page_change(searched):
    search_for(searched, "Why does Mars look red?")
    open_page(searched, "similarity")
    assert searched.text_area(key="w_sim_queries").value == "Why does Mars look red?"
    open_page(searched, "search")
    assert searched.text_area(key="w_search_queries").value == "Why does Mars look red?"
    (best,) = [m.value for m in searched.markdown if "Top result" in m.value]
    assert best.endswith(expected_text(3))  # sample query 3 is "Why does Mars look red?"
