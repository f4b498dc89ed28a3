"""Many visitors at once: concurrent browser sessions doing real work against one app server.

Each session (a fresh browser context, so a fresh Streamlit session) loads the sample corpus,
runs the sample searches (and, when asked, draws the sample's UMAP map), uploads a file of its
own with a secret token, embeds it and searches for it. It records what went wrong: an
exception or error box on the page, a result that is not its own, or another session's token
anywhere on its page (a leak). Used by
``benchmarks/load_sessions.py``, which writes the figures (too heavy for the test suite on two
shared cores: one round of ten sessions takes minutes there).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_MS = 240_000  # ten sessions share two cores: a step can wait for the others


@dataclass
class SessionOutcome:
    name: str
    token: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def token_of(round_: int, index: int) -> str:
    return f"zq{round_}x{index}k"


def documents_of(token: str) -> str:
    return (
        f"The secret word {token} belongs to a purple giraffe on the moon.\n"
        "The weather report says heavy rain tomorrow in the mountains.\n"
        "Bread needs flour, water, salt and patience.\n"
    )


async def _go_to(page, title: str) -> None:
    await page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    heading = "Embedding Workbench" if title == "Home" else title
    await page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=TIMEOUT_MS)


async def _expect_text(page, text: str) -> None:
    await page.get_by_text(text).first.wait_for(timeout=TIMEOUT_MS)


async def _search(page) -> None:
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.get_by_text("Top result").first.wait_for(timeout=TIMEOUT_MS)


async def _errors(page) -> list[str]:
    found = []
    for test_id in ("stException", "stAlertContentError"):
        for element in await page.get_by_test_id(test_id).all():
            found.append(f"{test_id}: {(await element.inner_text())[:200]}")
    return found


async def _umap_map(page) -> None:
    """Open the Map page on the sample, choose UMAP and wait for its map."""
    await _go_to(page, "Map")
    chart_title = page.get_by_test_id("stPlotlyChart").first.locator(".gtitle")
    await chart_title.filter(has_text="PCA map of 72 documents").wait_for(timeout=TIMEOUT_MS)
    await page.get_by_test_id("stRadio").first.get_by_text("UMAP", exact=True).click()
    await chart_title.filter(has_text="UMAP map of 72 documents").wait_for(timeout=TIMEOUT_MS)


async def one_session(browser, app_url: str, folder: Path, round_: int, index: int,
                      all_tokens: list[str], with_map: bool = False) -> SessionOutcome:  # fmt: skip
    token = token_of(round_, index)
    outcome = SessionOutcome(f"round {round_} session {index}", token)
    started = time.perf_counter()
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    try:
        await page.goto(app_url)
        await page.get_by_role("heading", name="Embedding Workbench").wait_for(timeout=TIMEOUT_MS)
        await page.get_by_role("button", name="Load the sample corpus").click()
        await _expect_text(page, "Loaded the sample: 72 documents")
        await page.get_by_role("link", name="Search the collection").click()
        await _search(page)
        try:  # the three queries' results are drawn one after another
            await page.get_by_text("Top result").nth(2).wait_for(timeout=TIMEOUT_MS)
        except Exception:
            outcome.problems.append("the sample search did not show 3 results")
        outcome.problems += await _errors(page)
        if with_map:
            await _umap_map(page)
            outcome.problems += await _errors(page)

        notes = folder / f"notes-{round_}-{index}.txt"
        notes.write_text(documents_of(token), encoding="utf-8")
        await _go_to(page, "Upload & embed")
        documents = page.get_by_test_id("stFileUploader").filter(has_text="Documents (")
        await documents.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(notes))
        await _expect_text(page, "3 documents from 1 file(s)")
        await page.get_by_role("button", name="Embed", exact=True).click()
        await _expect_text(page, "Embedded 3 texts")
        await _go_to(page, "Search")
        await page.get_by_label("Queries, one per line").fill("a purple giraffe on the moon")
        await _search(page)
        best = page.get_by_test_id("stMarkdownContainer").filter(has_text="Top result").first
        if token not in await best.inner_text():
            outcome.problems.append("the top result is not this session's own document")
        body = await page.locator("body").inner_text()
        leaked = [t for t in all_tokens if t != token and t in body]
        if leaked:
            outcome.problems.append(f"another session's text is on this page: {leaked}")
        outcome.problems += await _errors(page)
    except Exception as exc:  # a step timed out or the page broke: that is the finding
        outcome.problems.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    finally:
        outcome.seconds = time.perf_counter() - started
        await context.close()
    return outcome


async def run_rounds(
    app_url: str,
    folder: Path,
    *,
    sessions: int,
    rounds: int,
    chromium: str,
    args: list[str],
    on_round=None,
    with_map: bool = False,
) -> list[list[SessionOutcome]]:
    """``rounds`` times, ``sessions`` sessions at once; returns each round's outcomes.
    ``with_map``: each session also draws the sample's UMAP map on the Map page."""
    from playwright.async_api import async_playwright

    results = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=args)
        try:
            for round_ in range(rounds):
                tokens = [token_of(round_, i) for i in range(sessions)]
                outcomes = await asyncio.gather(
                    *(one_session(browser, app_url, folder, round_, i, tokens, with_map)
                      for i in range(sessions))
                )  # fmt: skip
                results.append(list(outcomes))
                if on_round is not None:
                    on_round(round_, outcomes)
        finally:
            await browser.close()
    return results
