"""The dashboard's per-session vector store: the batch engine's cache contract, a memory bound,
and thread safety; shared nothing between instances."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.embedding._batching import embed_texts
from core.embedding._cache import text_key
from core.embedding.providers._local import UseMultilingualEmbedder
from ui.session_store import SessionVectorStore

SPEC = "use-multilingual|model|native"


def test_put_then_get_round_trips_and_misses_are_none(rng):
    store = SessionVectorStore()
    vectors = rng.standard_normal((3, 5)).astype(np.float32)
    store.put_vectors(SPEC, ["a", "b", "c"], vectors)
    got = store.get_vectors(SPEC, ["b", "zzz", "a"], 5)
    np.testing.assert_array_equal(got[0], vectors[1])
    assert got[1] is None
    np.testing.assert_array_equal(got[2], vectors[0])
    assert store.get_vectors(SPEC, ["a"], 6) == [None]  # wrong dimension is a miss
    assert store.get_vectors("other|model|native", ["a"], 5) == [None]
    assert store.count(SPEC) == 3 and len(store) == 3
    assert all(k.startswith(SPEC + "|") for k in store.yield_keys(prefix=SPEC))
    assert store.mget([text_key(SPEC, "c")])[0] == vectors[2].tobytes()


def test_stores_are_independent(rng):
    one, two = SessionVectorStore(), SessionVectorStore()
    one.put_vectors(SPEC, ["secret"], rng.standard_normal((1, 4)))
    assert two.get_vectors(SPEC, ["secret"], 4) == [None]


def test_memory_bound_drops_oldest_first():
    store = SessionVectorStore(max_bytes=3 * 16)  # three 4-d float32 vectors
    for i in range(5):
        store.put_vectors(SPEC, [f"t{i}"], np.full((1, 4), i, dtype=np.float32))
    assert store.nbytes == 48 and len(store) == 3
    assert store.get_vectors(SPEC, ["t0", "t1"], 4) == [None, None]
    assert store.get_vectors(SPEC, ["t4"], 4)[0][0] == 4.0


def test_clear_and_delete(rng):
    store = SessionVectorStore()
    store.put_vectors(SPEC, ["a", "b"], rng.standard_normal((2, 3)))
    store.put_vectors("x|y|native", ["a"], rng.standard_normal((1, 3)))
    assert store.clear(SPEC) == 2
    assert len(store) == 1 and store.nbytes == 12
    assert store.clear() == 1 and store.nbytes == 0


@pytest.mark.parametrize(
    ("texts", "vectors", "message"),
    [
        (["a"], np.zeros((2, 3)), "one row per text"),
        (["a"], np.array([[np.nan, 0.0]]), "refuses NaN"),
    ],
)
def test_bad_puts_are_refused(texts, vectors, message):
    with pytest.raises(ValueError, match=message):
        SessionVectorStore().put_vectors(SPEC, texts, vectors)
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        SessionVectorStore(max_bytes=0)


def test_concurrent_writers_keep_the_byte_count_exact():
    store = SessionVectorStore()

    def write(worker: int) -> None:
        for i in range(200):
            store.put_vectors(SPEC, [f"{worker}-{i}"], np.ones((1, 8), dtype=np.float32))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 800 and store.nbytes == 800 * 32


def test_batch_engine_resumes_from_the_store():
    """A first job stops after one batch (the callback raises); the second sends only the rest."""
    embedder = UseMultilingualEmbedder()
    texts = [f"sentence number {i}" for i in range(12)]
    store = SessionVectorStore()

    class Stop(Exception):
        pass

    def stop_after_first(progress):
        if progress.batch_index >= 1:
            raise Stop

    with pytest.raises(Stop):
        embed_texts(texts, embedder, batch_size=4, cache=store, progress=stop_after_first)
    assert len(store) == 4
    result = embed_texts(texts, embedder, batch_size=4, cache=store)
    assert result.n_cached == 4 and result.n_requests == 2
    fresh = embed_texts(texts, embedder, batch_size=4, cache=None)
    np.testing.assert_allclose(result.vectors, fresh.vectors, atol=1e-6)
