"""What every page starts with: page settings, session-state defaults and the sidebar.

Why each page calls :func:`page_frame` instead of relying on ``app.py`` alone: Streamlit treats a
folder named ``pages/`` next to the entry point as a version-1 multipage app until
``st.navigation`` has been called once in the process. In that state — the first request after
a restart that deep-links to a page, and every ``AppTest`` run — the page script runs *without*
``app.py``. Calling this first makes every page whole on its own, while ``app.py`` stays a
router. Everything here is idempotent within a run.
"""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.sidebar import render_sidebar

PAGE_CONFIG = {
    "page_title": "Embedding Workbench",
    # An emoji favicon is an inline SVG; a Material icon would be fetched from fonts.gstatic.com,
    # which an offline deployment cannot reach.
    "page_icon": "🧭",
    "layout": "wide",
    "initial_sidebar_state": "expanded",
}


def page_frame() -> None:
    """Set the page config, initialise session state and draw the sidebar."""
    st.set_page_config(**PAGE_CONFIG)
    state.init_state()
    render_sidebar()
