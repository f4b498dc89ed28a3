"""Filtering and changing documents in a real browser: the Search page's metadata filter, and
the Upload page's documents table with its own filter."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from core.data._sample import SAMPLE_DOCUMENTS
from tests.browser.test_dashboard import LONG_S, go_to, load_sample, wait_until_idle

N_ZH = sum(d.lang == "zh" for d in SAMPLE_DOCUMENTS)


def test_search_filter_and_documents_table(page: Page):
    load_sample(page)
    go_to(page, "Search")
    wait_until_idle(page)
    page.get_by_role("textbox", name="Metadata filter (optional)").fill('lang = "zh"')
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_text(f"Metadata filter: {N_ZH} of 72 documents pass.")).to_be_visible(
        timeout=LONG_S
    )
    wait_until_idle(page)
    page.get_by_role("textbox", name="Metadata filter (optional)").fill("lang = zh")
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    expect(page.get_by_text("The metadata filter cannot be used:")).to_be_visible(timeout=LONG_S)
    expect(page.get_by_text("expected a value", exact=False)).to_be_visible()

    go_to(page, "Upload & embed")
    wait_until_idle(page)
    expect(page.get_by_role("heading", name="Documents in the collection")).to_be_visible()
    expect(page.get_by_role("button", name="Delete selected")).to_be_disabled()
    page.get_by_role("textbox", name="Metadata filter (optional)").fill('lang = "nope"')
    page.get_by_role("textbox", name="Metadata filter (optional)").press("Enter")
    expect(page.get_by_text("No document matches the metadata filter")).to_be_visible(
        timeout=LONG_S
    )
