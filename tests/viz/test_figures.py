"""Figure builders: trace structure, hover text (escaped, full, wrapped), label widths, errors."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from core.viz import _figures as figures
from core.viz._figures import (
    display_width,
    hover_text,
    projection_figure,
    selected_document,
    similarity_heatmap,
    truncate_label,
)

ZH = "向量检索把文本变成数字，然后比较它们的距离。"
EN = "Vector search turns text into numbers and compares their distances."


@pytest.mark.parametrize(
    ("text", "width"),
    [("abc", 3), ("中文", 4), ("a中b", 4), ("", 0), ("ｆｕｌｌ", 8)],
)
def test_display_width_counts_wide_characters_twice(text, width):
    assert display_width(text) == width


@pytest.mark.parametrize("text", [EN, ZH, EN + " " + ZH])
@pytest.mark.parametrize("max_width", [8, 24])
def test_truncate_label_respects_display_width(text, max_width):
    label = truncate_label(text, max_width)
    assert display_width(label) <= max_width
    assert label.endswith("…")
    assert text.startswith(label[:-1].rstrip())


def test_truncate_label_keeps_short_text_and_flattens_whitespace():
    assert truncate_label("short\n text", 24) == "short text"


def test_hover_text_escapes_html_and_wraps():
    text = "<script>alert(1)</script> " + "word " * 40
    out = hover_text(text, line_width=30)
    assert "<script>" not in out and "&lt;script&gt;" in out
    lines = out.split("<br>")
    assert len(lines) > 3
    assert all(
        display_width(line.replace("&lt;", "<").replace("&gt;", ">")) <= 30 for line in lines
    )


def test_hover_text_wraps_chinese_without_spaces_and_keeps_every_character():
    out = hover_text(ZH * 4, line_width=20)
    lines = out.split("<br>")
    assert len(lines) >= 4
    assert "".join(lines) == ZH * 4


def test_hover_text_caps_very_long_text():
    out = hover_text("x" * 5000, max_chars=100)
    assert out.replace("<br>", "").endswith("…")
    assert len(out.replace("<br>", "")) == 100


def _points(n: int, rng) -> np.ndarray:
    return rng.standard_normal((n, 2)).astype(np.float32)


def test_projection_figure_documents_only(rng):
    texts = [f"doc {i}" for i in range(5)]
    fig = projection_figure(_points(5, rng), texts, doc_sources=["a.txt"] * 5)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["documents"]
    docs = fig.data[0]
    assert len(docs.x) == 5
    assert [row[0] for row in docs.customdata] == [0, 1, 2, 3, 4]
    assert "doc 3" in docs.hovertext[3] and "a.txt" in docs.hovertext[3]


def test_projection_figure_highlights_queries_hits_and_selection(rng):
    texts = [EN, ZH, "three", "four", "five", "six"]
    doc_xy = _points(6, rng)
    query_xy = _points(2, rng)
    fig = projection_figure(
        doc_xy,
        texts,
        query_xy=query_xy,
        query_texts=["q one", "问题二"],
        hit_ids=[[1, 2], [2, 4]],
        selected=5,
        neighbour_ids=[5, 0, 3],
    )
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {
        "documents",
        "query → hit",
        "top-k hits",
        "queries",
        "selected + neighbours",
    }
    hits = by_name["top-k hits"]
    assert [row[0] for row in hits.customdata] == [1, 2, 4]
    np.testing.assert_allclose(hits.x, doc_xy[[1, 2, 4], 0])
    assert ZH in hits.hovertext[0]
    assert "问题二" in by_name["queries"].hovertext[1]
    assert len(by_name["queries"].x) == 2
    ring = by_name["selected + neighbours"]
    assert [row[0] for row in ring.customdata] == [5, 0, 3]
    # One dotted segment (two points and a gap) per query-hit pair.
    assert len(by_name["query → hit"].x) == 3 * 4


def test_projection_figure_draws_queries_and_their_labels_above_hits_and_selection(rng):
    """Plotly paints traces in order: the query stars (with their Q1, Q2 labels) come last, so
    no hit marker or selection ring covers them."""
    fig = projection_figure(
        _points(4, rng),
        ["a", "b", "c", "d"],
        query_xy=_points(2, rng),
        query_texts=["q1", "q2"],
        hit_ids=[[0, 1], [1, 2]],
        selected=3,
        neighbour_ids=[0],
    )
    names = [t.name for t in fig.data]
    assert names == ["documents", "query → hit", "top-k hits", "selected + neighbours", "queries"]
    queries = fig.to_dict()["data"][-1]
    assert queries["mode"] == "markers+text" and list(queries["text"]) == ["Q1", "Q2"]
    without_hits = projection_figure(_points(2, rng), ["a", "b"], query_xy=_points(1, rng))
    assert [t.name for t in without_hits.data] == ["documents", "queries"]


@pytest.mark.parametrize(
    ("n_docs", "kind"), [(5, "scatter"), (figures.SVG_MAX_POINTS + 1, "scattergl")]
)
def test_projection_figure_traces_are_all_svg_or_all_webgl(n_docs, kind, rng):
    """Plotly paints WebGL traces above every SVG trace: mixing them would put the document
    dots over the hits and the query labels whatever the trace order."""
    fig = projection_figure(
        _points(n_docs, rng),
        [f"doc {i}" for i in range(n_docs)],
        query_xy=_points(1, rng),
        query_texts=["q"],
        hit_ids=[[0, 1]],
        selected=2,
        neighbour_ids=[3],
    )
    assert {t.type for t in fig.data} == {kind}
    assert fig.data[-1].name == "queries"


def test_projection_figure_refuses_mismatched_texts(rng):
    with pytest.raises(ValueError, match="2 doc_texts for 3 points"):
        projection_figure(_points(3, rng), ["a", "b"])
    with pytest.raises(ValueError, match=r"shape \(n_docs, 2\)"):
        projection_figure(np.zeros((3, 3)), ["a", "b", "c"])


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([{"curve_number": 0, "point_index": 4, "customdata": [4]}], 4),
        ([{"curve_number": 3, "point_index": 0}, {"customdata": [7]}], 7),
        ([{"curve_number": 3, "point_index": 0}], None),
        ([], None),
        ([{"customdata": 2}], 2),
        ([{"customdata": {"0": 5}}], 5),
        ([{"customdata": []}, {"customdata": [3]}], 3),
    ],
)
def test_selected_document_reads_customdata(points, expected):
    assert selected_document(points) == expected


@pytest.mark.parametrize("method", ["cosine", "dot", "euclidean"])
def test_similarity_heatmap_labels_hover_and_scale(method, rng):
    rows = [EN, ZH]
    cols = [f"document number {j} " + "long " * 10 for j in range(3)]
    matrix = rng.random((2, 3)).astype(np.float32)
    fig = similarity_heatmap(matrix, rows, cols, method=method)
    heat = fig.data[0]
    assert heat.type == "heatmap"
    np.testing.assert_array_equal(np.asarray(heat.z), matrix)
    # Tick labels are short; the category values (shown on hover) hold the full text.
    assert all(display_width(t) <= figures.LABEL_WIDTH for t in fig.layout.xaxis.ticktext)
    assert list(fig.layout.xaxis.tickvals) == list(heat.x)
    assert "".join(heat.y[1].split("<br>")).endswith(ZH)
    assert "long long" in heat.x[0]
    # Viridis runs dark purple -> yellow; distances reverse it so "close" is yellow in both.
    low_colour = heat.colorscale[0][1]
    assert low_colour == ("#fde725" if method == "euclidean" else "#440154")
    assert ("distance" if method == "euclidean" else "similarity") in fig.layout.title.text
    assert "%{z:.3f}" in heat.hovertemplate  # three decimals, as in the pages' tables


def test_similarity_heatmap_keeps_duplicate_texts_apart(rng):
    fig = similarity_heatmap(rng.random((2, 2)), ["same", "same"], ["x", "y"])
    assert len(set(fig.data[0].y)) == 2


def test_similarity_heatmap_refuses_wrong_shape():
    with pytest.raises(ValueError, match=r"matrix shape \(2, 2\) does not match 2 row texts × 3"):
        similarity_heatmap(np.zeros((2, 2)), ["a", "b"], ["a", "b", "c"])


def test_projection_figure_draws_a_subset_by_collection_row(rng):
    doc_ids = [3, 10, 42]
    xy = _points(3, rng)
    fig = projection_figure(
        xy,
        ["three", "ten", "forty-two"],
        doc_ids=doc_ids,
        query_xy=_points(1, rng),
        query_texts=["q"],
        hit_ids=[[42]],
        selected=10,
        neighbour_ids=[3],
    )
    by_name = {t.name: t for t in fig.data}
    assert [row[0] for row in by_name["documents"].customdata] == doc_ids
    assert "#42" in by_name["top-k hits"].hovertext[0]
    np.testing.assert_allclose(by_name["top-k hits"].x, xy[[2], 0])
    np.testing.assert_allclose(by_name["selected + neighbours"].x, xy[[1, 0], 0])
    with pytest.raises(ValueError, match=r"documents \[7\] are highlighted but not drawn"):
        projection_figure(xy, ["a", "b", "c"], doc_ids=doc_ids, selected=7)


def test_points_to_draw_keeps_everything_small_and_must_include_large():
    np.testing.assert_array_equal(figures.points_to_draw(4), np.arange(4))
    drawn = figures.points_to_draw(10_000, [9_999, 5], max_points=100, seed=1)
    assert {9_999, 5} <= set(drawn.tolist())
    assert 100 <= len(drawn) <= 102
    assert np.all(np.diff(drawn) > 0)
    np.testing.assert_array_equal(
        drawn, figures.points_to_draw(10_000, [9_999, 5], max_points=100, seed=1)
    )
