"""Browser-test fixtures: the real app (``streamlit run app.py`` on 127.0.0.1) driven by
Debian's Chromium, headless, through Playwright.

Chromium is never downloaded (no ``playwright install``): without /usr/bin/chromium the tests
are skipped with the reason — except under CI (``CI=true``), where that is a failure. A failed
test leaves a screenshot of the viewport in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.bench._app_server import CHROMIUM, CHROMIUM_ARGS, app_env, streamlit_app

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SERVER_START_TIMEOUT_S = 60
VIEWPORT = {"width": 1440, "height": 1000}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)
    # Browser tests run last: Playwright's sync API keeps an event loop running in the main
    # thread for the rest of the session, and async tests (LangChain's standard suites) cannot
    # start their own loop beside it.
    items.sort(key=lambda item: item.path.parent == Path(__file__).parent)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell that the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _require_chromium() -> None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = (
        f"Chromium not found at {CHROMIUM}: install Debian's package "
        "(apt-get install chromium fonts-noto-cjk) to run the browser tests"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI requires them", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def serve_app(cache_dir: Path, *options: str) -> Iterator[str]:
    """Start ``streamlit run app.py`` on a free loopback port; yield its URL; stop it.

    ``options`` are more command-line settings, e.g. ``"--server.maxUploadSize", "1"``.
    """
    env = app_env(EMBEDDING_WORKBENCH_CACHE_DIR=str(cache_dir))
    with streamlit_app(env, *options, timeout_s=SERVER_START_TIMEOUT_S, echo=True) as app:
        with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=10) as response:
            assert response.read().strip() == b"ok"
        yield app.url


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    """The app served by ``streamlit run app.py`` on a free loopback port, for the session."""
    _require_chromium()
    with serve_app(tmp_path_factory.mktemp("browser-cache")) as url:
        yield url


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, launched once for the session."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def external_requests() -> list[str]:
    """URLs the browser asked for outside 127.0.0.1 during the test (the app must need none)."""
    return []


@pytest.fixture
def page(chromium, app_url, request, external_requests):
    """A fresh browser context (a new Streamlit session) with the app open on Home.

    On failure, the viewport is saved to test-artifacts/<test name>.png.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a busy 2-core machine: reruns can take seconds
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(30_000)
    context.on(
        "request",
        lambda req: (
            None
            if urlsplit(req.url).hostname in (None, "127.0.0.1") or req.url.startswith("data:")
            else external_requests.append(req.url)
        ),
    )
    tab = context.new_page()
    tab.goto(app_url)
    expect(tab.get_by_role("heading", name="Embedding Workbench")).to_be_visible(timeout=60_000)
    yield tab
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
