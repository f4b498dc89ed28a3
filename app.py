"""Embedding Workbench — the dashboard's router.

Run with ``streamlit run app.py``. This file only configures the page, initialises session
state and hands over to the page chosen in the navigation; each page draws the shared sidebar
itself (``ui.frame.page_frame``, which explains why). The pages have no icons on purpose: a
Material icon becomes a favicon fetched from fonts.gstatic.com (unreachable offline), and emoji
need an emoji font the server's browser may lack.
"""

import streamlit as st

from ui import state
from ui.frame import PAGE_CONFIG
from ui.map import warm_umap

st.set_page_config(**PAGE_CONFIG)
state.init_state()
# From the server's first visitor on, UMAP's compiled code is prepared in the background (once
# per process; a no-op without umap-learn), so choosing UMAP on the Map page does not wait for it.
warm_umap()

# Each url_path is the file's name: the URL a deep link uses (``/search``), and the one
# Streamlit's automatic navigation gives a page before this file has run (see ui.frame).
pages = [
    st.Page("pages/home.py", title="Home", default=True),
    st.Page("pages/upload.py", title="Upload & embed", url_path="upload"),
    st.Page("pages/search.py", title="Search", url_path="search"),
    st.Page("pages/map.py", title="Map", url_path="map"),
    st.Page("pages/benchmark.py", title="Benchmark", url_path="benchmark"),
    st.Page("pages/similarity.py", title="Similarity matrix", url_path="similarity"),
    st.Page("pages/evaluate.py", title="Evaluate", url_path="evaluate"),
]
st.navigation(pages).run()
