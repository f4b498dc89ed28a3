"""core.services plan_embedding / embed_collection: the one embedding workflow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.embedding import EmbeddingCache
from core.services import EmbedSummary, embed_collection, plan_embedding

TEXTS = ["alpha text", "beta text", "", "gamma text", "alpha text"]


def test_plan_says_what_will_be_sent_before_anything_is(make_embedder, openai_server, tmp_cache):
    embedder = make_embedder()
    plan = plan_embedding(TEXTS, embedder, cache=tmp_cache, n_files=2)
    assert openai_server.embedding_requests == []
    assert (plan.n_documents, plan.n_files, plan.remote) == (5, 2, True)
    assert plan.estimate.n_texts == 3  # the blank is never sent, the duplicate once
    line = plan.describe()
    assert line.startswith("5 documents from 2 file(s) for openai / text-embedding-3-small;")
    assert "not cached: 3 distinct texts" in line and "$" in line


def test_embed_collection_builds_the_collection_and_its_summary(make_embedder, tmp_cache):
    embedder = make_embedder()
    meta = pd.DataFrame({"source": ["a.txt"] * 5})
    outcome = embed_collection(TEXTS, meta, embedder, cache=tmp_cache)
    coll, summary = outcome.collection, outcome.summary
    assert coll.texts == TEXTS and list(coll.metadata["source"]) == ["a.txt"] * 5
    assert isinstance(summary, EmbedSummary)
    assert (summary.count, summary.shape, summary.zero_rows) == (5, (5, 8), 1)
    assert summary.normalized and summary.provider == "openai"
    np.testing.assert_array_equal(coll.embeddings[0], coll.embeddings[4])
    # The plan afterwards: everything is cached, nothing left to pay for.
    assert plan_embedding(TEXTS, embedder, cache=tmp_cache).estimate.n_texts == 0


def test_a_stopped_job_resumes_from_the_cache(make_embedder, openai_server, tmp_path):
    texts = [f"text {i}" for i in range(30)]
    embedder = make_embedder()
    cache = EmbeddingCache(tmp_path / "cache")

    class Stop(Exception):
        pass

    def stop_after_first(progress):
        raise Stop

    with pytest.raises(Stop):
        embed_collection(texts, None, embedder, cache=cache, batch_size=10, concurrency=1,
                         progress=stop_after_first)  # fmt: skip
    sent_before = sum(len(r.inputs) for r in openai_server.embedding_requests)
    assert 0 < sent_before < 30
    outcome = embed_collection(texts, None, embedder, cache=cache, batch_size=10)
    sent_total = sum(len(r.inputs) for r in openai_server.embedding_requests)
    assert sent_total == 30  # each text paid for once across the two runs
    assert outcome.result.n_cached == sent_before
    cache.close()
