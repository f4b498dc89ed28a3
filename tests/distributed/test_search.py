"""Exact search on real Dask LocalClusters: the same ids as local search, whatever happens."""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import core.search
from core.data import Collection
from core.data._shards import ShardedCollection
from core.embedding import EmbedderSpec
from core.errors import ClusterError, InvalidInputError

distributed = pytest.importorskip("distributed")

SPEC = EmbedderSpec("openai", "text-embedding-3-small", 8)
METHODS = ["cosine", "dot", "euclidean"]
BOUNDS = [(0, 130), (130, 131), (131, 600), (600, 601), (601, 900)]  # uneven, two one-row shards
COLOURS = ["red", "green", "blue"]
SCORE_ATOL = {"cosine": 1e-6, "dot": 1e-5, "euclidean": 2e-3}  # see tests/data/test_shards.py


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((900, 8)).astype(np.float32)
    x[700] = x[5]  # a tie across shards (shard 0 and shard 4)
    x[130] = x[600]  # and between the two one-row shards
    root = tmp_path_factory.mktemp("dask") / "sharded"
    sc = ShardedCollection.create(root, SPEC, 8, normalized=False)
    for lo, hi in BOUNDS:
        meta = pd.DataFrame({"i": range(lo, hi), "colour": [COLOURS[i % 3] for i in range(lo, hi)]})
        sc.append([f"t{i}" for i in range(lo, hi)], x[lo:hi], meta)
    queries = np.vstack([x[5], x[600], rng.standard_normal((6, 8)).astype(np.float32)])
    return x, root, queries


@pytest.mark.parametrize("method", METHODS)
def test_identical_to_local_search_every_metric(inproc_client, corpus, method):
    x, root, queries = corpus
    local = ShardedCollection.open(root)
    for k in (1, 2, 10, 900):
        want = local.search(queries, k, method)
        by_path = core.search(root, queries, k, method, backend="dask", client=inproc_client)
        by_object = local.search(queries, k, method, client=inproc_client)
        for got in (by_path, by_object):
            assert_array_equal(got[0], want[0])
            assert_array_equal(got[1], want[1])  # the same per-shard kernel: bit-identical
        whole_ids, whole_scores = core.search(x, queries, k, method)
        assert_array_equal(by_path[0], whole_ids)
        assert_allclose(by_path[1], whole_scores, rtol=1e-6, atol=SCORE_ATOL[method])
    ranking = by_path[0][0].tolist()
    assert ranking.index(700) == ranking.index(5) + 1  # tie across shards: lower id first
    ranking = by_path[0][1].tolist()
    assert ranking.index(600) == ranking.index(130) + 1


@pytest.mark.parametrize("mode", ["float16", "int8", "binary"])
def test_identical_to_local_search_every_memory_mode(inproc_client, corpus, mode):
    _, root, queries = corpus
    local = ShardedCollection.open(root)
    for method in METHODS:
        want = local.search(queries, 10, method, mode=mode)
        got = core.search(root, queries, 10, method, backend="dask", client=inproc_client,
                          mode=mode)  # fmt: skip
        assert_array_equal(got[0], want[0])
        assert_array_equal(got[1], want[1])


def test_arrays_and_saved_collections(inproc_client, corpus, tmp_path):
    x, _, queries = corpus
    want = core.search(x, queries, 10, "cosine")
    got = core.search(x, queries, 10, "cosine", backend="dask", client=inproc_client)
    assert_array_equal(got[0], want[0])
    Collection.create([f"t{i}" for i in range(len(x))], x, SPEC).save(tmp_path / "plain")
    loaded = Collection.load(tmp_path / "plain", mmap=True)
    for corpus_ in (loaded, tmp_path / "plain"):  # workers map vectors.npy themselves
        ids, scores = (
            loaded.search(queries, 10, client=inproc_client)
            if corpus_ is loaded
            else core.search(corpus_, queries, 10, backend="dask", client=inproc_client)
        )
        assert_array_equal(ids, want[0])
        assert_allclose(scores, want[1], rtol=1e-6, atol=1e-6)


def test_a_batch_is_one_task_per_shard_and_workers_keep_their_shards(inproc_client, corpus):
    _, root, queries = corpus
    batch = np.tile(queries, (8, 1))  # 64 queries
    core.search(root, batch, 5, backend="dask", client=inproc_client)
    with distributed.get_task_stream(inproc_client) as stream:
        core.search(root, batch, 5, backend="dask", client=inproc_client)
    keys = [t["key"] for t in stream.data if str(t["key"]).startswith("_search_shard")]
    assert len(keys) == len(BOUNDS)

    def kept():
        from core.distributed import _search

        return sorted(k[1] for k in _search._SHARDS.entries if k[0] == str(root) and len(k) == 3)

    held = inproc_client.run(kept)  # in-process workers share one cache: every shard is there
    names = sorted(s.name for s in ShardedCollection.open(root).shards)
    assert all(v == names for v in held.values())


def test_bad_input_is_refused_before_anything_is_sent(inproc_client, corpus):
    x, root, queries = corpus
    with pytest.raises(InvalidInputError, match='backend="dask" needs client='):
        core.search(root, queries, 3, backend="dask")
    with pytest.raises(InvalidInputError, match="unknown search backend 'ray'"):
        core.search(x, queries, 3, backend="ray", client=inproc_client)
    with pytest.raises(InvalidInputError, match='client= is for backend="dask"'):
        core.search(x, queries, 3, client=inproc_client)
    with pytest.raises(InvalidInputError, match="queries have dimension 3"):
        core.search(root, np.ones((2, 3)), 3, backend="dask", client=inproc_client)
    with pytest.raises(InvalidInputError, match="needs a sharded collection"):
        core.search(x, queries, 3, backend="dask", client=inproc_client, mode="int8")
    with pytest.raises(ValueError, match="cosine"):
        core.search(root, queries, 3, "manhattan", backend="dask", client=inproc_client)
    bad = x.copy()
    bad[17, 2] = np.nan
    with pytest.raises(InvalidInputError, match="row 17"):
        core.search(bad, queries, 3, backend="dask", client=inproc_client)


class KillWorkerOnTask(distributed.WorkerPlugin):
    """Kills its worker process (SIGKILL) as a matching task starts executing there.

    ``once``: only the first such task in the whole cluster (a marker file decides), else every
    time, on every worker.
    """

    def __init__(self, prefix: str, marker: str | None) -> None:
        self.prefix, self.marker = prefix, marker

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or not str(key).startswith(self.prefix):
            return
        if self.marker is not None:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_search_is_replaced(two_workers, corpus, tmp_path):
    _, root, queries = corpus
    want = ShardedCollection.open(root).search(queries, 10, "dot")
    pids = set(two_workers.run(os.getpid).values())
    marker = tmp_path / "killed"
    two_workers.register_plugin(KillWorkerOnTask("_search_shard", str(marker)), name="kill-once")
    try:
        got = core.search(root, queries, 10, "dot", backend="dask", client=two_workers)
    finally:
        two_workers.unregister_worker_plugin("kill-once")
    assert marker.exists()  # a worker really died during this search
    assert_array_equal(got[0], want[0])
    assert_array_equal(got[1], want[1])
    two_workers.wait_for_workers(2, timeout=60)
    assert set(two_workers.run(os.getpid).values()) != pids  # its nanny started a new one


def test_workers_that_keep_dying_give_a_clear_error(two_workers, corpus):
    _, root, queries = corpus
    two_workers.register_plugin(KillWorkerOnTask("_search_shard", None), name="kill-always")
    try:
        with pytest.raises(ClusterError, match=r"died while scoring a shard.*no partial result"):
            core.search(root, queries, 10, backend="dask", client=two_workers)
    finally:
        two_workers.unregister_worker_plugin("kill-always")
    two_workers.wait_for_workers(2, timeout=60)
    ids, _ = core.search(root, queries, 3, backend="dask", client=two_workers)
    assert_array_equal(ids, ShardedCollection.open(root).search(queries, 3)[0])


WHERES = [
    {"colour": "red"},
    'colour in ("red", "blue") and i >= 100',
    {"i": {"$lt": 131}},  # shards 0 and 1 only: the others have no passing row
    lambda meta: meta["i"] % 97 == 0,  # a callable, run on the workers
    {"colour": "none"},  # nothing passes
]


@pytest.fixture(scope="module")
def whole(corpus):
    """The same documents as one in-memory collection: the local filtered search to match."""
    _, root, _ = corpus
    return ShardedCollection.open(root).to_collection()


@pytest.mark.parametrize("method", METHODS)
def test_filters_give_the_local_filtered_search(inproc_client, corpus, whole, method):
    x, root, queries = corpus
    sharded = ShardedCollection.open(root)
    for where in WHERES:
        want = whole.search(queries, 7, method, where=where)
        local = sharded.search(queries, 7, method, where=where)
        got = sharded.search(queries, 7, method, where=where, client=inproc_client)
        assert_array_equal(got[0], local[0])
        assert_array_equal(got[1], local[1])
        assert_array_equal(got[0], np.asarray(want.ids))
        assert_allclose(got[1], np.asarray(want.scores), rtol=1e-6, atol=SCORE_ATOL[method])
    mask = np.zeros(len(x), dtype=bool)
    mask[[3, 130, 600, 899]] = True  # a bool array is cut into each shard's part
    got = core.search(root, queries, 10, method, backend="dask", client=inproc_client, where=mask)
    assert sorted(got[0][0].tolist()) == [3, 130, 600, 899]
    assert_array_equal(got[0], np.asarray(whole.search(queries, 10, method, where=mask).ids))
    plain = Collection.load(whole.save(root.parent / f"plain-{method}"), mmap=True)
    got = core.search(plain, queries, 7, method, backend="dask", client=inproc_client,
                      where=WHERES[1])  # fmt: skip
    assert_array_equal(got[0], np.asarray(whole.search(queries, 7, method, where=WHERES[1]).ids))


def test_mmr_on_the_cluster_is_the_local_mmr(inproc_client, corpus, whole):
    _, root, queries = corpus
    sharded = ShardedCollection.open(root)
    for lam, where in ((0.5, None), (0.2, {"colour": "blue"}), (1.0, None)):
        want = whole.search(queries, 5, "cosine", mmr=lam, where=where)
        local = sharded.search(queries, 5, "cosine", mmr=lam, where=where)
        got = sharded.search(queries, 5, "cosine", mmr=lam, where=where, client=inproc_client)
        for ids, scores in (local, got):
            assert_array_equal(ids, np.asarray(want.ids))
            assert_allclose(scores, np.asarray(want.scores), rtol=1e-6, atol=1e-6)
    plain = core.search(whole, queries, 5, "dot", backend="dask", client=inproc_client, mmr=0.3)
    assert_array_equal(plain[0], np.asarray(whole.search(queries, 5, "dot", mmr=0.3).ids))


def test_bad_filters_and_mmr_are_refused_before_anything_is_sent(inproc_client, corpus):
    x, root, queries = corpus
    sharded = ShardedCollection.open(root)
    with pytest.raises(InvalidInputError, match=r"unknown metadata column 'color'.*'i', 'colour'"):
        sharded.search(queries, 3, where={"color": "red"}, client=inproc_client)
    with pytest.raises(InvalidInputError, match="bad filter at character 8"):
        sharded.search(queries, 3, where="colour red", client=inproc_client)
    with pytest.raises(InvalidInputError, match=r"bool of shape \(900,\)"):
        sharded.search(queries, 3, where=np.ones(5, bool), client=inproc_client)
    with pytest.raises(InvalidInputError, match=r"mmr \(lambda\) must be a number in \[0, 1\]"):
        sharded.search(queries, 3, mmr=1.5, client=inproc_client)
    with pytest.raises(InvalidInputError, match=r"fetch_k \(2\) must be at least k \(3\)"):
        sharded.search(queries, 3, mmr=0.5, fetch_k=2)
    with pytest.raises(InvalidInputError, match="a plain array has no metadata"):
        core.search(x, queries, 3, backend="dask", client=inproc_client, where={"i": 1})
    with pytest.raises(InvalidInputError, match="shard_cache_mb must be a positive number"):
        core.search(root, queries, 3, backend="dask", client=inproc_client, shard_cache_mb=0)


def test_the_shard_cache_is_bounded_and_evicts_least_recently_used(inproc_client, corpus):
    from core.distributed import _search

    _, root, queries = corpus
    want = ShardedCollection.open(root).search(queries, 10, "cosine")
    # Shards 0 and 4 pin 130*8*4 + 130*4 and 299*8*4 + 299*4 bytes: a 0.012 MB bound (12,582
    # bytes) keeps about two of the five shards.
    for _ in range(2):
        got = core.search(root, queries, 10, backend="dask", client=inproc_client,
                          shard_cache_mb=0.012)  # fmt: skip
        assert_array_equal(got[0], want[0])
        assert_array_equal(got[1], want[1])
    cache = _search._SHARDS
    assert cache.evictions > 0
    assert 1 <= len(cache.entries) < len(BOUNDS)
    assert cache.nbytes() <= 0.012 * 2**20 or len(cache.entries) == 1
    core.search(root, queries, 10, backend="dask", client=inproc_client, shard_cache_mb=1024)
    assert len([k for k in cache.entries if k[0] == str(root)]) == len(BOUNDS)  # all kept again


def test_collection_search_takes_filters_and_mmr_to_the_cluster(inproc_client, corpus, whole):
    _, _, queries = corpus
    for options in ({"where": {"colour": "red"}}, {"mmr": 0.4}, {"where": WHERES[1], "mmr": 0.7}):
        want = whole.search(queries, 7, "cosine", **options)
        got = whole.search(queries, 7, "cosine", client=inproc_client, **options)
        assert_array_equal(got.ids, np.asarray(want.ids))
        assert_allclose(got.scores, np.asarray(want.scores), rtol=1e-6, atol=1e-6)
        # the same results object as the local search gives: its table too
        pd.testing.assert_frame_equal(got.to_frame(), want.to_frame(), rtol=1e-6, atol=1e-6)
