"""WorkbenchVectorStore beyond the standard suite: filters, MMR, relevance scores, retriever,
save / load, this project's embedders (model recorded, cache used) and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from core import WorkbenchVectorStore
from core.data._collection import Collection, CollectionError
from core.search import mmr

TEXTS = ["apple pie", "apple tart", "banana bread", "cherry jam", "apple crumble"]
META = [
    {"kind": "pie", "year": 2020},
    {"kind": "tart", "year": 2021},
    {"kind": "bread", "year": 2022},
    {"kind": "jam", "year": 2023},
    {"kind": "crumble", "year": 2024},
]


@pytest.fixture
def fake():
    return DeterministicFakeEmbedding(size=16)


@pytest.fixture
def store(fake):
    return WorkbenchVectorStore.from_texts(TEXTS, fake, META, ids=[f"d{i}" for i in range(5)])


def test_filter_in_every_form_comes_before_top_k(store):
    by_dict = store.similarity_search("apple", k=3, filter={"year": {"$gte": 2023}})
    by_text = store.similarity_search("apple", k=3, filter="year >= 2023")
    by_callable = store.similarity_search("apple", k=3, filter=lambda d: d.metadata["year"] >= 2023)
    assert [d.id for d in by_dict] == [d.id for d in by_text] == [d.id for d in by_callable]
    assert sorted(d.id for d in by_dict) == ["d3", "d4"]  # k=3 asked, only two pass
    with pytest.raises(ValueError, match="unknown metadata column 'nope'"):
        store.similarity_search("apple", filter={"nope": 1})


def test_scores_relevance_and_by_vector(store, fake):
    vector = fake.embed_query("apple pie")
    pairs = store.similarity_search_with_score("apple pie", k=5)
    assert pairs[0][0].page_content == "apple pie"
    assert pairs[0][1] == pytest.approx(1.0, abs=1e-5)  # cosine of a text with itself
    scores = [s for _, s in pairs]
    assert scores == sorted(scores, reverse=True)
    relevance = store.similarity_search_with_relevance_scores("apple pie", k=5)
    assert [r for _, r in relevance] == pytest.approx([(1 + s) / 2 for s in scores], abs=1e-6)
    assert store.similarity_search_by_vector(vector, k=2) == [d for d, _ in pairs[:2]]


def test_mmr_search_is_core_mmr(store, fake):
    docs = store.max_marginal_relevance_search("apple", k=3, fetch_k=5, lambda_mult=0.2)
    vectors = np.asarray(fake.embed_documents(TEXTS), dtype=np.float32)
    pool = [d.id for d in store.similarity_search("apple", k=5)]
    order = [int(i[1:]) for i in pool]
    picked, _ = mmr(fake.embed_query("apple"), vectors[order], 3, 0.2)
    assert [d.id for d in docs] == [pool[p] for p in picked]


def test_retriever_and_async(store):
    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"kind": "jam"}})
    assert [d.id for d in retriever.invoke("fruit")] == ["d3"]
    mmr_retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 2})
    assert len(mmr_retriever.invoke("apple")) == 2


async def test_async_variants(store):
    docs = await store.asimilarity_search("apple pie", k=1)
    assert docs[0].page_content == "apple pie"
    mmr_docs = await store.amax_marginal_relevance_search("apple", k=2, fetch_k=5)
    assert len(mmr_docs) == 2
    await store.adelete(["d0"])
    assert await store.aget_by_ids(["d0", "d1"]) == [
        Document(id="d1", page_content="apple tart", metadata={"kind": "tart", "year": 2021})
    ]


def test_save_load_and_every_change_is_a_version(store, fake, tmp_path):
    store.save(tmp_path / "s")
    store.delete(["d2"])  # saved there too
    loaded = WorkbenchVectorStore.load(tmp_path / "s", fake)
    assert sorted(d.id for d in loaded.get_by_ids([f"d{i}" for i in range(5)])) == [
        "d0", "d1", "d3", "d4",
    ]  # fmt: skip
    assert Collection.load(tmp_path / "s").ids == ["d0", "d1", "d3", "d4"]
    loaded.delete()  # everything
    assert len(WorkbenchVectorStore.load(tmp_path / "s", fake)) == 0
    with pytest.raises(CollectionError, match="no collection at"):
        WorkbenchVectorStore.load(tmp_path / "nothing", fake)


def test_project_embedder_records_its_model_and_uses_the_cache(
    make_embedder, openai_server, tmp_cache, tmp_path
):
    embedder = make_embedder(cache=tmp_cache)
    store = WorkbenchVectorStore(embedding=embedder, path=tmp_path / "c")
    store.add_texts(["reset password", "open account"], [{"n": 1}, {"n": 2}])
    assert Collection.load(tmp_path / "c").spec == embedder.spec  # the CLI can search it
    openai_server.reset_log()
    store.add_texts(["reset password", "close account"])
    sent = [t for r in openai_server.embedding_requests for t in r.inputs]
    assert sent == ["close account"]  # a text the store holds is not embedded again
    other = make_embedder(dimensions=4)
    with pytest.raises(
        CollectionError,
        match=r"embedded with openai / text-embedding-3-small \(8 dimensions\) but the "
        r"embedding is openai / text-embedding-3-small \(4 dimensions\)",
    ):
        WorkbenchVectorStore(embedding=other, path=tmp_path / "c")


def test_reserved_metadata_keys_and_empty_save_are_refused(fake, tmp_path):
    store = WorkbenchVectorStore(embedding=fake)
    with pytest.raises(CollectionError, match="add documents before saving"):
        store.save(tmp_path / "e")
    with pytest.raises(ValueError, match="metadata key 'text' is reserved"):
        store.add_texts(["x"], [{"text": "y"}])
    assert store.similarity_search("x") == [] and repr(store).startswith("WorkbenchVectorStore(0")
