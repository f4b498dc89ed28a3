"""Retrieval-evaluation charts: metric means with their confidence intervals, per configuration.

Built from :func:`core.eval.summary_table` (columns ``config``, ``<metric>``, ``<metric> low``,
``<metric> high``); pure, so tests read the figure directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.errors import InvalidInputError


def metric_bars_figure(
    table: pd.DataFrame, metrics: Sequence[str], *, k: int, confidence: float = 0.95
) -> go.Figure:
    """Grouped bars: one group per metric, one bar per configuration, error bars = the interval.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per configuration: ``config`` and, per metric, ``<m>``, ``<m> low``, ``<m> high``.
    metrics : sequence of str
        Metric names (``"ndcg@k"``...), in display order.
    k : int
        The cut-off, written into the metric names on the axis.
    confidence : float
        Coverage of the intervals, for the hover text and the title.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``go.Bar`` trace per configuration (named by it), y in [0, 1].
    """
    needed = ["config"] + [f"{m}{s}" for m in metrics for s in ("", " low", " high")]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise InvalidInputError(f"the table has no column(s) {', '.join(missing)}")
    if not metrics:
        raise InvalidInputError("choose at least one metric to draw")
    from core.eval import METRIC_LABELS  # here, not at import: core.viz stays light

    names = [METRIC_LABELS.get(m, m).replace("@k", f"@{k}") for m in metrics]
    level = round(100 * confidence)
    fig = go.Figure()
    for _, row in table.iterrows():
        means = np.array([row[m] for m in metrics], dtype=float)
        low = np.array([row[f"{m} low"] for m in metrics], dtype=float)
        high = np.array([row[f"{m} high"] for m in metrics], dtype=float)
        fig.add_trace(
            go.Bar(
                x=names,
                y=means,
                name=escape(str(row["config"])),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": high - means,
                    "arrayminus": means - low,
                },
                customdata=np.stack([low, high], axis=1),
                text=[f"{v:.3f}" for v in means],
                textposition="inside",
                insidetextanchor="start",
                hovertemplate=(
                    "%{fullData.name}<br>%{x}: %{y:.3f}"
                    f"<br>{level}% interval: " + "%{customdata[0]:.3f} – %{customdata[1]:.3f}"
                    "<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        barmode="group",
        yaxis={"title": "mean over queries", "range": [0, 1.05]},
        title={"text": f"Retrieval quality (error bars: {level}% bootstrap interval)", "y": 0.97},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15},
        margin={"t": 60, "b": 40},
        height=460,
    )
    return fig
