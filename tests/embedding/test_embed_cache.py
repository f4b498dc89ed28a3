"""The persistent SQLite embedding cache: ByteStore contract, vectors, threads and processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from langchain_core.stores import BaseStore
from numpy.testing import assert_array_equal

from core.embedding._cache import (
    CACHE_DIR_ENV,
    CACHE_FILE_NAME,
    EmbeddingCache,
    default_cache,
    default_cache_dir,
    text_key,
)
from tests.fixtures_openai import *  # noqa: F403

SPEC = "openai|text-embedding-3-small|8"


def test_is_a_langchain_byte_store(tmp_cache):
    assert isinstance(tmp_cache, BaseStore)
    tmp_cache.mset([("b|1", b"one"), ("a|%_", b"two"), ("b|2", b"\x00\xff")])
    assert tmp_cache.mget(["b|1", "missing", "b|2"]) == [b"one", None, b"\x00\xff"]
    assert list(tmp_cache.yield_keys()) == ["a|%_", "b|1", "b|2"]
    assert list(tmp_cache.yield_keys(prefix="b|")) == ["b|1", "b|2"]
    assert list(tmp_cache.yield_keys(prefix="a|%")) == ["a|%_"]  # no LIKE wildcards
    tmp_cache.mdelete(["b|1", "never-there"])
    assert tmp_cache.mget(["b|1"]) == [None]
    tmp_cache.mset([("b|2", b"new")])
    assert tmp_cache.mget(["b|2"]) == [b"new"]


def test_mget_handles_more_keys_than_one_sql_query(tmp_cache):
    pairs = [(f"k{i}", str(i).encode()) for i in range(1234)]
    tmp_cache.mset(pairs)
    keys = [k for k, _ in pairs][::-1]
    assert tmp_cache.mget(keys) == [v for _, v in pairs][::-1]


def test_vectors_round_trip_exactly_and_check_the_dimension(tmp_cache):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, 8)).astype(np.float32)
    tmp_cache.put_vectors(SPEC, ["a", "b", "你好"], vectors)
    got = tmp_cache.get_vectors(SPEC, ["你好", "missing", "a"], 8)
    assert_array_equal(got[0], vectors[2]) and got[1] is None
    assert got[2].dtype == np.float32
    assert tmp_cache.get_vectors(SPEC, ["a"], 16) == [None]  # wrong size counts as a miss
    assert tmp_cache.get_vectors("openai|other|8", ["a"], 8) == [None]
    assert tmp_cache.mget([text_key(SPEC, "a")]) == [vectors[0].astype("<f4").tobytes()]


def test_put_vectors_refuses_bad_input(tmp_cache):
    with pytest.raises(ValueError, match="one row per text"):
        tmp_cache.put_vectors(SPEC, ["a", "b"], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        tmp_cache.put_vectors(SPEC, ["a"], np.full((1, 4), np.nan))
    assert tmp_cache.count() == 0


def test_count_and_clear_per_embedder(tmp_cache):
    tmp_cache.put_vectors(SPEC, ["a", "b"], np.ones((2, 8)))
    tmp_cache.put_vectors(SPEC + "0", ["a"], np.ones((1, 8)))  # a prefix-like neighbour
    assert (tmp_cache.count(), tmp_cache.count(SPEC), tmp_cache.count(SPEC + "0")) == (3, 2, 1)
    assert tmp_cache.clear(SPEC) == 2
    assert (tmp_cache.count(), tmp_cache.count(SPEC + "0")) == (1, 1)
    assert tmp_cache.clear() == 1 and tmp_cache.count() == 0


def test_survives_reopening(tmp_path):
    first = EmbeddingCache(tmp_path)
    first.put_vectors(SPEC, ["kept"], np.arange(8, dtype=np.float32)[None])
    first.close()
    second = EmbeddingCache(tmp_path)
    assert_array_equal(second.get_vectors(SPEC, ["kept"], 8)[0], np.arange(8))
    assert (tmp_path / CACHE_FILE_NAME).is_file()


def test_many_threads_write_at_once(tmp_cache):
    def write(worker):
        for i in range(50):
            tmp_cache.put_vectors(SPEC, [f"{worker}-{i}"], np.full((1, 8), worker, np.float32))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tmp_cache.count(SPEC) == 400
    assert tmp_cache.get_vectors(SPEC, ["7-49"], 8)[0][0] == 7


def test_two_processes_share_the_file(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_vectors(SPEC, ["from parent"], np.ones((1, 8)))
    child = textwrap.dedent(
        f"""
        import numpy as np
        from core.embedding._cache import EmbeddingCache
        cache = EmbeddingCache({str(tmp_path)!r})
        assert cache.get_vectors({SPEC!r}, ["from parent"], 8)[0] is not None
        for i in range(200):
            cache.put_vectors({SPEC!r}, [f"child {{i}}"], np.full((1, 8), 2.0))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=Path(__file__).parents[2])
    for i in range(200):  # write at the same time as the child
        cache.put_vectors(SPEC, [f"parent {i}"], np.ones((1, 8)))
    assert proc.wait(timeout=60) == 0
    assert cache.count(SPEC) == 401
    assert cache.get_vectors(SPEC, ["child 199"], 8)[0][0] == 2.0


def test_location_argument_then_env_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))
    assert default_cache_dir() == tmp_path / "from-env"
    assert default_cache().directory == tmp_path / "from-env"
    assert default_cache() is default_cache()
    assert EmbeddingCache(tmp_path / "arg").path == tmp_path / "arg" / CACHE_FILE_NAME
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "embedding-workbench"


def test_works_under_langchain_cache_backed_embeddings(tmp_cache):
    """The store is a LangChain ByteStore: CacheBackedEmbeddings can sit on it unchanged."""
    from langchain_classic.embeddings import CacheBackedEmbeddings

    from core.embedding.providers._local import UseMultilingualEmbedder

    underlying = UseMultilingualEmbedder()
    cached = CacheBackedEmbeddings.from_bytes_store(
        underlying, tmp_cache, namespace="use", key_encoder="sha256"
    )
    first = cached.embed_documents(["a cat on a mat", "猫坐在垫子上"])
    assert len(first) == 2 and len(first[0]) == 512
    assert cached.embed_documents(["a cat on a mat", "猫坐在垫子上"]) == first
    assert len(list(tmp_cache.yield_keys(prefix="use"))) == 2


def test_the_disk_cache_is_capped_and_evicts_the_least_recently_written(tmp_path):
    import numpy as np

    from core.embedding._cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "capped", max_bytes=40 * 4 * 16)  # room for 40 16-d rows
    vectors = np.arange(100 * 16, dtype=np.float32).reshape(100, 16)
    texts = [f"t{i}" for i in range(100)]
    for start in range(0, 100, 10):  # ten writes, as ten finished requests
        cache.put_vectors("spec", texts[start : start + 10], vectors[start : start + 10])
    kept = cache.get_vectors("spec", texts, 16)
    alive = [i for i, v in enumerate(kept) if v is not None]
    assert cache.nbytes <= 40 * 4 * 16
    assert alive == list(range(100 - len(alive), 100))  # the newest survive, in one run
    assert len(alive) >= 30
    np.testing.assert_array_equal(np.stack([kept[i] for i in alive]), vectors[alive])
    reopened = EmbeddingCache(tmp_path / "capped", max_bytes=40 * 4 * 16)
    assert reopened.nbytes == cache.nbytes == 4 * 16 * reopened.count()


def test_a_bad_cache_size_setting_is_refused(tmp_path, monkeypatch):
    from core.embedding._cache import CACHE_MAX_MB_ENV, EmbeddingCache

    monkeypatch.setenv(CACHE_MAX_MB_ENV, "lots")
    with pytest.raises(ValueError, match="EMBEDDING_WORKBENCH_CACHE_MAX_MB must be a number"):
        EmbeddingCache(tmp_path / "c")
