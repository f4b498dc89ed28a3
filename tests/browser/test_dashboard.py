"""The dashboard in a real browser: upload → embed → search, the sample corpus and its map,
Stop and resume, the benchmark charts and the similarity heatmap."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from core.data._sample import SAMPLE_DOCUMENTS, SAMPLE_QUERIES, document_index

REPO = Path(__file__).resolve().parents[2]
LONG_S = 90_000  # ms: embedding and benchmarks on a busy 2-core machine

NOTES = (
    "The Gotthard base tunnel carries trains under the Alps between Zurich and Milan.\n"
    "熊猫主要吃竹子，每天要花十几个小时进食。\n"
    "A sourdough starter is flour and water full of wild yeast.\n"
    "Saturn has bright rings made of ice and rock.\n"
)


def go_to(page: Page, title: str) -> None:
    """Open a page from the sidebar navigation and wait for its title."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    heading = "Embedding Workbench" if title == "Home" else title
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def wait_until_idle(page: Page) -> None:
    """Wait for the script run to finish (Streamlit's running indicator gone): typing into a
    widget while a long run is still drawing can race with that run's redraw."""
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=LONG_S)


def documents_input(page: Page) -> Locator:
    """The Upload page's documents uploader, found by its label: the page has a second
    uploader (a saved collection), and while a page change is still drawing, the old page's
    elements can come first in the DOM."""
    return (
        page.get_by_test_id("stFileUploader")
        .filter(has_text="Documents (")
        .get_by_test_id("stFileUploaderDropzoneInput")
    )


def load_sample(page: Page) -> None:
    page.get_by_role("button", name="Load the sample corpus").click()
    expect(page.get_by_text("Loaded the sample: 72 documents")).to_be_visible(timeout=LONG_S)


def search(page: Page) -> None:
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("Top result").first).to_be_visible(timeout=LONG_S)


def upload_and_embed(page: Page, tmp_path) -> None:
    """Upload the four notes on the Upload page and embed them with the offline model."""
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES, encoding="utf-8")
    go_to(page, "Upload & embed")
    documents_input(page).set_input_files(str(notes))
    expect(page.get_by_text("4 documents from 1 file(s)")).to_be_visible()
    page.get_by_role("button", name="Embed", exact=True).click()
    expect(page.get_by_text("Embedded 4 texts")).to_be_visible(timeout=LONG_S)


def test_upload_embed_search_finds_the_expected_document(page: Page, tmp_path):
    upload_and_embed(page, tmp_path)
    expect(page.get_by_test_id("stMetricValue").filter(has_text="4 × 512")).to_be_visible()

    go_to(page, "Search")
    page.get_by_label("Queries, one per line").fill("土星的光环是什么做的？")
    search(page)
    best = page.get_by_test_id("stMarkdownContainer").filter(has_text="Top result")
    expect(best).to_contain_text("Saturn has bright rings made of ice and rock.")


def test_sample_corpus_search_map_and_neighbours(page: Page):
    load_sample(page)
    page.get_by_role("link", name="Search the collection").click()
    expect(page.get_by_label("Queries, one per line")).to_have_value(
        "\n".join(q.text for q in SAMPLE_QUERIES[:3])
    )
    search(page)
    best = page.get_by_test_id("stMarkdownContainer").filter(has_text="Top result")
    expect(best).to_have_count(3)
    for q, line in enumerate(best.all()):
        doc = SAMPLE_DOCUMENTS[document_index(SAMPLE_QUERIES[q].expected_id)]
        expect(line).to_contain_text(doc.text)
    chart = page.get_by_test_id("stPlotlyChart").last
    chart.scroll_into_view_if_needed()  # Plotly draws a chart once it is scrolled into view
    expect(chart.locator(".legendtext").filter(has_text="queries")).to_be_visible()
    _screenshot_for_readme(page)

    # Click the first document point of the map: its nearest neighbours appear.
    point = chart.evaluate(
        """(el) => {
            const gd = el.querySelector('.js-plotly-plot');
            const trace = gd._fullData[0], layout = gd._fullLayout;
            const px = layout.xaxis.l2p(trace.x[0]) + layout._size.l;
            const py = layout.yaxis.l2p(trace.y[0]) + layout._size.t;
            const box = gd.getBoundingClientRect();
            return {x: box.left + px, y: box.top + py};
        }"""
    )
    page.mouse.move(point["x"], point["y"])
    # Plotly only reports a click on a point it is hovering: wait for the hover label first.
    expect(chart.locator(".hoverlayer .hovertext").first).to_be_visible()
    page.mouse.click(point["x"], point["y"])
    expect(page.get_by_text("Nearest neighbours of #")).to_be_visible()


def _screenshot_for_readme(page: Page) -> None:
    """A tall screenshot of the search page with its map, in test-artifacts/ (the README's
    screenshots, in both themes, are written by tests/browser/test_look.py).

    Streamlit scrolls inside its own container, so this is a screenshot of a tall viewport (not
    ``full_page``), taken from the top of the page.
    """
    target = REPO / "test-artifacts" / "search.png"
    target.parent.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 2100})
    page.get_by_role("heading", name="Search", exact=True).scroll_into_view_if_needed()
    expect(page.get_by_test_id("stPlotlyChart").last.locator(".legendtext").first).to_be_visible()
    page.screenshot(path=str(target))


def test_stop_keeps_finished_batches_and_embed_resumes(page: Page, tmp_path):
    corpus = tmp_path / "many.txt"
    corpus.write_text(
        "\n".join(f"Line {i}: a short sentence about topic number {i % 97}." for i in range(600)),
        encoding="utf-8",
    )
    go_to(page, "Upload & embed")
    documents_input(page).set_input_files(str(corpus))
    # The first upload of a fresh server loads the offline model first: allow for it.
    expect(page.get_by_text("600 documents from 1 file(s)")).to_be_visible(timeout=LONG_S)
    expect(page.get_by_text("Estimate: 600 texts to embed")).to_be_visible(timeout=LONG_S)
    wait_until_idle(page)
    batch = page.get_by_label("Batch size (texts per request)")
    batch.fill("16")
    batch.press("Enter")
    expect(batch).to_have_value("16")
    page.get_by_role("button", name="Embed", exact=True).click()
    expect(page.get_by_text(re.compile(r"batch \d+/\d+"))).to_be_visible(timeout=LONG_S)
    # The page's own Stop (Streamlit's toolbar shows a Stop of its own while a script runs).
    page.get_by_test_id("stMainBlockContainer").get_by_role(
        "button", name="Stop", exact=True
    ).click()
    stopped = page.get_by_text("Stopped after")
    expect(stopped).to_be_visible(timeout=LONG_S)
    done = int(stopped.inner_text().split("Stopped after ")[1].split(" of")[0].replace(",", ""))
    assert 0 < done < 600

    page.get_by_role("button", name="Embed", exact=True).click()
    expect(page.get_by_text("Embedded 600 texts")).to_be_visible(timeout=LONG_S)
    reused = page.get_by_text("text(s) reused from this session")
    expect(reused).to_be_visible()
    n_reused = int(reused.inner_text().split("request(s), ")[1].split(" text")[0].replace(",", ""))
    assert n_reused >= done


def test_benchmark_page_draws_its_charts(page: Page):
    go_to(page, "Benchmark")
    docs = page.get_by_label("Documents")
    docs.fill("2000")
    page.get_by_label("Repeats").fill("1")
    page.get_by_role("button", name="Run benchmarks").click()
    expect(page.get_by_text("Benchmarks finished")).to_be_visible(timeout=LONG_S)
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(7)
    expect(charts.first.locator(".main-svg").first).to_be_visible()
    expect(page.get_by_role("button", name="Download all results (CSV)")).to_be_visible()


def test_similarity_page_draws_the_heatmap(page: Page):
    load_sample(page)
    go_to(page, "Similarity matrix")
    heatmap = page.get_by_test_id("stPlotlyChart").first
    expect(heatmap.locator(".heatmaplayer")).to_have_count(1, timeout=LONG_S)
    expect(heatmap).to_contain_text("cosine similarity")
    expect(page.get_by_text("Top 5 per query (whole collection)")).to_be_visible()
    expect(page.get_by_text("Near-duplicate pairs")).to_be_visible()


def test_every_page_works_offline(page: Page, external_requests: list[str]):
    """Nothing the app shows is fetched from outside 127.0.0.1 (fonts, icons, scripts)."""
    load_sample(page)
    for title in ("Upload & embed", "Search", "Benchmark", "Similarity matrix", "Home"):
        go_to(page, title)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(0)
    assert external_requests == []
