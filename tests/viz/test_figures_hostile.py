"""Document text in figures is text: Plotly renders a subset of HTML (links, bold, line breaks)
in hover and tick labels, so every label is HTML-escaped (issue 9, finding 9)."""

from __future__ import annotations

import html

import numpy as np

from core.viz._figures import projection_figure, similarity_heatmap

LINK = '<a href="//e.co">click</a> <b>bold</b> &amp;'


def test_heatmap_tick_labels_are_escaped():
    fig = similarity_heatmap(np.eye(2, dtype=np.float32), [LINK, "q"], ["d", LINK]).to_dict()
    ticks = list(fig["layout"]["xaxis"]["ticktext"]) + list(fig["layout"]["yaxis"]["ticktext"])
    assert all("<" not in t and ">" not in t for t in ticks)
    assert html.unescape(fig["layout"]["yaxis"]["ticktext"][0]) == '<a href="//e.co">click<…'
    hovers = list(fig["data"][0]["x"]) + list(fig["data"][0]["y"])
    assert all("<a" not in h and "<b>" not in h for h in hovers)


def test_projection_hover_and_sources_are_escaped():
    fig = projection_figure(
        np.zeros((2, 2), np.float32), [LINK, "plain"], doc_sources=[LINK, "s"],
        query_xy=np.zeros((1, 2), np.float32), query_texts=[LINK],
    ).to_dict()  # fmt: skip
    for trace in fig["data"]:
        for label in trace.get("hovertext") or []:
            assert "<a" not in label and "<b>bold" not in label
