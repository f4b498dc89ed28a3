"""The corpus map as a Plotly figure: coloured points (WebGL), cluster labels, hits, selection.

Up to :data:`WEBGL_MAX_POINTS` documents every point is drawn (``Scattergl``: one trace per
colour category, so the legend toggles them). Past that a browser slows down (each point costs
its hover text and customdata in the page), so the map becomes a **density view**: a 2-D
histogram of every document, with a seeded sample of :data:`DENSITY_SAMPLE` points for hovering
and selecting, and the query hits, the clicked point, its neighbours and the selection drawn on
top. Box and lasso selections are resolved on the server against *all* coordinates
(:func:`points_in_selection`), so they select every document inside, drawn or not.

Document text reaches hover labels HTML-escaped (:func:`core.viz._figures.hover_text`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.errors import InvalidInputError
from core.viz._figures import _as_customdata, hover_text, truncate_label

WEBGL_MAX_POINTS = 100_000
DENSITY_SAMPLE = 20_000
DENSITY_BINS = 200
MAX_CATEGORIES = 20  # colours in the legend; the rest are "other"
NOISE_COLOUR = "#c8ccd0"
OTHER_COLOUR = "#9aa5b1"
HIT_COLOUR = "#ef553b"
QUERY_COLOUR = "#1f77b4"
SELECTED_COLOUR = "#00a676"
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
    "#31a354", "#756bb1", "#636363", "#fd8d3c",
)  # fmt: skip


def category_colours(categories: Sequence[str], noise: str | None = None) -> dict[str, str]:
    """A fixed colour per category in the given order (the first :data:`MAX_CATEGORIES`),
    grey for ``noise`` and for "other"."""
    out = {}
    for i, name in enumerate(c for c in categories if c != noise):
        out[name] = PALETTE[i % len(PALETTE)] if i < MAX_CATEGORIES else OTHER_COLOUR
    if noise is not None:
        out[noise] = NOISE_COLOUR
    return out


def map_figure(
    xy: np.ndarray,
    texts: Sequence[str],
    *,
    drawn: Sequence[int] | None = None,
    categories: Sequence[str] | None = None,
    category_order: Sequence[str] | None = None,
    noise_category: str | None = None,
    values: np.ndarray | None = None,
    value_name: str = "score",
    cluster_labels: Sequence[tuple[str, float, float]] = (),
    query_xy: np.ndarray | None = None,
    query_texts: Sequence[str] = (),
    hit_ids: Sequence[int] = (),
    selected: int | None = None,
    neighbour_ids: Sequence[int] = (),
    highlighted: Sequence[int] = (),
    axis_titles: tuple[str, str] = ("", ""),
    title: str = "Map of the corpus",
    density: bool | None = None,
) -> go.Figure:
    """Scatter (or density) map of a corpus.

    Parameters
    ----------
    xy : numpy.ndarray of shape (n_docs, 2)
        Every document's position (collection order).
    texts : sequence of str, length n_docs
    drawn : sequence of int, optional
        Collection rows to draw (a filter); default all.
    categories : sequence of str, length n_docs, optional
        Colour by category (one legend entry each, in ``category_order``).
    noise_category : str, optional
        The category drawn grey and small (HDBSCAN's noise).
    values : numpy.ndarray of shape (n_docs,), optional
        Colour by a number instead (e.g. the score against a query), with a colour bar.
    cluster_labels : sequence of (label, x, y)
        Text drawn on the map at each cluster's centre.
    query_xy : numpy.ndarray of shape (n_queries, 2), optional
    hit_ids, neighbour_ids, highlighted : sequences of collection rows
        Search hits (red), a clicked document's neighbours (ringed) and the selection (ringed,
        drawn in density view too).
    selected : int, optional
        The clicked document.
    density : bool, optional
        Force the density view; default when more than :data:`WEBGL_MAX_POINTS` are drawn.

    Every point carries its collection row as ``customdata[0]``.
    """
    xy = np.asarray(xy, dtype=np.float32)
    n = xy.shape[0]
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InvalidInputError(f"xy must have shape (n_docs, 2), got {xy.shape}")
    if len(texts) != n:
        raise InvalidInputError(f"{len(texts)} texts for {n} points; they must match")
    rows = np.arange(n) if drawn is None else np.asarray(drawn, dtype=np.int64)
    if categories is not None and len(categories) != n:
        raise InvalidInputError(f"{len(categories)} categories for {n} points; they must match")
    if values is not None and len(values) != n:
        raise InvalidInputError(f"{len(values)} values for {n} points; they must match")
    dense = len(rows) > WEBGL_MAX_POINTS if density is None else density
    fig = go.Figure()
    point_rows = rows
    if dense:
        counts, xe, ye = np.histogram2d(xy[rows, 0], xy[rows, 1], bins=DENSITY_BINS)
        fig.add_trace(
            go.Heatmap(
                z=np.log1p(counts.T),
                x=(xe[:-1] + xe[1:]) / 2,
                y=(ye[:-1] + ye[1:]) / 2,
                colorscale="Greys",
                showscale=False,
                name="density",
                hoverinfo="skip",
            )
        )
        if len(rows) > DENSITY_SAMPLE:
            pick = np.random.default_rng(0).choice(len(rows), size=DENSITY_SAMPLE, replace=False)
            point_rows = np.sort(rows[pick])

    def hover(doc: int, extra: str = "") -> str:
        return f"<b>#{doc}</b>{extra}<br>{hover_text(texts[doc], max_chars=300)}"

    size = 4 if dense else (7 if len(rows) <= 5_000 else 4)
    opacity = 0.55 if dense else 0.8
    if values is not None:
        vals = np.asarray(values, dtype=np.float64)
        fig.add_trace(
            go.Scattergl(
                x=xy[point_rows, 0],
                y=xy[point_rows, 1],
                mode="markers",
                name=value_name,
                marker={
                    "size": size,
                    "color": vals[point_rows],
                    "colorscale": "Viridis",
                    "opacity": opacity,
                    "colorbar": {"title": {"text": value_name}},
                    "showscale": True,
                },
                customdata=_as_customdata(point_rows),
                hovertext=[hover(int(d), f" {value_name} {vals[d]:.3f}") for d in point_rows],
                hoverinfo="text",
                showlegend=False,
            )
        )
    else:
        cats = np.asarray(categories if categories is not None else ["documents"] * n, dtype=object)
        order = list(category_order) if category_order is not None else _by_size(cats[rows])
        colours = category_colours(order, noise_category)
        shown = set(order[:MAX_CATEGORIES]) | ({noise_category} if noise_category else set())
        groups = [c for c in order if c in shown]
        if any(c not in shown for c in order):
            groups.append("other")
        labels = np.where(np.isin(cats, list(shown)), cats, "other")
        for name in groups:
            members = point_rows[labels[point_rows] == name]
            if len(members) == 0:
                continue
            is_noise = name == noise_category
            fig.add_trace(
                go.Scattergl(
                    x=xy[members, 0],
                    y=xy[members, 1],
                    mode="markers",
                    name=truncate_label(str(name), 40),
                    marker={
                        "size": max(3, size - 2) if is_noise else size,
                        "color": colours.get(name, OTHER_COLOUR),
                        "opacity": 0.5 if is_noise else opacity,
                    },
                    customdata=_as_customdata(members),
                    hovertext=[hover(int(d), f" · {html.escape(str(name))}") for d in members],
                    hoverinfo="text",
                )
            )
    for name, ids, style in (
        ("selection", highlighted, {"size": 11, "line": {"width": 2, "color": "#111"}}),
        ("top hits", hit_ids, {"size": 12, "color": HIT_COLOUR, "line": {"width": 1}}),
    ):
        ids = [int(i) for i in ids]
        if not ids:
            continue
        marker = {"color": "rgba(0,0,0,0)"} | style
        fig.add_trace(
            go.Scattergl(
                x=xy[ids, 0],
                y=xy[ids, 1],
                mode="markers",
                name=name,
                marker=marker,
                customdata=_as_customdata(ids),
                hovertext=[hover(i) for i in ids],
                hoverinfo="text",
            )
        )
    if selected is not None:
        ring = [int(selected), *[int(i) for i in neighbour_ids if int(i) != selected]]
        fig.add_trace(
            go.Scattergl(
                x=xy[ring, 0],
                y=xy[ring, 1],
                mode="markers",
                name="clicked + neighbours",
                marker={
                    "size": [18] + [12] * (len(ring) - 1),
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 3, "color": SELECTED_COLOUR},
                },
                customdata=_as_customdata(ring),
                hovertext=[hover(i) for i in ring],
                hoverinfo="text",
            )
        )
    if query_xy is not None and len(query_xy):
        q = np.asarray(query_xy, dtype=np.float32)
        fig.add_trace(
            go.Scattergl(
                x=q[:, 0],
                y=q[:, 1],
                mode="markers+text",
                name="queries",
                text=[f"Q{i + 1}" for i in range(len(q))],
                textposition="top center",
                textfont={"color": QUERY_COLOUR, "size": 13},
                marker={"size": 16, "symbol": "star", "color": QUERY_COLOUR},
                hovertext=[
                    f"<b>Query {i + 1}</b><br>{hover_text(t)}" for i, t in enumerate(query_texts)
                ],
                hoverinfo="text",
            )
        )
    for label, lx, ly in cluster_labels:
        fig.add_annotation(
            x=float(lx),
            y=float(ly),
            text=html.escape(truncate_label(label, 36)),
            showarrow=False,
            font={"size": 12, "color": "#111"},
            bgcolor="rgba(255,255,255,0.75)",
        )
    fig.update_layout(
        title=title,
        xaxis_title=axis_titles[0],
        yaxis_title=axis_titles[1],
        height=620,
        dragmode="select",
        clickmode="event+select",
        legend={"itemsizing": "constant"},
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
    )
    return fig


def _by_size(cats: np.ndarray) -> list[str]:
    names, first, counts = np.unique(cats.astype(str), return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    return [str(names[i]) for i in order]


def cluster_centres(
    xy: np.ndarray, clusters: np.ndarray, labels: dict[int, str], *, rows: np.ndarray | None = None
) -> list[tuple[str, float, float]]:
    """``(label, x, y)`` at the median position of each cluster's (drawn) points, noise
    excluded."""
    xy = np.asarray(xy, dtype=np.float64)
    clusters = np.asarray(clusters)
    rows = np.arange(len(xy)) if rows is None else np.asarray(rows)
    out = []
    for c, label in labels.items():
        if c < 0:
            continue
        members = rows[clusters[rows] == c]
        if len(members):
            centre = np.median(xy[members], axis=0)
            out.append((label, float(centre[0]), float(centre[1])))
    return out


def points_in_selection(
    xy: np.ndarray,
    *,
    boxes: Sequence[dict] = (),
    lassos: Sequence[dict] = (),
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of ``xy`` inside any box or lasso drawn on the map (Plotly's selection geometry).

    Parameters
    ----------
    xy : numpy.ndarray of shape (n_docs, 2)
    boxes : sequence of dict
        ``{"x": [x0, x1], "y": [y0, y1]}``.
    lassos : sequence of dict
        ``{"x": [...], "y": [...]}``, a closed polygon (even-odd rule).
    rows : numpy.ndarray, optional
        Only these rows are candidates (a filter); default all.

    Returns
    -------
    numpy.ndarray
        int64, sorted.
    """
    xy = np.asarray(xy, dtype=np.float64)
    rows = np.arange(len(xy)) if rows is None else np.asarray(rows, dtype=np.int64)
    px, py = xy[rows, 0], xy[rows, 1]
    inside = np.zeros(len(rows), dtype=bool)
    for box in boxes:
        (x0, x1), (y0, y1) = sorted(map(float, box["x"][:2])), sorted(map(float, box["y"][:2]))
        inside |= (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
    for lasso in lassos:
        vx = np.asarray(lasso["x"], dtype=np.float64)
        vy = np.asarray(lasso["y"], dtype=np.float64)
        if len(vx) < 3 or len(vx) != len(vy):
            continue
        hit = np.zeros(len(rows), dtype=bool)
        jx, jy = np.roll(vx, 1), np.roll(vy, 1)
        for ax, ay, bx, by in zip(vx, vy, jx, jy, strict=True):
            crosses = (ay > py) != (by > py)
            with np.errstate(divide="ignore", invalid="ignore"):
                at = (bx - ax) * (py - ay) / (by - ay) + ax
            hit ^= crosses & (px < at)
        inside |= hit
    return np.sort(rows[inside])
