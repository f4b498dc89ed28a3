"""API keys in the dashboard: a key typed in the sidebar drives OpenAI (here the project's own
OpenAI-compatible server on 127.0.0.1) for that session only — never for another session, and
never into files, logs or the URL. Keys from the environment work too."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import pytest

from tests.app_support import assert_ok, load_sample, new_app, open_page, texts_on_page
from tests.fixtures_openai import TEST_API_KEY, isolated_embedding_cache, openai_server

__all__ = ["isolated_embedding_cache", "openai_server"]  # fixtures used by this module

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def use_openai(at, *, key: str | None, base_url: str):
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    at.sidebar.selectbox(key="w_dimensions").set_value(256)
    if key is not None:
        at.sidebar.text_input(key="w_api_key").input(key)
    at.sidebar.text_input(key="w_base_url").input(base_url).run()
    assert_ok(at)
    return at


def files_containing(root: Path, needle: bytes, *, since: float = 0.0) -> list[Path]:
    """Files under ``root`` written at or after ``since`` (epoch s) whose bytes hold ``needle``."""
    found = []
    for path in root.rglob("*"):
        if ".git" in path.parts or not path.is_file():
            continue
        stat = path.stat()
        if stat.st_mtime < since or stat.st_size > 50_000_000:
            continue
        if needle in path.read_bytes():
            found.append(path)
    return found


def test_sidebar_key_embeds_and_searches_through_openai(
    openai_server, isolated_embedding_cache, caplog
):
    caplog.set_level(logging.INFO)
    started = time.time() - 1  # file times can be a little coarse
    at = use_openai(new_app(), key=TEST_API_KEY, base_url=openai_server.base_url)
    assert "Using the key typed above (this session only)." in texts_on_page(at)
    load_sample(at)
    collection = at.session_state["collection"]
    assert (collection.manifest.provider, collection.manifest.dimension) == ("openai", 256)
    sent = [text for record in openai_server.embedding_requests for text in record.inputs]
    assert len(sent) == 72  # the sample went through the server, each text once

    open_page(at, "search")
    at.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(at)
    assert len([m for m in at.markdown if "Top result" in m.value]) == 3

    # A bad key later: the query fails with the reason, and the previous results stay.
    at.sidebar.text_input(key="w_api_key").input("sk-revoked").run()
    at.text_area(key="w_search_queries").set_value("a new question")
    at.button(key="FormSubmitter:search_form-Search").click().run()
    assert_ok(at)
    assert at.error[0].value.startswith("Could not embed the queries: OpenAI request failed (401")
    assert len([m for m in at.markdown if "Top result" in m.value]) == 3
    at.sidebar.text_input(key="w_api_key").input(TEST_API_KEY).run()

    # The key stays in this session: not in the URL, the logs, or any file.
    assert TEST_API_KEY not in str(at.query_params)
    assert TEST_API_KEY not in caplog.text
    needle = TEST_API_KEY.encode()
    assert files_containing(isolated_embedding_cache, needle) == []
    assert files_containing(REPO, needle, since=started) == []
    assert files_containing(Path(tempfile.gettempdir()), needle, since=started) == []

    # A second visitor's session sees neither the key nor the first session's collection.
    other = use_openai(new_app(), key=None, base_url=openai_server.base_url)
    assert "This provider needs an API key." in [w.value for w in other.sidebar.warning]
    assert other.session_state["collection"] is None
    other.button(key="load_sample").click().run()
    assert "OpenAI needs an API key" in other.error[0].value


def test_wrong_key_is_reported_and_nothing_is_lost(openai_server):
    at = use_openai(new_app(), key="sk-wrong", base_url=openai_server.base_url)
    at.button(key="load_sample").click().run()
    assert_ok(at)
    assert at.session_state["collection"] is None
    (error,) = [e.value for e in at.error]
    assert error.startswith("Embedding the sample failed: OpenAI request failed (401")
    assert error.endswith(
        "none of the 72 texts was embedded; nothing is lost — fix the problem and try again."
    )
    assert "sk-wrong" not in error
    # The failed job leaves no progress bar ("Sample: preparing 72 texts…") behind.
    assert not at.get("progress")


def test_key_from_the_environment_is_used_without_typing(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    at = use_openai(new_app(), key=None, base_url=openai_server.base_url)
    assert "Using the key from the app's environment." in texts_on_page(at)
    load_sample(at)
    assert at.session_state["collection"].manifest.provider == "openai"
