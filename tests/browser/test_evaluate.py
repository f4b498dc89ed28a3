"""The Evaluate page in a real browser: a visitor with no key presses Compare and sees both
offline models compared on the sample, the chart with error bars, the paired test, the
disagreements, and downloads the JSON; a bad label file is refused with its line."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.test_dashboard import LONG_S, go_to, load_sample, wait_until_idle

USE = "use-multilingual"
MINILM = "sentence-transformers:all-MiniLM-L6-v2"


def test_one_button_compares_the_offline_models_on_the_sample(page: Page, external_requests):
    go_to(page, "Evaluate")
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.get_by_role("heading", name="Results")).to_be_visible(timeout=LONG_S)
    wait_until_idle(page)
    expect(page.get_by_text("32 labelled queries on 72 documents")).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    legend = chart.locator(".legendtext")
    expect(legend.filter(has_text=f"{MINILM},mode=binary")).to_be_visible()
    expect(legend).to_have_count(6)
    expect(chart.locator(".errorbar").first).to_be_attached()
    verdict = page.get_by_text("nDCG@10: A ")
    expect(verdict).to_contain_text("significant at 0.05")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    records = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [r["config"] for r in records][:1] == [USE]
    assert {"recall@k", "mrr@k", "ndcg@k", "map@k", "per_query"} <= set(records[0])
    assert external_requests == []


def test_a_bad_label_file_is_refused_with_its_line(page: Page, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("query,relevant\n怎样烤面包？,cooking-01\nmarathon,sports-99\n", "utf-8")
    load_sample(page)
    go_to(page, "Evaluate")
    page.get_by_text("This session's collection, with my labelled queries").click()
    page.get_by_text("Document id column").wait_for()
    page.get_by_test_id("stSelectbox").filter(has_text="Document id column").click()
    page.get_by_role("option", name="id", exact=True).click()
    wait_until_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(labels))
    expect(page.get_by_text("labels.csv, line 3: 'sports-99' matches no document")).to_be_visible()
    expect(page.get_by_role("button", name="Compare", exact=True)).to_be_disabled()
