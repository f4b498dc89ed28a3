"""Distributed embedding jobs on real LocalClusters against the project's own server."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.data._shards import ShardedCollection
from core.distributed import JobProgress, SharedRateLimit, embed_to_shards
from core.errors import CollectionError, EmbeddingJobError, InvalidInputError
from core.server import Fault, OpenAICompatibleServer, reference_embedding

distributed = pytest.importorskip("distributed")

KEY = "sk-test-workbench-0123456789"
MODEL = "text-embedding-3-small"
DIM = 8


def _texts(n: int, tag: str = "") -> list[str]:
    return [f"document {tag}{i} about item {i % 7}" for i in range(n)]


def _job(texts, out, client, server, **kwargs):
    kwargs.setdefault("rows_per_shard", 40)
    kwargs.setdefault("batch_size", 10)
    return embed_to_shards(
        texts, out, client=client, provider="openai", model=MODEL, dimensions=DIM, api_key=KEY,
        base_url=server.base_url, provider_options={"timeout": 20.0}, **kwargs,
    )  # fmt: skip


def _accepted_texts(server) -> Counter:
    return Counter(t for r in server.embedding_requests if r.status == 200 for t in r.inputs)


def _check_vectors(collection: ShardedCollection, texts) -> None:
    got = collection.to_collection()
    assert got.texts == texts
    want = np.stack([reference_embedding(t, MODEL, DIM) for t in texts])
    assert_allclose(got.embeddings, want, atol=1e-6)


@pytest.fixture
def server():
    with OpenAICompatibleServer(api_key=KEY) as s:
        yield s


def test_shards_in_input_order_with_progress_and_a_rerun_sends_nothing(
    inproc_client, server, tmp_path
):
    texts = _texts(130)
    seen: list[JobProgress] = []
    result = _job(texts, tmp_path / "out", inproc_client, server, progress=seen.append)
    assert result.n_shards == 4 and result.n_skipped == 0
    assert [s.count for s in result.collection.shards] == [40, 40, 40, 10]
    _check_vectors(result.collection, texts)
    assert seen[0].shards_done == 0 and seen[-1].shards_done == 4
    assert [p.texts_done for p in seen] == sorted(p.texts_done for p in seen)
    # Reported as requests finish, not only per shard (at most 5 distinct values then).
    assert len({p.texts_done for p in seen}) > 5
    assert all(p.texts_done % 10 == 0 for p in seen)  # whole requests of 10 texts
    assert seen[-1].texts_done == 130 and seen[-1].n_texts == 130
    assert sum(_accepted_texts(server).values()) == 130
    server.reset_log()
    again = _job(texts, tmp_path / "out", inproc_client, server)
    assert again.n_skipped == 4 and again.n_requests == 0
    assert server.embedding_requests == []
    assert len(ShardedCollection.open(tmp_path / "out", verify=True)) == 130


def test_resume_after_a_stopped_job_sends_each_text_once(inproc_client, server, tmp_path):
    texts = _texts(200, "r")
    # The 6th request is refused for good (401): its partition stops, the others finish.
    server.inject(None, None, None, None, None, Fault.unauthorized())
    with pytest.raises(EmbeddingJobError, match=r"1 of 5 shard\(s\) failed.*rerun the same job"):
        _job(texts, tmp_path / "out", inproc_client, server, concurrency=1)
    first = _accepted_texts(server)
    assert 0 < sum(first.values()) < 200
    result = _job(texts, tmp_path / "out", inproc_client, server, concurrency=1)
    assert result.n_skipped == 4
    sent = _accepted_texts(server)
    assert set(sent) == set(texts)
    assert max(sent.values()) == 1  # over both runs, every text was paid for exactly once
    _check_vectors(result.collection, texts)


def test_the_rate_limit_holds_across_the_cluster(two_workers, tmp_path):
    """Two worker processes, 2 partitions and 4 requests in flight each, one limit of 600 tokens
    per 2 s. Counted at the server, by arrival time: no window ever holds more than the limit;
    a limit per worker would let about twice as much through.

    (The server charges a request when it gets to process it, which on a loaded machine can lag
    the arrival by a good part of a second; it may then answer 429, the job pauses as told and
    retries. The arrivals are what the limiter controls, so they are what is counted.)
    """
    limit, window = 600, 2.0
    texts = _texts(200, "t")
    with OpenAICompatibleServer(api_key=KEY, tokens_per_minute=limit, window_s=window) as server:
        # A loaded machine can delay a request by a good part of a second after its turn.
        result = _job(texts, tmp_path / "out", two_workers, server, tokens_per_minute=limit,
                      window_s=window, jitter_s=1.0, concurrency=4)  # fmt: skip
        records = server.embedding_requests
    _check_vectors(result.collection, texts)
    starts = np.array([r.t_start for r in records])
    tokens = np.array([r.tokens for r in records])
    per_window = [tokens[(starts >= t) & (starts < t + window)].sum() for t in starts]
    assert max(per_window) <= limit
    assert tokens.sum() > 2 * limit  # the job spanned several windows: the limit was tested
    per_second = Counter(int(t - starts.min()) for t in starts)
    assert max(per_second.values()) * tokens.min() <= limit


def test_the_shared_schedule_keeps_every_window_within_the_request_budget():
    """The cluster's schedule (what every worker's request goes through), requests only: 40
    requests asked for at once get slots whose every window holds at most the budget."""
    limit = SharedRateLimit(requests_per_minute=8, window_s=1.0, jitter_s=0.1)
    log: list = []
    for _ in range(40):
        log.append([limit.schedule(log, 100.0, tokens=1), 1])
    slots = np.array([t for t, _ in log])
    assert (np.diff(slots) >= 0).all()
    budget = int(0.95 * 8)
    assert max(int(((slots > t - 1.0) & (slots <= t)).sum()) for t in slots) <= budget
    assert slots[budget] >= slots[0] + 1.0  # the next window starts only after the first closes


def test_a_retry_after_pauses_every_worker(inproc_client, server, tmp_path):
    texts = _texts(120, "p")
    server.inject(None, None, Fault.rate_limit(retry_after=1.0))
    limit = 10**6
    _job(texts, tmp_path / "out", inproc_client, server, tokens_per_minute=limit,
         rows_per_shard=30, concurrency=2)  # fmt: skip
    records = server.embedding_requests
    refused = next(r for r in records if r.status == 429)
    # Requests already past the limiter when the 429 came back may still arrive just after it
    # (the grace); after that, no worker sends until the Retry-After is over.
    grace = 0.3
    paused = [r for r in records if refused.t_end + grace < r.t_start < refused.t_start + 0.95]
    assert paused == []
    assert any(r.t_start >= refused.t_start + 0.95 for r in records)
    assert sum(_accepted_texts(server).values()) == 120


def test_bad_jobs_are_refused(inproc_client, server, tmp_path):
    _job(_texts(10), tmp_path / "out", inproc_client, server)
    with pytest.raises(CollectionError, match="holds another embedding job"):
        _job(_texts(11), tmp_path / "out", inproc_client, server)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(CollectionError, match="non-empty directory"):
        _job(_texts(3), tmp_path / "mine", inproc_client, server)
    with pytest.raises(InvalidInputError, match="not one string"):
        _job("abc", tmp_path / "x", inproc_client, server)
    with pytest.raises(InvalidInputError, match="rows_per_shard must be a positive integer"):
        _job(["a"], tmp_path / "x", inproc_client, server, rows_per_shard=0)
    with pytest.raises(InvalidInputError, match="needs tokens_per_minute or requests_per_minute"):
        SharedRateLimit()
