"""The sidebar's endpoint panel: base URL, any model name, Test connection, then embed, search
and price — against the project's server in each self-hosted mode over real HTTP (127.0.0.1,
allowed by WORKBENCH_CUSTOM_ENDPOINTS=any as an operator running the app locally would)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.data._sample import sample_texts
from core.server import SERVER_MODES, OpenAICompatibleServer, reference_embedding
from tests.app_support import assert_ok, load_sample, new_app, open_page, texts_on_page

NOMIC = "nomic-embed-text"


@pytest.fixture(autouse=True)
def local_endpoints_allowed(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("WORKBENCH_CUSTOM_ENDPOINTS", "any")


def use_endpoint(at, base_url: str, model: str = NOMIC):
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    at.sidebar.text_input(key="w_base_url").input(base_url).run()
    at.sidebar.text_input(key="w_custom_model").input(model).run()
    assert_ok(at)
    return at


def sidebar_text(at) -> str:
    parts = [t.value for t in at.sidebar.text] + [s.value for s in at.sidebar.success]
    return "\n".join(parts + [e.value for e in at.sidebar.error])


@pytest.mark.parametrize("mode", [m for m in SERVER_MODES if m != "openai"])
def test_test_connection_then_embed_and_search_in_every_mode(mode):
    with OpenAICompatibleServer(mode=mode) as server:
        at = use_endpoint(new_app(), server.base_url)
        shown = sidebar_text(at)
        assert "Prefixes for nomic-embed-text: query 'search_query: '" in shown
        at.sidebar.button(key="ep_test").click().run()
        assert_ok(at)
        shown = sidebar_text(at)
        assert "Connected: 768 dimensions" in shown and "ms for two texts" in shown
        assert "dimension 768 learnt from the server" in shown
        answer = at.sidebar.json[0].value
        assert '"n_vectors": 2' in answer

        load_sample(at)
        collection = at.session_state["collection"]
        m = collection.manifest
        assert (m.provider, m.model, m.dimension) == ("openai", NOMIC, 768)
        assert m.document_prefix == "search_document: " and m.query_prefix == "search_query: "
        want = np.stack(
            [reference_embedding("search_document: " + t, NOMIC) for t in sample_texts()]
        )
        assert_allclose(collection.embeddings, want, atol=1e-6)

        open_page(at, "search")
        at.button(key="FormSubmitter:search_form-Search").click().run()
        assert_ok(at)
        assert [m for m in at.markdown if "Top result" in m.value]
        queries = [r.inputs for r in server.embedding_requests][-1]
    assert all(q.startswith("search_query: ") for q in queries)


def test_panel_limits_and_typed_prefixes_reach_the_server():
    with OpenAICompatibleServer(mode="tei", max_batch=4) as server:
        at = use_endpoint(new_app(), server.base_url, "my-model")
        at.sidebar.number_input(key="w_ep_max_inputs").set_value(4).run()
        at.sidebar.number_input(key="w_ep_dimension").set_value(384).run()
        at.sidebar.checkbox(key="w_ep_auto_prefix").uncheck().run()
        at.sidebar.text_input(key="w_ep_doc_prefix").input("<b>D</b>: ").run()
        assert "document '<b>D</b>: '" in sidebar_text(at)  # shown as text, not HTML
        load_sample(at)
        log = server.embedding_requests
    assert all(r.status == 200 and r.n_inputs <= 4 for r in log)  # no probe, no 413
    assert all(t.startswith("<b>D</b>: ") for r in log for t in r.inputs)


def test_test_connection_reports_what_the_server_said_when_it_fails():
    with OpenAICompatibleServer(api_key="sk-needed") as server:
        at = use_endpoint(new_app(), server.base_url, "text-embedding-3-small")
        at.sidebar.button(key="ep_test").click().run()
        assert_ok(at)
    assert "Test connection failed: OpenAI request failed (401" in sidebar_text(at)


def test_test_connection_follows_the_endpoint_policy(monkeypatch):
    monkeypatch.delenv("WORKBENCH_CUSTOM_ENDPOINTS")
    with OpenAICompatibleServer(mode="ollama") as server:
        at = use_endpoint(new_app(), server.base_url)
        at.sidebar.button(key="ep_test").click().run()
        assert_ok(at)
        assert server.embedding_requests == []  # refused before any request
    assert "is an internal address (127.0.0.1)" in sidebar_text(at)


def test_upload_page_prices_openai_before_a_key_is_pasted():
    at = open_page(new_app(), "upload")
    at.sidebar.selectbox(key="w_provider").set_value("openai").run()
    notes = "\n".join(f"note number {i} about the weather" for i in range(30))
    at.file_uploader(key="up_files").set_value([("notes.txt", notes.encode(), "text/plain")]).run()
    assert_ok(at)
    page = texts_on_page(at)
    assert "Estimate: 30 texts to embed" in page and "$0.0000" in page
    assert "needs an API key" in page
    assert at.button(key="up_embed").disabled


def test_upload_through_the_batch_api_is_priced_at_half_and_assembled_in_order():

    texts = [f"batch note {i} about the weather" for i in range(30)]
    with OpenAICompatibleServer(api_key="sk-batch-visitor") as server:
        at = open_page(new_app(), "upload")
        at.sidebar.selectbox(key="w_provider").set_value("openai").run()
        at.sidebar.selectbox(key="w_dimensions").set_value(256)
        at.sidebar.text_input(key="w_api_key").input("sk-batch-visitor")
        at.sidebar.text_input(key="w_base_url").input(server.base_url).run()
        body = "\n".join(texts).encode()
        at.file_uploader(key="up_files").set_value([("notes.txt", body, "text/plain")]).run()
        plain = texts_on_page(at)
        at.checkbox(key="up_batch_api").check().run()
        assert_ok(at)
        assert "with the Batch API" in texts_on_page(at) and "with the Batch API" not in plain
        at.button(key="up_embed").click().run()
        assert_ok(at)
        assert len(server.state.batches) == 1 and server.embedding_requests == []
    collection = at.session_state["collection"]
    want = np.stack([reference_embedding(t, "text-embedding-3-small", 256) for t in texts])
    assert_allclose(collection.embeddings, want, atol=1e-6)
