"""Document text that tries to be Markdown or HTML, in a real browser (issue 9, finding 9): a
real listener on 127.0.0.1 must receive no request (an image in a top result or a neighbour
would be fetched by every viewer), and no link may appear in the results or the heatmap."""

from __future__ import annotations

import http.server
import threading

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard import LONG_S, documents_input, go_to, search

# Every element or attribute whose href/src points at the listener or e.co, HTML and SVG alike.
_LIVE = """(port) => Array.from(document.querySelectorAll('*')).filter(el => {
    const refs = [el.getAttribute('href'), el.getAttribute('src'),
                  el.getAttributeNS('http://www.w3.org/1999/xlink', 'href')];
    return refs.some(r => r && (r.includes(':' + port) || r.includes('e.co')));
}).map(el => el.tagName)"""


@pytest.fixture
def listener():
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen = seen
    yield server
    server.shutdown()
    server.server_close()


def test_hostile_documents_render_as_text_everywhere(page: Page, tmp_path, listener):
    port = listener.server_address[1]
    image = f"![p](http://127.0.0.1:{port}/x.png)"
    lines = [
        f"Saturn rings {image} :red[red] $x^2$ **bold** <img src=http://127.0.0.1:{port}/y.png>",
        'Jupiter rings <a href="//e.co">click me</a> [link](http://e.co) www.e.co',
        "A sourdough starter is flour and water full of wild yeast.",
    ]
    notes = tmp_path / "evil.txt"
    notes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    go_to(page, "Upload & embed")
    documents_input(page).set_input_files(str(notes))
    expect(page.get_by_text("3 documents from 1 file(s)")).to_be_visible()
    page.get_by_role("button", name="Embed", exact=True).click()
    expect(page.get_by_text("Embedded 3 texts")).to_be_visible(timeout=LONG_S)

    go_to(page, "Search")
    page.get_by_label("Queries, one per line").fill(f"rings {image}")
    search(page)
    best = page.get_by_test_id("stMarkdownContainer").filter(has_text="Top result")
    expect(best.first).to_contain_text("Saturn rings")
    shown = best.first.inner_text().replace("\u2060", "")  # invisible word joiners aside
    assert f"rings {image}" in shown  # the query and the document: the characters, as text
    assert f"Saturn rings {image} :red[red] $x^2$ **bold** <img src=" in shown

    go_to(page, "Similarity matrix")
    heatmap = page.get_by_test_id("stPlotlyChart").first
    expect(heatmap.locator(".heatmaplayer")).to_have_count(1, timeout=LONG_S)
    expect(
        heatmap.locator(".xtick text, .ytick text").filter(has_text="<a href")
    ).not_to_have_count(0)

    assert page.evaluate(_LIVE, port) == []  # no image, link or anchor anywhere
    assert page.locator(".katex, [data-testid=stMarkdownContainer] img").count() == 0
    assert listener.seen == []  # the browser never fetched the listener's images
