"""Plotly figure builders: pure functions from arrays and tables to ``go.Figure``.

Nothing here draws or imports Streamlit; the dashboard hands the figures to one display helper,
and tests inspect them directly (trace types, point counts, hover text, axis titles).

Text from documents is untrusted: it is HTML-escaped before it reaches a hover label or a tick
label (Plotly renders a subset of HTML there, links included), wrapped for readability, and
capped in length. Axis labels are truncated by *display width*, so a Chinese label (two
columns per character) is cut as short, on screen, as an English one.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.errors import InvalidInputError
from core.search._metrics import get_metric

HOVER_MAX_CHARS = 600
HOVER_LINE_WIDTH = 60
LABEL_WIDTH = 24

_DOC_COLOUR = "#9aa5b1"
_HIT_COLOUR = "#ef553b"
_QUERY_COLOUR = "#1f77b4"
_SELECTED_COLOUR = "#00a676"
# Up to this many points the map is SVG; above, WebGL. Plotly paints WebGL traces on a canvas
# above every SVG trace, so all the map's traces share one kind and trace order decides what
# is on top (documents, then hits, then the queries and their labels).
SVG_MAX_POINTS = 2_000


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: wide (CJK) characters count two, others one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def truncate_label(text: str, max_width: int = LABEL_WIDTH) -> str:
    """One-line label of at most ``max_width`` display columns, ending in "…" when cut."""
    flat = " ".join(str(text).split())
    if display_width(flat) <= max_width:
        return flat
    out, width = [], 0
    for ch in flat:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if width + w > max_width - 1:
            break
        out.append(ch)
        width += w
    return "".join(out).rstrip() + "…"


def hover_text(
    text: str, *, max_chars: int = HOVER_MAX_CHARS, line_width: int = HOVER_LINE_WIDTH
) -> str:
    """HTML-escaped text wrapped with ``<br>`` every ``line_width`` display columns.

    Texts longer than ``max_chars`` characters are cut and end in "…".
    """
    flat = " ".join(str(text).split())
    if len(flat) > max_chars:
        flat = flat[: max_chars - 1].rstrip() + "…"
    lines, line, width = [], [], 0
    for word in _wrap_units(flat):
        w = display_width(word)
        if width + w > line_width and line:
            lines.append("".join(line).strip())
            line, width = [], 0
        line.append(word)
        width += w
    if line:
        lines.append("".join(line).strip())
    return "<br>".join(html.escape(part) for part in lines)


def _wrap_units(text: str) -> list[str]:
    """Split into wrap units: a word with its trailing space, or a single wide character."""
    units, current = [], []
    for ch in text:
        if unicodedata.east_asian_width(ch) in "WF":
            if current:
                units.append("".join(current))
                current = []
            units.append(ch)
        else:
            current.append(ch)
            if ch == " ":
                units.append("".join(current))
                current = []
    if current:
        units.append("".join(current))
    return units


def projection_figure(
    doc_xy: np.ndarray,
    doc_texts: Sequence[str],
    *,
    doc_sources: Sequence[str] | None = None,
    doc_ids: Sequence[int] | None = None,
    query_xy: np.ndarray | None = None,
    query_texts: Sequence[str] | None = None,
    hit_ids: Sequence[Sequence[int]] | None = None,
    selected: int | None = None,
    neighbour_ids: Sequence[int] | None = None,
    title: str = "Corpus projection",
    axis_titles: tuple[str, str] = ("component 1", "component 2"),
) -> go.Figure:
    """Scatter of projected documents, with queries, their hits and a selection highlighted.

    Every document point carries its row index as ``customdata[0]`` (see
    :func:`selected_document`), so a click can be mapped back to the collection.

    Parameters
    ----------
    doc_xy : numpy.ndarray of shape (n_docs, 2)
    doc_texts : sequence of str, length n_docs
        Full text, shown (escaped, wrapped) on hover.
    doc_sources : sequence of str, length n_docs, optional
    doc_ids : sequence of int, length n_docs, optional
        Collection row of each point when only a subset is drawn (default ``0..n_docs-1``).
        ``hit_ids``, ``selected`` and ``neighbour_ids`` are collection rows and must be drawn.
    query_xy : numpy.ndarray of shape (n_queries, 2), optional
    query_texts : sequence of str, length n_queries, optional
    hit_ids : sequence of int sequences, optional
        The top-k document rows of each query; drawn in a highlight colour with a line to the
        query.
    selected : int, optional
        A clicked document row, drawn as a large ring.
    neighbour_ids : sequence of int, optional
        That document's nearest neighbours, drawn in the selection colour.
    """
    doc_xy = np.asarray(doc_xy, dtype=np.float32)
    n_docs = doc_xy.shape[0]
    if doc_xy.ndim != 2 or doc_xy.shape[1] != 2:
        raise InvalidInputError(f"doc_xy must have shape (n_docs, 2), got {doc_xy.shape}")
    if len(doc_texts) != n_docs:
        raise InvalidInputError(f"{len(doc_texts)} doc_texts for {n_docs} points; they must match")
    sources = list(doc_sources) if doc_sources is not None else [""] * n_docs
    ids = np.arange(n_docs) if doc_ids is None else np.asarray(doc_ids, dtype=np.int64)
    if ids.shape != (n_docs,):
        raise InvalidInputError(f"{ids.shape[0]} doc_ids for {n_docs} points; they must match")
    row_of = {int(doc): row for row, doc in enumerate(ids)}

    def rows(docs: Sequence[int]) -> list[int]:
        missing = [int(d) for d in docs if int(d) not in row_of]
        if missing:
            raise InvalidInputError(f"documents {missing[:5]} are highlighted but not drawn")
        return [row_of[int(d)] for d in docs]

    doc_hover = [
        f"<b>#{doc}</b> {html.escape(str(src))}<br>{hover_text(t)}"
        for doc, t, src in zip(ids, doc_texts, sources, strict=True)
    ]
    scatter = go.Scatter if n_docs <= SVG_MAX_POINTS else go.Scattergl
    fig = go.Figure()
    fig.add_trace(
        scatter(
            x=doc_xy[:, 0],
            y=doc_xy[:, 1],
            mode="markers",
            name="documents",
            marker={"size": 7, "color": _DOC_COLOUR, "opacity": 0.75},
            customdata=_as_customdata(ids),
            hovertext=doc_hover,
            hoverinfo="text",
        )
    )
    if hit_ids is not None and query_xy is not None:
        query_xy = np.asarray(query_xy, dtype=np.float32)
        hits = sorted({int(i) for per_query in hit_ids for i in per_query})
        hit_rows = rows(hits)
        line_x: list[float | None] = []
        line_y: list[float | None] = []
        for q, per_query in enumerate(hit_ids):
            for r in rows(per_query):
                line_x += [float(query_xy[q, 0]), float(doc_xy[r, 0]), None]
                line_y += [float(query_xy[q, 1]), float(doc_xy[r, 1]), None]
        fig.add_trace(
            scatter(
                x=line_x,
                y=line_y,
                mode="lines",
                name="query → hit",
                line={"color": _HIT_COLOUR, "width": 1, "dash": "dot"},
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            scatter(
                x=doc_xy[hit_rows, 0],
                y=doc_xy[hit_rows, 1],
                mode="markers",
                name="top-k hits",
                marker={"size": 11, "color": _HIT_COLOUR, "line": {"width": 1, "color": "white"}},
                customdata=_as_customdata(hits),
                hovertext=[doc_hover[r] for r in hit_rows],
                hoverinfo="text",
            )
        )
    if selected is not None:
        ring = [int(selected), *[int(i) for i in (neighbour_ids or []) if int(i) != selected]]
        ring_rows = rows(ring)
        fig.add_trace(
            scatter(
                x=doc_xy[ring_rows, 0],
                y=doc_xy[ring_rows, 1],
                mode="markers",
                name="selected + neighbours",
                marker={
                    "size": [18] + [12] * (len(ring) - 1),
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 3, "color": _SELECTED_COLOUR},
                },
                customdata=_as_customdata(ring),
                hovertext=[doc_hover[r] for r in ring_rows],
                hoverinfo="text",
            )
        )
    if query_xy is not None:
        # Last, so the query stars and their Q1, Q2... labels are drawn above the hit markers.
        query_xy = np.asarray(query_xy, dtype=np.float32)
        texts = list(query_texts) if query_texts is not None else [""] * len(query_xy)
        fig.add_trace(
            scatter(
                x=query_xy[:, 0],
                y=query_xy[:, 1],
                mode="markers+text",
                name="queries",
                text=[f"Q{q + 1}" for q in range(len(query_xy))],
                textposition="top center",
                # A halo ("auto": the background colour) keeps a label legible over a dot;
                # WebGL text has no shadow.
                textfont={"color": _QUERY_COLOUR, "size": 13, "weight": "bold"}
                | ({"shadow": "auto"} if scatter is go.Scatter else {}),
                marker={
                    "size": 16,
                    "symbol": "star",
                    "color": _QUERY_COLOUR,
                    "line": {"width": 1, "color": "white"},
                },
                hovertext=[f"<b>Query {q + 1}</b><br>{hover_text(t)}" for q, t in enumerate(texts)],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=axis_titles[0],
        yaxis_title=axis_titles[1],
        height=520,
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
        clickmode="event+select",
    )
    return fig


def points_to_draw(
    n_docs: int, must_include: Sequence[int] = (), *, max_points: int = 5_000, seed: int = 0
) -> np.ndarray:
    """Collection rows to draw: all of them, or a seeded sample of ``max_points`` that always
    contains ``must_include`` (hits, the selection), sorted. int64 of shape (n_drawn,)."""
    if n_docs <= max_points:
        return np.arange(n_docs, dtype=np.int64)
    keep = {int(i) for i in must_include}
    rng = np.random.default_rng(seed)
    sample = rng.choice(n_docs, size=max_points, replace=False)
    return np.array(sorted(keep | {int(i) for i in sample}), dtype=np.int64)


def _as_customdata(ids) -> list[list[int]]:
    """Row ids as plain nested lists: a NumPy array would be sent as a typed array, which
    comes back from a click as ``{"0": id}`` instead of ``[id]``."""
    return [[int(i)] for i in ids]


def selected_document(points: Sequence[dict]) -> int | None:
    """Document row of the first clicked point that is a document (``customdata[0]``), if any.

    Accepts ``customdata`` as a list (``[7]``), a scalar (``7``) or a serialised typed-array row
    (``{"0": 7}``).
    """
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, dict):
            custom = custom.get("0")
        if isinstance(custom, list | tuple):
            custom = custom[0] if custom else None
        if custom is not None:
            return int(custom)
    return None


def similarity_heatmap(
    matrix: np.ndarray,
    row_texts: Sequence[str],
    col_texts: Sequence[str],
    *,
    method: str = "cosine",
    row_title: str = "queries",
    col_title: str = "documents",
    label_width: int = LABEL_WIDTH,
    row_ids: Sequence[int] | None = None,
    col_ids: Sequence[int] | None = None,
) -> go.Figure:
    """Heatmap of a score matrix with truncated tick labels and the full texts on hover.

    The categorical axes use the (unique, escaped) full texts as their values and truncated
    labels as tick text, so the hover label shows the whole of both texts while the axes stay
    readable and the payload grows with ``m + n``, not ``m * n``.

    Parameters
    ----------
    matrix : numpy.ndarray of shape (m, n)
        Similarities (cosine, dot) or distances (euclidean).
    row_texts : sequence of str, length m
    col_texts : sequence of str, length n
    method : {"cosine", "dot", "euclidean"}
        Chooses the colour scale (reversed for distances, so bright = close for every method)
        and the colour-bar title.
    row_ids, col_ids : sequence of int, optional
        Document numbers of the rows / columns (shown as ``#12``). With ``col_ids`` the columns
        are labelled by number only, upright, so many columns never overlap into a band; the
        rows keep number and text.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape != (len(row_texts), len(col_texts)):
        raise InvalidInputError(
            f"matrix shape {matrix.shape} does not match {len(row_texts)} row texts × "
            f"{len(col_texts)} column texts"
        )
    for ids, texts, what in ((row_ids, row_texts, "row_ids"), (col_ids, col_texts, "col_ids")):
        if ids is not None and len(ids) != len(texts):
            raise InvalidInputError(f"{what} has {len(ids)} numbers for {len(texts)} texts")
    row_tags = [f"#{int(i)}" for i in row_ids] if row_ids is not None else None
    col_tags = [f"#{int(j)}" for j in col_ids] if col_ids is not None else None
    row_keys = [
        f"{row_tags[i] if row_tags else f'[{i}]'} {hover_text(t, line_width=50)}"
        for i, t in enumerate(row_texts)
    ]
    col_keys = [
        f"{col_tags[j] if col_tags else f'[{j}]'} {hover_text(t, line_width=50)}"
        for j, t in enumerate(col_texts)
    ]
    metric = get_metric(method)
    is_distance, score_name = metric.is_distance, metric.label
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=col_keys,
            y=row_keys,
            colorscale="Viridis_r" if is_distance else "Viridis",
            colorbar={"title": {"text": score_name}},
            hovertemplate=(
                f"<b>{row_title}</b> %{{y}}<br><br><b>{col_title}</b> %{{x}}"
                f"<br><br>{score_name}: %{{z:.3f}}<extra></extra>"
            ),
        )
    )
    if col_tags:
        fig.update_xaxes(
            title=f"{col_title} (number; hover for the text)",
            tickvals=col_keys,
            ticktext=col_tags,
            tickangle=-90 if len(col_tags) > 25 else 0,
            tickfont={"size": 10},
        )
    else:
        fig.update_xaxes(
            title=col_title,
            tickvals=col_keys,
            ticktext=[html.escape(truncate_label(t, label_width)) for t in col_texts],
            tickangle=-45,
        )
    # Tick labels are HTML to Plotly: document text is escaped so it shows as text.
    row_labels = [html.escape(truncate_label(t, label_width)) for t in row_texts]
    if row_tags:
        row_labels = [f"{tag} {label}" for tag, label in zip(row_tags, row_labels, strict=True)]
    fig.update_yaxes(
        title=row_title,
        tickvals=row_keys,
        ticktext=row_labels,
        autorange="reversed",
        tickfont={"size": 11 if len(row_texts) <= 40 else 9},
    )
    # Rows at least 14 px apart (tick labels of 9-11 px never overlap), up to 2,000 px.
    height = int(min(2000, max(380, (22 if len(row_texts) <= 40 else 15) * len(row_texts) + 220)))
    fig.update_layout(
        title=f"{score_name}: {len(row_texts)} {row_title} × {len(col_texts)} {col_title}",
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig
