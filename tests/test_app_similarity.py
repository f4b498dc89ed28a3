"""Similarity page: heatmaps (queries × documents and documents × documents) with full text on
hover, the per-query top-5 (scores with three decimals), and near-duplicate pairs above a
threshold (or, when none pass, where the most alike pair is)."""

from __future__ import annotations

import html

import numpy as np
import pytest

from core.data._collection import Collection
from core.data._sample import SAMPLE_QUERIES
from core.search._engine import normalize
from core.search._pairs import similarity_matrix
from tests.app_support import (
    assert_ok,
    charts,
    expected_text,
    hover_contains,
    load_sample,
    new_app,
    number_formats,
    open_page,
    plotly_array,
)
from ui import state


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="module")
def similarity():
    """Sample loaded, then the page opened: its query box starts with no search made."""
    at = open_page(load_sample(new_app()), "similarity")
    at.text_area(key="w_sim_queries").set_value("\n".join(q.text for q in SAMPLE_QUERIES[:4])).run()
    assert_ok(at)
    return at


def most_alike_pair(at, method: str) -> tuple[int, int, float]:
    """Brute force over the whole collection: (i, j, similarity or distance), i < j."""
    x = at.session_state[state.COLLECTION].embeddings
    matrix = similarity_matrix(x, None, method).astype(np.float64)
    np.fill_diagonal(matrix, np.inf if method == "euclidean" else -np.inf)
    flat = np.argmin(matrix) if method == "euclidean" else np.argmax(matrix)
    i, j = sorted(np.unravel_index(flat, matrix.shape))
    return int(i), int(j), float(matrix[i, j])


def test_without_collection_the_page_points_home():
    at = open_page(new_app(), "similarity")
    assert "No collection yet" in at.info[0].value


def test_queries_by_documents_heatmap_with_full_text_on_hover(similarity):
    (figure,) = charts(similarity)
    heat = figure["data"][0]
    assert heat["type"] == "heatmap"
    assert len(heat["y"]) == 4 and len(heat["x"]) == 20
    # Each query's best document is placed first among the columns; hover holds its full text.
    assert hover_contains(heat["x"][0], expected_text(0))
    assert hover_contains(heat["y"][1], SAMPLE_QUERIES[1].text)
    assert plotly_array(heat["z"]).shape == (4, 20)
    ticks = figure["layout"]["xaxis"]["ticktext"]
    assert all(len(html.unescape(t)) <= 24 for t in ticks)
    assert "4 × 20 cosine similarities" in similarity.caption[0].value
    assert "%{z:.3f}" in heat["hovertemplate"]


def test_top5_per_query_finds_the_expected_documents(similarity):
    table = similarity.dataframe[0].value
    assert len(table) == 4 * 5
    firsts = table[table["rank"] == 1]["text"].tolist()
    assert firsts == [expected_text(q) for q in range(4)]
    assert number_formats(similarity.dataframe[0]) == {"score": "%.3f"}


def test_default_threshold_says_where_the_most_similar_pair_is(similarity):
    similarity.radio(key="sim_mode").set_value("Documents × documents").run()
    assert_ok(similarity)
    slider = similarity.slider(key="sim_dup_sim")
    assert (slider.min, slider.max, slider.value) == (0.0, 1.0, 0.9)
    i, j, score = most_alike_pair(similarity, "cosine")
    assert score < 0.9  # the sample has related texts, no near-duplicates
    assert similarity.info[-1].value == (
        f"No pairs above 0.90; the most similar pair (#{i} and #{j}) scores {score:.3f}."
    )
    similarity.slider(key="sim_dup_sim").set_value(0.3).run()  # now below 0.5: more pairs
    assert_ok(similarity)
    pairs = similarity.dataframe[-1].value
    assert len(pairs) > 2 and (pairs["score"] >= 0.3).all()
    assert (pairs.iloc[0]["doc_a"], pairs.iloc[0]["doc_b"]) == (i, j)
    assert number_formats(similarity.dataframe[-1]) == {"score": "%.3f"}
    similarity.slider(key="sim_dup_sim").set_value(0.9).run()


def test_documents_by_documents_and_near_duplicates(similarity):
    similarity.radio(key="sim_mode").set_value("Documents × documents")
    similarity.slider(key="sim_n_docs").set_value(10).run()
    assert_ok(similarity)
    heat = charts(similarity)[0]["data"][0]
    assert len(heat["x"]) == len(heat["y"]) == 10
    z = plotly_array(heat["z"])
    np.testing.assert_allclose(np.diag(z), 1.0, atol=1e-5)  # every document is itself
    np.testing.assert_allclose(z, z.T, atol=1e-6)
    similarity.slider(key="sim_dup_sim").set_value(0.5).run()
    assert_ok(similarity)
    pairs = similarity.dataframe[0].value
    assert len(pairs) > 0 and (pairs["score"] >= 0.5).all()
    assert pairs["score"].is_monotonic_decreasing
    assert "pair(s)** above 0.50, most alike first." in similarity.markdown[-1].value


def test_strict_threshold_finds_no_pairs(similarity):
    similarity.radio(key="sim_mode").set_value("Documents × documents")
    similarity.slider(key="sim_dup_sim").set_value(1.0).run()
    assert_ok(similarity)
    assert similarity.info[-1].value.startswith("No pairs above 1.00; the most similar pair (#")


def test_euclidean_uses_distances(similarity):
    similarity.radio(key="sim_method").set_value("euclidean").run()
    assert_ok(similarity)
    figure = charts(similarity)[0]
    assert figure["data"][0]["colorbar"]["title"]["text"] == "euclidean distance"
    slider = similarity.slider(key="sim_dup_dist")
    assert (slider.min, slider.max, slider.value) == (0.0, 2.0, 0.35)
    i, j, distance = most_alike_pair(similarity, "euclidean")
    assert similarity.info[-1].value == (
        f"No pairs within 0.35; the closest pair (#{i} and #{j}) is {distance:.3f} apart."
    )
    similarity.slider(key="sim_dup_dist").set_value(1.0).run()
    pairs = similarity.dataframe[-1].value
    assert "distance" in pairs.columns and (pairs["distance"] <= 1.0).all()
    assert pairs["distance"].is_monotonic_increasing


def passing_pairs(at, method: str, threshold: float) -> np.ndarray:
    """Brute force: the scores of every pair i < j passing ``threshold``, most alike first."""
    x = at.session_state[state.COLLECTION].embeddings
    upper = similarity_matrix(x, None, method)[np.triu_indices(len(x), 1)]
    if method == "euclidean":
        return np.sort(upper[upper <= threshold])
    return np.sort(upper[upper >= threshold])[::-1]


@pytest.mark.parametrize(
    ("method", "slider", "threshold", "where", "direction"),
    [
        ("euclidean", "sim_dup_dist", 2.0, "within", "are at most {} apart: lower the distance"),
        ("cosine", "sim_dup_sim", 0.0, "above", "score at least {}: raise the similarity"),
    ],
)
def test_a_loose_threshold_lists_the_strongest_pairs_and_says_which_way_to_go(
    similarity, method, slider, threshold, where, direction
):
    similarity.radio(key="sim_mode").set_value("Documents × documents")
    similarity.radio(key="sim_method").set_value(method).run()
    similarity.slider(key=slider).set_value(threshold).run()
    assert_ok(similarity)
    assert not similarity.error
    expected = passing_pairs(similarity, method, threshold)
    assert len(expected) > 500
    assert similarity.markdown[-1].value == (
        f"**{len(expected):,} pair(s)** {where} {threshold:.2f}; the 500 most alike are listed, "
        "most alike first."
    )
    column = "distance" if method == "euclidean" else "score"
    pairs = similarity.dataframe[-1].value
    assert len(pairs) == 500
    np.testing.assert_allclose(pairs[column], expected[:500], atol=1e-5)
    notes = [c.value for c in similarity.caption if "listed pairs" in c.value]
    assert notes == [
        f"The listed pairs {direction.format(f'{pairs[column].iloc[-1]:.3f}')} to list only the "
        + ("closest pairs." if method == "euclidean" else "most similar pairs.")
    ]
    assert "Raise the threshold" not in "".join(e.value for e in similarity.error)
    similarity.radio(key="sim_method").set_value("cosine").run()
    similarity.slider(key="sim_dup_sim").set_value(0.9).run()


def test_a_collection_past_the_pair_cap_lists_pairs_instead_of_failing():
    """300 unit vectors: all 44,850 pairs are within distance 2 (near_duplicates' 20,000 cap)."""
    at = open_page(load_sample(new_app()), "similarity")
    spec = at.session_state[state.COLLECTION].spec
    vectors = normalize(np.random.default_rng(7).standard_normal((300, 512)))
    at.session_state[state.COLLECTION] = Collection.create(
        [f"document {i}" for i in range(300)], vectors, spec
    )
    at.radio(key="sim_mode").set_value("Documents × documents")
    at.radio(key="sim_method").set_value("euclidean").run()
    at.slider(key="sim_dup_dist").set_value(2.0).run()
    assert_ok(at)
    assert not at.error
    assert at.markdown[-1].value == (
        "**44,850 pair(s)** within 2.00; the 500 most alike are listed, most alike first."
    )
    assert len(at.dataframe[-1].value) == 500
    assert any("lower the distance" in c.value for c in at.caption)
