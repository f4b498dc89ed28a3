"""Similarity page: heatmaps (queries × documents and documents × documents) with full text on
hover, the per-query top-5, and near-duplicate pairs above a threshold."""

from __future__ import annotations

import numpy as np
import pytest

from core.sample_data import SAMPLE_QUERIES
from tests.app_support import (
    assert_ok,
    charts,
    expected_text,
    hover_contains,
    load_sample,
    new_app,
    open_page,
    plotly_array,
)


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
    assert all(len(t) <= 24 for t in ticks)
    assert "4 × 20 cosine similarities" in similarity.caption[0].value


def test_top5_per_query_finds_the_expected_documents(similarity):
    table = similarity.dataframe[0].value
    assert len(table) == 4 * 5
    firsts = table[table["rank"] == 1]["text"].tolist()
    assert firsts == [expected_text(q) for q in range(4)]


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
    assert similarity.success[-1].value == "No pairs above 1.00."


def test_euclidean_uses_distances(similarity):
    similarity.radio(key="sim_method").set_value("euclidean").run()
    assert_ok(similarity)
    figure = charts(similarity)[0]
    assert figure["data"][0]["colorbar"]["title"]["text"] == "euclidean distance"
    similarity.slider(key="sim_dup_dist").set_value(1.0).run()
    pairs = similarity.dataframe[-1].value
    assert "distance" in pairs.columns and (pairs["distance"] <= 1.0).all()
    assert pairs["distance"].is_monotonic_increasing
