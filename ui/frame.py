"""What every page starts with: page settings, session-state defaults and the sidebar.

Why each page calls :func:`page_frame` instead of relying on ``app.py`` alone: Streamlit treats a
folder named ``pages/`` next to the entry point as a version-1 multipage app until
``st.navigation`` has been called once in the process. In that state — the first request after
a restart that deep-links to a page (``/search``), and ``AppTest`` runs of a page — the page
script runs *without* ``app.py``, under an automatic navigation made of the file names
(``app, benchmark, home, …``). :func:`page_frame` then switches the process to ``app.py``'s
navigation and reruns: the rerun lands on the same page (``app.py`` gives each page the
``url_path`` of its file name), now under the real navigation. Everything here is idempotent
within a run.
"""

from __future__ import annotations

import streamlit as st

from core.surface import set_surface
from ui import state
from ui.kept import render_restore_offer
from ui.sidebar import render_sidebar

PAGE_CONFIG = {
    "page_title": "Embedding Workbench",
    # An emoji favicon is an inline SVG; a Material icon would be fetched from fonts.gstatic.com,
    # which an offline deployment cannot reach.
    "page_icon": "🧭",
    "layout": "wide",
    # "auto": open on a wide screen, closed on a phone, where an open sidebar covers the page.
    "initial_sidebar_state": "auto",
}


# Our own CSS, no document text in it. Streamlit's uploader puts the reason it refuses a file
# ("File must be 50.0MB or smaller.") in a visually hidden alert, shown only as a tooltip on
# hover: this makes that alert visible under the refused file's name (screen readers already
# read it). The selectors are Streamlit 1.67's test ids and ARIA attributes, not its classes.
UPLOADER_CSS = """<style>
[data-testid="stFileChip"][aria-invalid="true"] span[role="alert"] {
  position: static; width: auto; height: auto; clip: auto; clip-path: none;
  overflow: visible; white-space: normal; margin: 0.15rem 0 0 0;
  font-size: 0.8rem; font-weight: 600; line-height: 1.2;
}
</style>"""


def _leave_automatic_navigation() -> None:
    """Rerun through ``app.py`` if Streamlit ran this page under its automatic navigation.

    ``PagesManager.uses_pages_directory`` is Streamlit's process-wide switch for that mode:
    ``st.navigation`` clears it, but only once ``app.py`` has run, which a deep link skips.
    ``AppTest`` sets the switch again before every run and shows no navigation: there the page
    simply runs on its own (a rerun would drop the click that started the run).
    """
    from streamlit import config  # AppTest patches config.get_option, not st.get_option
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_frame() -> None:
    """Set the page config, initialise session state, draw the sidebar and, at the top of the
    page, the offer to restore a collection kept on the server (``ui.kept``)."""
    _leave_automatic_navigation()
    set_surface("app")  # messages from core name the app's boxes, not command-line flags
    st.set_page_config(**PAGE_CONFIG)
    st.html(UPLOADER_CSS)  # style only: Streamlit adds it to the page without a block
    state.init_state()
    render_sidebar()
    render_restore_offer()
