"""Keep the collection on the server, reload, restore in one click — and the hostile cases: a
forged key, an expired one, one whose copy was removed. A "reload" is a new AppTest (a new
session) opened with the same page address (query parameters)."""

from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from core.data._sample import SAMPLE_QUERIES
from core.services import KeptCollections
from tests.app_support import (
    APP,
    TIMEOUT_S,
    assert_ok,
    expected_text,
    load_sample,
    new_app,
    open_page,
    shown,
)
from ui import kept as kept_ui

KEEP = "kept_keep"


@pytest.fixture(scope="module")
def kept_dir(tmp_path_factory):
    """A real directory for this module's kept collections (never the user's cache)."""
    root = tmp_path_factory.mktemp("kept")
    mp = pytest.MonkeyPatch()
    mp.setenv(kept_ui.KEPT_DIR_ENV, str(root))
    kept_ui.kept_store.clear()
    yield root
    kept_ui.kept_store.clear()
    mp.undo()


def reload(address: dict, page: str = "home") -> AppTest:
    """A new session opened at ``address`` (the query parameters of the old page)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.query_params.update(address)
    at.run()
    assert_ok(at)
    return open_page(at, page) if page != "home" else at


def kept_sample() -> tuple[AppTest, str]:
    at = open_page(load_sample(new_app()), "upload")
    assert at.button(key=KEEP).label == kept_ui.KEEP_LABEL
    at.button(key=KEEP).click().run()
    assert_ok(at)
    token = at.query_params[kept_ui.QUERY_KEY]
    token = token[0] if isinstance(token, list) else token
    return at, token


@pytest.fixture(scope="module")
def kept(kept_dir):
    return kept_sample()


def test_keeping_says_until_when_and_puts_the_key_in_the_address(kept):
    at, token = kept
    assert len(token) == 43 and at.session_state["kept_token"] == token
    (success,) = [s.value for s in at.success if "Kept on the server" in s.value]
    assert "This page's address now holds its private key" in success
    captions = "\n".join(c.value for c in at.caption)
    assert "a copy is kept on the server until" in captions
    assert "press **Restore** at the top of the page" in captions
    assert "This tab's session; a copy is kept on the server until" in captions  # sidebar
    assert at.button(key=KEEP).label == "Keep again (restart the 24 h)"


def test_the_key_survives_navigation(kept):
    at, token = kept
    at.switch_page("pages/search.py").run()
    assert_ok(at)
    assert at.query_params[kept_ui.QUERY_KEY] in (token, [token])


def test_after_a_reload_one_click_restores_and_search_works(kept):
    _, token = kept
    at = reload({kept_ui.QUERY_KEY: token})
    assert at.session_state["collection"] is None
    button = at.button(key="kept_restore")
    assert button.label.startswith("Restore sample (72 documents, saved ")
    assert "until" in at.info[0].value and "72 documents" in at.info[0].value
    button.click().run()
    assert_ok(at)
    assert len(at.session_state["collection"]) == 72
    assert any("Restored sample: 72 documents" in s.value for s in at.success)
    assert "kept_restore" not in _keys(at)  # restored: no offer any more
    open_page(at, "search")
    at.text_area(key="w_search_queries").set_value(SAMPLE_QUERIES[0].text)
    at.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(at)
    results = at.dataframe[0].value
    assert results["text"].iloc[0] == expected_text(0)  # the vectors came back intact


def _keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button}


@pytest.mark.parametrize("token", ["garbage", "x" * 43 + "'><script>", "../../../etc/passwd"])
def test_a_forged_key_gets_a_clear_message_and_can_be_dismissed(kept_dir, token):
    at = reload({kept_ui.QUERY_KEY: token})
    (warning,) = [w.value for w in at.warning]
    assert "does not hold a valid key of a kept collection" in shown(warning)
    assert "kept_restore" not in _keys(at)
    at.button(key="kept_dismiss").click().run()
    assert_ok(at)
    assert not at.warning
    assert kept_ui.QUERY_KEY not in at.query_params


def test_a_key_nobody_kept_says_so(kept_dir):
    from core.services import new_token

    at = reload({kept_ui.QUERY_KEY: new_token()})
    assert any("never existed, or it expired long ago" in shown(w.value) for w in at.warning)


def test_an_expired_key_says_when_it_expired(kept_dir):
    _, token = kept_sample()
    later = KeptCollections(
        kept_dir, ttl_s=kept_ui.TTL_S, clock=lambda: time.time() + kept_ui.TTL_S + 60
    )
    assert later.purge() >= 1  # the server's clean-up, just over a day later
    markers = [json.loads(p.read_text()) for p in kept_dir.glob("*.gone")]
    assert any(m["reason"] == "expired" for m in markers)
    at = reload({kept_ui.QUERY_KEY: token}, page="search")
    (warning,) = [shown(w.value) for w in at.warning]
    assert "expired at" in warning and "(collections are kept 24 h)" in warning
    assert "Upload the files or a downloaded collection again" in warning


def test_a_removed_copy_says_it_was_removed(kept_dir):
    at, token = kept_sample()
    at.button(key="kept_forget").click().run()
    assert_ok(at)
    assert kept_ui.QUERY_KEY not in at.query_params
    assert any("removed from the server; this tab still has it" in i.value for i in at.info)
    again = reload({kept_ui.QUERY_KEY: token})
    (warning,) = [shown(w.value) for w in again.warning]
    assert "was removed from the server at" in warning


def test_a_changed_collection_says_the_kept_copy_is_older(kept_dir):
    at, _ = kept_sample()
    at.session_state["collection"] = at.session_state["collection"].delete(
        [at.session_state["collection"].ids[0]]
    )
    at.run()
    assert_ok(at)
    captions = "\n".join(c.value for c in at.caption)
    assert "The copy kept on the server (72 documents, saved" in captions
    assert f"**{kept_ui.KEEP_LABEL}** again to replace it" in captions
    assert "Only in this tab's session: a reload drops it" in captions  # sidebar
