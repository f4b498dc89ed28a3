"""Streamlit glue for the dashboard: session-state keys, cache wrappers, one figure helper and
small components. Pages import from here and from ``core``; ``core`` never imports this.
"""
