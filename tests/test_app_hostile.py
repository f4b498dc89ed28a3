"""The hosted dashboard against hostile visitors (issue 9, findings 9 and "Also"): document text
that tries to be Markdown, sessions that must never share a vector store, and a memory budget
for the whole process."""

from __future__ import annotations

import gc
import re

import pytest

from core.data._sample import SAMPLE_DOCUMENTS
from tests.app_support import assert_ok, load_sample, new_app, open_page, shown
from ui import budget
from ui.text import md

HOSTILE = (
    "![p](http://127.0.0.1:9/x.png) [link](http://e.co) <http://e.co> **bold** :red[red] "
    ':smile: $x^2$ ~~s~~ `c` &lt;b&gt; www.e.co me@e.co <a href="//e.co">a</a>'
)


@pytest.mark.parametrize(
    "text",
    [HOSTILE, "# heading", "1. list", "- item", "> quote", "=== rule", "plain text. 中文。",
     "a\n\nb\n    code", "\\*not bold\\*"],
)  # fmt: skip
def test_md_keeps_every_character_and_no_markup(text):
    escaped = md(text)
    assert shown(escaped) == " ".join(text.split())
    assert live_markup(escaped) == []


def live_markup(markdown: str) -> list[str]:
    """Unescaped characters Markdown would act on, shortcodes, autolinks and line-start marks."""
    found = re.findall(r"(?<!\\)[\[\]*_`~$<&]", markdown)
    found += re.findall(r"(?<!\\)[:@](?=\w)|www|^\s*(?:[#>+=-]|\d+[.)])", markdown)
    return found


def upload_and_embed(at, name: str, data: bytes):
    open_page(at, "upload")
    at.file_uploader(key="up_files").set_value([(name, data, "text/plain")])
    at.run()
    at.button(key="up_embed").click().run()
    assert_ok(at)


def test_document_text_reaches_the_search_page_as_text_only():
    at = new_app()
    upload_and_embed(at, "evil.txt", (HOSTILE + "\nSaturn has bright rings of ice.\n").encode())
    open_page(at, "search")
    at.text_area(key="w_search_queries").set_value("rings ![q](http://e.co/q.png)")
    at.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(at)
    best = [m.value for m in at.markdown if "Top result" in m.value]
    assert best, "no top-result line"
    for line in best:
        assert live_markup(line.replace("**Q1**", "").replace("**Top result**", "")) == []
    assert "rings ![q](http://e.co/q.png)" in shown(best[0])
    assert " ".join(HOSTILE.split()) in shown(best[0])


def test_a_hostile_file_name_in_an_error_is_text():
    at = new_app()
    open_page(at, "upload")
    name = "![x](http://e.co/x.png).txt"
    at.file_uploader(key="up_files").set_value([(name, b"\x00binary", "text/plain")])
    at.run()
    (error,) = [e.value for e in at.error]
    assert live_markup(error) == []
    assert shown(error).startswith(f"{name}, byte 0: this looks like a binary file")


def store_of(at):
    return at.session_state["embed_store"]


def test_two_sessions_never_share_a_vector_store():
    """Fails if every session shared one store (checked by making ui.cache.session_store
    return a module-level store: this test then fails on both assertions)."""
    first, second = new_app(), new_app()
    upload_and_embed(first, "one.txt", b"A private note about my bank account.\n")
    upload_and_embed(second, "two.txt", b"Another visitor's unrelated text.\n")
    one, two = store_of(first), store_of(second)
    assert one is not two
    assert set(one.yield_keys()).isdisjoint(two.yield_keys())
    assert first.session_state["collection"].texts == ["A private note about my bank account."]
    assert second.session_state["collection"].texts == ["Another visitor's unrelated text."]


@pytest.fixture
def tiny_budget():
    """A process budget that holds one sample collection (72 x 512 float32, 144 KiB) but not
    two; restored afterwards."""
    gc.collect()  # sessions of earlier tests stop counting
    yield budget.reset_process_budget(200 * 2**10)
    budget.reset_process_budget()


def test_sessions_beyond_the_process_budget_get_a_clear_message(tiny_budget):
    first = load_sample(new_app())
    assert tiny_budget.used() >= 72 * 512 * 4
    second = new_app()
    second.button(key="load_sample").click().run()
    assert_ok(second)
    (error,) = [e.value for e in second.error]
    assert shown(error).startswith(
        "Embedding the sample failed: This app's memory, shared by everyone using it, is nearly "
        "full: the sessions open now hold "
    )
    assert "come back in a few minutes" in error
    assert second.session_state["collection"] is None
    assert first.session_state["collection"] is not None  # the first visitor is untouched
    del first
    gc.collect()  # the first session closes: its memory is free again
    second.button(key="load_sample").click().run()
    assert any("Loaded the sample: 72 documents" in s.value for s in second.success)
    assert len(second.session_state["collection"]) == len(SAMPLE_DOCUMENTS)
