"""The one place figures reach the page."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

_CONFIG = {"displaylogo": False, "scrollZoom": False}


def show_figure(
    fig: go.Figure,
    *,
    key: str | None = None,
    selectable: bool = False,
    modes: tuple[str, ...] = ("points",),
) -> Any:
    """Draw a Plotly figure at full width.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        Built by a pure function in ``core.viz._figures``.
    key : str, optional
        Widget key; required when ``selectable``.
    selectable : bool
        Rerun on a click or box/lasso selection and return the event (``.selection.points``).
    modes : tuple of str
        What a selection may be: ``"points"`` (clicks), ``"box"``, ``"lasso"``.

    Returns
    -------
    The selection event when ``selectable``, otherwise None.
    """
    if selectable:
        if key is None:
            raise ValueError("a selectable figure needs a key")
        return st.plotly_chart(
            fig,
            key=key,
            width="stretch",
            on_select="rerun",
            selection_mode=modes,
            config=_CONFIG,
        )
    st.plotly_chart(fig, key=key, width="stretch", config=_CONFIG)
    return None
