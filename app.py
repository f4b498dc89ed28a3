"""Embedding Workbench — the dashboard's router.

Run with ``streamlit run app.py``. This file only configures the page, initialises session
state and hands over to the page chosen in the navigation; each page draws the shared sidebar
itself (``ui.frame.page_frame``, which explains why).
"""

import streamlit as st

from ui import state
from ui.frame import PAGE_CONFIG

st.set_page_config(**PAGE_CONFIG)
state.init_state()

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/upload.py", title="Upload & embed", icon=":material/upload_file:"),
    st.Page("pages/search.py", title="Search", icon=":material/search:"),
    st.Page("pages/benchmark.py", title="Benchmark", icon=":material/speed:"),
    st.Page("pages/similarity.py", title="Similarity matrix", icon=":material/grid_on:"),
]
st.navigation(pages).run()
