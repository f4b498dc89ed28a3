"""Benchmark charts: pure functions from timing tables to ``go.Figure``.

Bars and lines of measured times with their spread (quartiles as error bars and on hover), and
the memory-vs-recall chart of the memory modes. Log axes are labelled at 1-2-5 values in plain
numbers (:func:`log_axis`), titles sit below Plotly's mode bar. The page and the tests use
them alike; the map and heatmaps of the search pages are in :mod:`core.viz._figures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.errors import InvalidInputError


def bar_figure(
    table: pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    y_title: str,
    color: str | None = None,
    log_y: bool = False,
    value_format: str = ".3g",
    spread: tuple[str, str] | None = None,
) -> go.Figure:
    """Grouped bars of ``table[y]`` by ``table[x]`` (one trace per ``color`` value).

    ``spread`` names two columns in the units of ``y`` (e.g. the quartiles of a timing), drawn
    as error bars and shown on hover; the bar's value then sits inside the bar, at its base,
    clear of the error bar. A log axis is labelled at 1-2-5 values (see :func:`log_axis`).
    """
    _require_columns(table, [x, y, *([color] if color else []), *(spread or ())])
    fig = go.Figure()
    groups = [(None, table)] if color is None else list(table.groupby(color, sort=False))
    for name, part in groups:
        fig.add_trace(
            go.Bar(
                x=part[x].astype(str),
                y=part[y],
                name=str(name) if name is not None else y,
                text=[format(float(v), value_format) for v in part[y]],
                textposition="outside" if spread is None else "inside",
                insidetextanchor="start",
                textangle=0,
                error_y=_error_bars(part, y, spread),
                customdata=_spread_data(part, spread),
                hovertemplate=_hover("%{x}", y_title, "%{y:.3g}", spread),
            )
        )
    fig.update_layout(
        yaxis_title=y_title,
        xaxis_title=x.replace("_", " "),
        barmode="group",
        showlegend=color is not None,
    )
    _benchmark_layout(fig, title, height=420)
    if log_y:
        values = list(table[y]) + (list(table[spread[1]]) if spread else [])
        # Bars start at the bottom of the axis: room below the shortest, and above the tallest
        # for its value (or error bar).
        fig.update_yaxes(**log_axis(values, pad_low=3.0, pad_high=4.0 if spread is None else 1.5))
    return fig


def line_figure(
    table: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str,
    title: str,
    x_title: str,
    y_title: str,
    log_x: bool = True,
    log_y: bool = True,
    spread: tuple[str, str] | None = None,
) -> go.Figure:
    """One line with markers per ``color`` value: scaling curves (log-log by default).

    ``spread`` names two columns in the units of ``y``, drawn as error bars.
    """
    _require_columns(table, [x, y, color, *(spread or ())])
    fig = go.Figure()
    for name, part in table.groupby(color, sort=False):
        part = part.sort_values(x)
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                mode="lines+markers",
                name=str(name),
                error_y=_error_bars(part, y, spread),
                customdata=_spread_data(part, spread),
                hovertemplate=_hover(f"{name}<br>{x_title} %{{x:,}}", y_title, "%{y:.3g}", spread),
            )
        )
    fig.update_layout(xaxis_title=x_title, yaxis_title=y_title)
    _benchmark_layout(fig, title, height=440)
    if log_x:
        fig.update_xaxes(**log_axis(table[x]))
    if log_y:
        values = list(table[y]) + (list(table[spread[1]]) if spread else [])
        fig.update_yaxes(**log_axis(values))
    return fig


def recall_memory_figure(table: pd.DataFrame) -> go.Figure:
    """Memory (MB) against recall@k per memory mode: the quantisation trade-off in one picture.

    ``table`` needs columns ``mode``, ``memory_mb`` and ``recall_at_k``.
    """
    _require_columns(table, ["mode", "memory_mb", "recall_at_k"])
    fig = go.Figure(
        go.Scatter(
            x=table["memory_mb"],
            y=table["recall_at_k"],
            mode="markers+text",
            text=table["mode"].astype(str),
            textposition="top center",
            marker={"size": 14},
            hovertemplate="%{text}<br>%{x:.3f} MB<br>recall %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="index memory (MB)", yaxis_title="recall@k")
    _benchmark_layout(fig, "Memory vs recall (exact float32 search = 1.0)", height=420)
    fig.update_yaxes(range=[-0.05, 1.1])
    return fig


# Buttons a benchmark chart does not need (selection tools, zoom steps, autoscale): fewer
# buttons keep the mode bar, shown on hover at the top right, short.
_MODEBAR_REMOVE = ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"]
# The title sits below the mode bar's row, so even on a half-width chart they never overlap.
_TITLE_TOP_PX = 34
_LOG_MANTISSAS = (1, 2, 5)


def _benchmark_layout(fig: go.Figure, title: str, *, height: int) -> None:
    fig.update_layout(
        title={
            "text": title,
            "x": 0,
            "xref": "paper",
            "xanchor": "left",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": _TITLE_TOP_PX},
        },
        height=height,
        margin={"l": 40, "r": 20, "t": _TITLE_TOP_PX + 50, "b": 40},
        modebar={"remove": _MODEBAR_REMOVE},
    )


def _error_bars(part: pd.DataFrame, y: str, spread: tuple[str, str] | None) -> dict | None:
    if spread is None:
        return None
    low, high = spread
    return {
        "type": "data",
        "symmetric": False,
        "array": (part[high] - part[y]).clip(lower=0).tolist(),
        "arrayminus": (part[y] - part[low]).clip(lower=0).tolist(),
        "thickness": 1,
        "width": 3,
    }


def _spread_data(part: pd.DataFrame, spread: tuple[str, str] | None) -> list | None:
    return None if spread is None else part[list(spread)].to_numpy().tolist()


def _hover(head: str, y_title: str, value: str, spread: tuple[str, str] | None) -> str:
    quartiles = (
        "" if spread is None else "<br>quartiles %{customdata[0]:.3g} – %{customdata[1]:.3g}"
    )
    return f"<b>{head}</b><br>{y_title}: {value}{quartiles}<extra></extra>"


def log_axis(values, *, pad_low: float = 1.1, pad_high: float = 1.1) -> dict:
    """Settings for a log axis over ``values`` whose labels can be read without guessing.

    Plotly's own log ticks label the minor steps ("5, 2, 10, 5, 2") so that 50 cannot be told
    from 5. Here every label is a full number at a 1-2-5 step (1, 2, 5, 10, 20, ...), and when
    the axis spans more than 2.5 decades only the powers of ten are labelled, with the 2s and 5s
    as unlabelled minor ticks. The range runs from ``min / pad_low`` to ``max * pad_high``,
    widened to the next 1-2-5 steps when fewer than two labels would fall inside.

    Parameters
    ----------
    values : iterable of float
        Non-positive and non-finite values are ignored (a log axis cannot show them).
    pad_low, pad_high : float
        Room below the smallest and above the largest value, as factors of at least 1.

    Returns
    -------
    dict
        Keyword arguments for ``fig.update_xaxes`` / ``update_yaxes``.
    """
    finite = [float(v) for v in values if np.isfinite(v) and v > 0]
    if not finite:
        return {"type": "log"}
    lo, hi = min(finite) / pad_low, max(finite) * pad_high
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    steps = [float(f"{m}e{e}") for e in range(first, last + 1) for m in _LOG_MANTISSAS]
    if sum(lo <= s <= hi for s in steps) < 2:
        lo, hi = max(s for s in steps if s <= lo), min(s for s in steps if s >= hi)
    ticks = [s for s in steps if lo <= s <= hi]
    if np.log10(hi / lo) <= 2.5:
        major, minor = ticks, []
    else:
        major = [s for s in ticks if f"{s:e}".startswith("1")]
        minor = [s for s in ticks if s not in major]
    return {
        "type": "log",
        "range": [float(np.log10(lo)), float(np.log10(hi))],
        "tickmode": "array",
        "tickvals": major,
        "ticktext": [_tick_label(v) for v in major],
        # Minor steps get grid lines only: a tick mark there reads like a label ("-").
        "minor": {"tickmode": "array", "tickvals": minor, "showgrid": True},
    }


def _tick_label(value: float) -> str:
    """1-2-5 tick values as plain numbers: 0.05, 0.2, 1, 20, 5,000."""
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _require_columns(table: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InvalidInputError(f"table has no column(s) {missing}; it has {list(table.columns)}")
