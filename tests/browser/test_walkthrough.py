"""A new visitor's walkthrough in a real browser, for what AppTests cannot see: a k outside
1 … n is brought into range with a note (the box does not just turn red), and short GBK and
Latin-1 files are read in their own encoding, said on the page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.test_dashboard import (
    LONG_S,
    documents_input,
    go_to,
    load_sample,
    wait_until_idle,
)


def test_k_outside_the_collection_is_clamped_with_a_note(page: Page):
    load_sample(page)
    go_to(page, "Search")
    for typed, said in [
        ("100", "k = 100 is more than the collection has 72 documents: searched with k = 72."),
        ("0", "k = 0 asks for no results: searched with k = 1, the smallest."),
    ]:
        page.get_by_label("k", exact=True).fill(typed)
        page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
        expect(page.get_by_text(said)).to_be_visible(timeout=LONG_S)
        wait_until_idle(page)


def test_short_gbk_and_latin1_files_are_read_right_and_said(page: Page, tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("熊猫主要吃竹子。\n长城很长。\n".encode("gbk"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Café crème brûlée.\nNaïve façade.\n".encode("latin-1"))
    go_to(page, "Upload & embed")
    documents_input(page).set_input_files([str(gbk), str(latin)])
    expect(page.get_by_text("4 documents from 2 file(s)")).to_be_visible(timeout=LONG_S)
    expect(page.get_by_text("gbk.txt: not UTF-8; read as gb18030 (detected)")).to_be_visible()
    expect(page.get_by_text("latin.txt: not UTF-8; read as cp1252 (detected)")).to_be_visible()
    preview = page.get_by_test_id("stDataFrame").first
    expect(preview).to_be_visible()
    # The preview is a canvas grid: its cells are read through the grid's accessible table.
    expect(preview.get_by_text("熊猫主要吃竹子。", exact=True)).to_be_attached()
    expect(preview.get_by_text("Café crème brûlée.", exact=True)).to_be_attached()
