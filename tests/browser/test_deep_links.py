"""A shared link opened as the very first request of a freshly started app (Community Cloud
apps sleep and wake) lands on its page under the app's own navigation — not Streamlit's
automatic one made of file names (``app, benchmark, home, …``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT, serve_app

NAVIGATION = [
    "Home",
    "Upload & embed",
    "Search",
    "Map",
    "Benchmark",
    "Similarity matrix",
    "Evaluate",
]


@pytest.mark.parametrize(
    ("path", "heading"), [("search", "Search"), ("similarity", "Similarity matrix")]
)
def test_first_request_deep_link_shows_the_apps_navigation(chromium, tmp_path, path, heading):
    with serve_app(tmp_path) as url:  # a fresh process: no page has run in it yet
        context = chromium.new_context(viewport=VIEWPORT, locale="en-US")
        try:
            tab = context.new_page()
            tab.goto(f"{url}/{path}")
            expect(tab.get_by_role("heading", name=heading, exact=True)).to_be_visible(
                timeout=60_000
            )
            nav = tab.get_by_test_id("stSidebarNavLink")
            expect(nav).to_have_text(NAVIGATION)
            expect(tab.get_by_test_id("stSidebarNav")).not_to_contain_text("app")
            assert tab.url.rstrip("/").endswith(f"/{path}")
        finally:
            context.close()
