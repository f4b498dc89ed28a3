"""Home page: renders with no key and no files, and one click loads the bilingual sample."""

from __future__ import annotations

import sys

import pytest

from core.embedding.providers._local import USE_MODEL
from tests.app_support import APP, assert_ok, load_sample, new_app, open_page, texts_on_page


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    """A visitor with nothing configured: no key in the environment."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def status_boxes(at) -> dict[str, str]:
    """Home's three status boxes, label -> value."""
    boxes = [m.value for m in at.markdown if m.value.startswith("**") and "  \n" in m.value]
    return dict(box[2:].split("**  \n", 1) for box in boxes)


def test_home_renders_offline_defaults():
    at = new_app()
    assert at.title[0].value == "Embedding Workbench"
    status = status_boxes(at)
    assert status["Provider"] == "Universal Sentence Encoder multilingual (offline)"
    assert status["Model"] == USE_MODEL
    assert status["Collection"] == "none yet"
    # The sidebar offers the provider choice and a password field for the key.
    assert at.sidebar.selectbox(key="w_provider").value == "use-multilingual"
    key_field = at.sidebar.text_input(key="w_api_key")
    assert key_field.value == ""
    assert key_field.proto.type == key_field.proto.PASSWORD
    assert at.button(key="load_sample").proto.label == "Load the sample corpus"


def test_load_sample_builds_a_bilingual_collection_and_links_to_search():
    at = load_sample(new_app())
    collection = at.session_state["collection"]
    assert len(collection) == 72
    assert collection.embeddings.shape == (72, 512)
    assert any("月" in t for t in collection.texts) and any("Mars" in t for t in collection.texts)
    assert status_boxes(at)["Collection"] == "72 documents"
    links = [link.proto.label for link in at.get("page_link")]
    assert "Search the collection" in links
    assert "Collection: 72 × 512" in texts_on_page(at)  # the sidebar is redrawn after loading


def test_openai_without_key_explains_what_to_do():
    at = new_app()
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    assert_ok(at)
    assert "This provider needs an API key." in [w.value for w in at.sidebar.warning]
    at.button(key="load_sample").click().run()
    assert_ok(at)
    assert "OpenAI needs an API key: paste one in the sidebar" in at.error[0].value
    assert at.session_state["collection"] is None


def test_sidebar_choice_survives_page_changes():
    at = new_app()
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    for page in ("upload", "search", "home"):
        open_page(at, page)
        assert at.sidebar.selectbox(key="w_provider").value == "openai"


def test_dimensions_box_shows_the_native_size_instead_of_a_placeholder():
    at = new_app()
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    assert_ok(at)
    dims = at.sidebar.selectbox(key="w_dimensions")
    assert dims.options == ["native (1536)", "256", "512", "1024"]
    assert dims.index == 0 and at.session_state["dimensions"] is None
    dims.set_value(256).run()
    assert at.session_state["dimensions"] == 256
    open_page(at, "upload")  # the choice is kept across pages
    assert at.sidebar.selectbox(key="w_dimensions").index == 1
    at.sidebar.selectbox(key="w_dimensions").select_index(0).run()
    assert_ok(at)
    assert at.sidebar.selectbox(key="w_dimensions").index == 0  # "native" again, not empty
    assert at.session_state["dimensions"] is None
    at.sidebar.selectbox(key="w_model").set_value("text-embedding-3-large").run()
    dims = at.sidebar.selectbox(key="w_dimensions")
    assert dims.options == ["native (3072)", "256", "512", "1024", "1536"]
    assert dims.index == 0


def test_the_pages_list_names_every_page_of_the_navigation():
    import re

    titles = re.findall(r'st\.Page\("pages/\w+\.py", title="([^"]+)"', APP.read_text())
    assert len(titles) == 7, titles
    at = new_app()
    (listing,) = [m.value for m in at.markdown if m.value.startswith("- **Upload & embed**")]
    named = re.findall(r"^- \*\*(.+?)\*\*", listing, flags=re.MULTILINE)
    assert named == [t for t in titles if t != "Home"]
    assert "keep it on the server" in listing


def test_the_first_visit_prepares_umap_in_the_background():
    pytest.importorskip("umap")
    from core.viz import _umap_warm
    from ui import map as ui_map

    ui_map.warm_umap.clear()  # as in a fresh server process
    before = len(ui_map.WARM_UPS)
    new_app()  # Home only: the Map page is never opened
    assert len(ui_map.WARM_UPS) == before + 1, "the first run did not start the warm-up"
    thread = ui_map.WARM_UPS[-1]
    assert thread.name == "umap-warm-up" and ui_map.warm_umap() is thread  # once per process
    thread.join(timeout=300)
    assert not thread.is_alive() and _umap_warm.prepared()
    assert "umap" in sys.modules  # imported here, from the cache the helper process wrote
