"""API keys in the dashboard: a key typed in the sidebar drives OpenAI (here the project's own
OpenAI-compatible server on 127.0.0.1) for that session only — never for another session, and
never into files, logs or the URL. Keys from the environment work too."""

from __future__ import annotations

import http.server
import logging
import tempfile
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_support import (
    APP,
    TIMEOUT_S,
    assert_ok,
    load_sample,
    new_app,
    open_page,
    shown,
    texts_on_page,
)
from tests.fixtures_openai import TEST_API_KEY, isolated_embedding_cache, openai_server

__all__ = ["isolated_embedding_cache", "openai_server"]  # fixtures used by this module

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    # The project's server listens on 127.0.0.1, which a hosted app refuses by default.
    monkeypatch.setenv("WORKBENCH_CUSTOM_ENDPOINTS", "any")


OPERATOR_KEY = "sk-operator-secret-9876543210"


class HeaderCapture:
    """A real HTTP listener on 127.0.0.1 that records every request's headers and answers 401."""

    def __init__(self):
        seen = self.headers = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                seen.append(dict(self.headers))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"error": {"message": "no", "type": "invalid_request_error"}}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    capture = HeaderCapture()
    yield capture
    capture.close()


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
    assert "only a key typed above is sent to it (none typed)" in texts_on_page(other)
    assert other.session_state["collection"] is None
    other.button(key="load_sample").click().run()
    assert other.error[0].value.startswith(
        "Embedding the sample failed: OpenAI request failed (401"
    )
    assert other.session_state["collection"] is None
    # And with neither a key nor an endpoint of its own, it is told to provide a key.
    third = new_app()
    third.sidebar.selectbox(key="w_provider").set_value("openai").run()
    assert "This provider needs an API key." in [w.value for w in third.sidebar.warning]
    third.button(key="load_sample").click().run()
    assert "OpenAI needs an API key" in third.error[0].value


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


def test_operator_key_drives_the_operators_endpoint_without_typing(openai_server, monkeypatch):
    # The operator's key and endpoint both come from the environment: used together.
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    at = new_app()
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    at.sidebar.selectbox(key="w_dimensions").set_value(256).run()
    assert "Using the key from the app's environment." in texts_on_page(at)
    load_sample(at)
    assert at.session_state["collection"].manifest.provider == "openai"
    assert len(openai_server.embedding_requests) > 0


@pytest.mark.parametrize("where", ["environment", "secrets"])
def test_operator_key_never_goes_to_a_visitor_typed_endpoint(listener, monkeypatch, where):
    """The leak: a visitor types a Base URL; the operator's key must not reach that listener."""
    if where == "environment":
        monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
        at = new_app()
    else:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
        at.secrets["OPENAI_API_KEY"] = OPERATOR_KEY
        at.run()
    at = use_openai(at, key=None, base_url=listener.base_url)
    assert "the app's own key never is" in texts_on_page(at)
    at.button(key="load_sample").click().run()
    assert_ok(at)
    assert listener.headers, "the visitor's endpoint was not called at all"
    for headers in listener.headers:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        assert OPERATOR_KEY not in auth
        assert auth == "Bearer no-key"
    assert at.session_state["collection"] is None
    assert OPERATOR_KEY not in texts_on_page(at)


def test_visitor_typed_key_goes_to_the_visitors_endpoint(listener, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
    at = use_openai(new_app(), key="sk-visitor-own", base_url=listener.base_url)
    at.button(key="load_sample").click().run()
    assert_ok(at)
    auths = {h.get("Authorization") or h.get("authorization") for h in listener.headers}
    assert auths == {"Bearer sk-visitor-own"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/v1",
        "http://localhost:9/v1",
        "http://169.254.169.254/latest",
        "http://[::1]:9/v1",
        "http://10.1.2.3/v1",
        "file:///etc/passwd",
        "http://user:pw@example.com/v1",
    ],
)
def test_hosted_app_refuses_internal_visitor_endpoints(listener, monkeypatch, url):
    """SSRF: by default (policy "public") a visitor's Base URL cannot reach internal addresses."""
    monkeypatch.delenv("WORKBENCH_CUSTOM_ENDPOINTS")
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
    at = use_openai(new_app(), key="sk-visitor-own", base_url=url)
    at.button(key="load_sample").click().run()
    assert_ok(at)
    (error,) = [e.value for e in at.error]
    assert error.startswith("The Base URL in the sidebar is refused:")
    assert at.session_state["collection"] is None
    assert listener.headers == []


def test_refused_endpoint_names_the_setting_that_allows_it(listener, monkeypatch):
    monkeypatch.delenv("WORKBENCH_CUSTOM_ENDPOINTS")
    at = use_openai(new_app(), key="sk-visitor-own", base_url=listener.base_url)
    at.button(key="load_sample").click().run()
    (error,) = [e.value for e in at.error]
    assert "is an internal address (127.0.0.1)" in error
    assert "WORKBENCH_CUSTOM_ENDPOINTS=any" in shown(error)
    assert listener.headers == []
    # The operator allows it (an app run on one's own machine): the same URL now works.
    monkeypatch.setenv("WORKBENCH_CUSTOM_ENDPOINTS", "any")
    at.button(key="load_sample").click().run()
    assert len(listener.headers) >= 1
