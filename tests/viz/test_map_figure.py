"""The map figure: colours and legend, density view past the WebGL limit, escaped hover text,
and box / lasso selections resolved against every point."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.viz import cluster_centres, map_figure, points_in_selection
from core.viz._map_figure import DENSITY_SAMPLE, NOISE_COLOUR


def grid(n_side: int = 10) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(n_side, dtype=np.float32), np.arange(n_side, dtype=np.float32))
    return np.column_stack([xs.ravel(), ys.ravel()])


def test_one_legend_entry_per_category_with_noise_grey_and_ids_as_customdata():
    xy = grid(4)
    cats = ["a"] * 8 + ["b"] * 6 + ["noise"] * 2
    fig = map_figure(xy, [f"t{i}" for i in range(16)], categories=cats, noise_category="noise")
    names = [t.name for t in fig.data]
    assert names == ["a", "b", "noise"]
    assert fig.data[2].marker.color == NOISE_COLOUR
    assert [c[0] for c in fig.data[1].customdata] == list(range(8, 14))
    assert fig.layout.dragmode == "select"


def test_document_text_is_escaped_in_hover_labels():
    fig = map_figure(np.zeros((1, 2)), ["<b>bold</b> & co"])
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in fig.data[0].hovertext[0]


def test_score_colouring_has_a_colour_bar():
    values = np.linspace(0, 1, 16)
    fig = map_figure(grid(4), ["t"] * 16, values=values, value_name="cosine with Q1")
    assert fig.data[0].marker.colorbar.title.text == "cosine with Q1"
    np.testing.assert_allclose(fig.data[0].marker.color, values)


def test_density_view_draws_a_histogram_a_sample_and_the_hits_on_top(rng=None):
    rng = np.random.default_rng(0)
    n = DENSITY_SAMPLE + 5_000
    xy = rng.standard_normal((n, 2)).astype(np.float32)
    fig = map_figure(xy, ["t"] * n, hit_ids=[3, n - 1], density=True)
    assert fig.data[0].type == "heatmap"
    assert (
        int(np.exp(np.asarray(fig.data[0].z)).round().sum() - np.asarray(fig.data[0].z).size) == n
    )
    assert len(fig.data[1].x) == DENSITY_SAMPLE
    assert fig.data[-1].name == "top hits" and len(fig.data[-1].x) == 2


def test_filters_draw_only_their_rows():
    fig = map_figure(grid(4), ["t"] * 16, drawn=[1, 2, 3])
    assert sorted(c[0] for c in fig.data[0].customdata) == [1, 2, 3]


def test_box_and_lasso_select_every_point_inside():
    xy = grid(10)
    box = {"x": [1.5, 3.5], "y": [-1, 0.5]}  # points (2, 0) and (3, 0)
    np.testing.assert_array_equal(points_in_selection(xy, boxes=[box]), [2, 3])
    triangle = {"x": [-0.5, 3.0, -0.5], "y": [-0.5, -0.5, 3.0]}  # x + y < 2.5
    np.testing.assert_array_equal(points_in_selection(xy, lassos=[triangle]), [0, 1, 2, 10, 11, 20])
    # A filter keeps the selection within its rows; nothing drawn, nothing selected.
    np.testing.assert_array_equal(points_in_selection(xy, boxes=[box], rows=np.array([3, 4])), [3])
    assert points_in_selection(xy).size == 0


def test_cluster_labels_sit_at_the_median_of_their_points():
    xy = np.array([[0, 0], [2, 0], [10, 10], [12, 10], [50, 50]], dtype=np.float32)
    centres = cluster_centres(xy, np.array([0, 0, 1, 1, -1]), {0: "a", 1: "b", -1: "noise"})
    assert centres == [("a", 1.0, 0.0), ("b", 11.0, 10.0)]


def test_mismatched_inputs_are_named():
    with pytest.raises(InvalidInputError, match="3 texts for 2 points"):
        map_figure(np.zeros((2, 2)), ["a", "b", "c"])
    with pytest.raises(InvalidInputError, match=r"xy must have shape \(n_docs, 2\)"):
        map_figure(np.zeros((2, 3)), ["a", "b"])
