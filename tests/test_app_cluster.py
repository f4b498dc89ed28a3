"""Search page and a Dask cluster: searched there only where the operator configured one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data._shards import ShardedCollection
from core.embedding import EmbedderSpec
from core.server import OpenAICompatibleServer, reference_embedding
from tests.app_support import assert_ok, new_app, open_page, texts_on_page
from ui.cluster import COLLECTION_NAME, SCHEDULER_NAME

distributed = pytest.importorskip("distributed")

KEY = "sk-test-workbench-0123456789"
MODEL = "text-embedding-3-small"
DOCS = [
    f"ticket {i}: {w} printer jams" for i, w in enumerate(["red", "blue", "green", "grey", "gold"])
]
SUBMIT = "FormSubmitter:cluster_search_form-Search on the cluster"


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(n_workers=2, processes=False, protocol="tcp://",
                                 host="127.0.0.1", dashboard_address="127.0.0.1:0") as local,
    ):  # fmt: skip
        yield local


@pytest.fixture
def configured(cluster, tmp_path, monkeypatch):
    with OpenAICompatibleServer(api_key=KEY) as server:
        sharded = ShardedCollection.create(tmp_path / "c", EmbedderSpec("openai", MODEL, 8), 8,
                                           normalized=True)  # fmt: skip
        for lo, hi in ((0, 2), (2, 5)):
            vectors = np.stack([reference_embedding(t, MODEL, 8) for t in DOCS[lo:hi]])
            sharded.append(DOCS[lo:hi], vectors, pd.DataFrame({"n": range(lo, hi)}))
        monkeypatch.setenv(SCHEDULER_NAME, cluster.scheduler_address)
        monkeypatch.setenv(COLLECTION_NAME, str(sharded.root))
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def test_nothing_changes_without_a_configured_cluster(monkeypatch):
    monkeypatch.delenv(SCHEDULER_NAME, raising=False)
    at = open_page(new_app(), "search")
    assert not [e for e in at.expander if "Dask" in e.label]
    assert "Dask" not in texts_on_page(at)


def test_the_search_page_searches_the_sharded_collection_on_the_cluster(configured):
    at = open_page(new_app(), "search")
    assert [e.label for e in at.expander if "Dask" in e.label] == [
        "Search 5 documents on the Dask cluster"
    ]
    assert "searched exactly on the Dask cluster at tcp://127.0.0.1:" in texts_on_page(at)
    assert "(2 workers)" in texts_on_page(at)
    at.text_area(key="c_queries").set_value(DOCS[3])
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    assert len(at.dataframe) == 1  # no collection in this session: only the cluster results
    table = at.dataframe[0].value
    assert table["text"].iloc[0] == DOCS[3]
    assert table["doc"].tolist()[:1] == [3]
    assert len(configured.embedding_requests) == 1  # the query, embedded once


def test_the_cluster_search_filters_on_the_shards_metadata(configured):
    at = open_page(new_app(), "search")
    at.text_area(key="c_queries").set_value(DOCS[3])
    at.text_input(key="c_where").set_value("n >= 4 or n = 0")
    at.button(key=SUBMIT).click().run()
    assert_ok(at)
    table = at.dataframe[0].value
    assert sorted(table["doc"].tolist()) == [0, 4]  # the best match (3) does not pass
    at.text_input(key="c_where").set_value("colour = 'red'")
    at.button(key=SUBMIT).click().run()
    assert [e.value for e in at.error] == ["The metadata filter cannot be used:"]
    assert "unknown metadata column 'colour'" in at.code[0].value
    at.text_input(key="c_where").set_value("n > 10")
    at.button(key=SUBMIT).click().run()
    assert [w.value for w in at.warning] == [
        "No document matches the metadata filter; change or clear it."
    ]
