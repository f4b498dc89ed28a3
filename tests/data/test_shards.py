"""Sharded collections: written shard by shard, read and searched as one, appended to."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import core.search
from core.data import Collection
from core.data._shards import (
    SHARDS_DIR,
    SHARDS_MANIFEST,
    ShardedCollection,
    is_sharded,
    shard_collection,
)
from core.embedding import EmbedderSpec
from core.errors import CollectionError, InvalidInputError

SPEC = EmbedderSpec("openai", "text-embedding-3-small", 8)
SCORE_RTOL = 1e-6  # a shard's GEMM may round its last bit differently from the whole matrix
# Euclidean near 0 is sqrt(|a|^2 + |b|^2 - 2ab): float32 cancellation, amplified by the sqrt.
SCORE_ATOL = {"cosine": 1e-6, "dot": 1e-5, "euclidean": 2e-3}


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


@pytest.fixture
def parts():
    """Uneven shards, one of a single row, with a tie across shards (rows 3 and 250)."""
    x = _vectors(400)
    x[250] = x[3]
    bounds = [(0, 120), (120, 121), (121, 400)]
    return x, bounds


def _sharded(tmp_path, x, bounds) -> ShardedCollection:
    sc = ShardedCollection.create(tmp_path / "c", SPEC, x.shape[1], normalized=False)
    for lo, hi in bounds:
        meta = pd.DataFrame({"row": range(lo, hi)})
        sc.append([f"text {i}" for i in range(lo, hi)], x[lo:hi], meta)
    return sc


@pytest.mark.parametrize("method", ["cosine", "dot", "euclidean"])
def test_search_over_shards_equals_one_search(tmp_path, parts, method):
    x, bounds = parts
    sc = ShardedCollection.open(_sharded(tmp_path, x, bounds).root)
    queries = np.vstack([x[3], _vectors(4, seed=1)])  # query 0 ties rows 3 and 250 exactly
    for k in (1, 5, 400, 1000):
        ids, scores = sc.search(queries, k, method)
        want_ids, want_scores = core.search(x, queries, k, method)
        assert_array_equal(ids, want_ids)
        assert_allclose(scores, want_scores, rtol=SCORE_RTOL, atol=SCORE_ATOL[method])
    ranking = sc.search(x[3], 400, method)[0][0].tolist()
    assert ranking.index(250) == ranking.index(3) + 1  # the tie across shards: lower id first


def test_layout_manifest_and_documents(tmp_path, parts):
    x, bounds = parts
    sc = _sharded(tmp_path, x, bounds)
    assert is_sharded(sc.root) and not is_sharded(tmp_path)
    raw = json.loads((sc.root / SHARDS_MANIFEST).read_text())
    assert [s["count"] for s in raw["shards"]] == [120, 1, 279]
    for shard in raw["shards"]:
        for ext in ("npy", "parquet", "json"):
            assert (sc.root / SHARDS_DIR / f"{shard['name']}.{ext}").is_file()
    reopened = ShardedCollection.open(sc.root, verify=True)
    assert len(reopened) == 400
    assert [s.offset for s in reopened.shards] == [0, 120, 121]
    assert isinstance(reopened.shard_vectors(2), np.memmap)
    rows = reopened.documents_at([399, 0, 120, 0])
    assert rows["text"].tolist() == ["text 399", "text 0", "text 120", "text 0"]
    assert rows["row"].tolist() == [399, 0, 120, 0]


def test_collection_load_reads_a_sharded_collection_as_one(tmp_path, parts):
    x, bounds = parts
    sc = _sharded(tmp_path, x, bounds)
    whole = Collection.load(sc.root)
    assert len(whole) == 400
    assert_array_equal(whole.embeddings, x)
    assert whole.texts[121] == "text 121"
    assert whole.metadata["row"].tolist() == list(range(400))
    assert_array_equal(whole.search(x[:3], 4)[0], sc.search(x[:3], 4)[0])


def test_shard_an_existing_collection(tmp_path):
    x = _vectors(50)
    texts = [f"doc {i}" for i in range(50)]
    meta = pd.DataFrame({"source": ["a.txt"] * 50, "location": [f"line {i}" for i in range(50)]})
    Collection.create(texts, x, SPEC, meta).save(tmp_path / "plain")
    sc = shard_collection(tmp_path / "plain", tmp_path / "sharded", rows_per_shard=16)
    assert [s.count for s in sc.shards] == [16, 16, 16, 2]
    back = sc.to_collection()
    assert back.texts == texts
    assert_array_equal(back.embeddings, x)
    assert back.metadata["location"].tolist() == meta["location"].tolist()
    assert sc.spec == SPEC
    with pytest.raises(CollectionError, match="not a directory"):
        shard_collection(tmp_path / "missing", tmp_path / "x", rows_per_shard=4)
    with pytest.raises(InvalidInputError, match="rows_per_shard must be a positive integer"):
        shard_collection(tmp_path / "plain", tmp_path / "y", rows_per_shard=0)


def test_append_is_atomic_when_a_shard_cannot_be_written(tmp_path, parts):
    x, bounds = parts
    sc = _sharded(tmp_path, x, bounds[:1])
    before = (sc.root / SHARDS_MANIFEST).read_text()
    bad = pd.DataFrame({"row": [object()] * 5})  # Parquet cannot store arbitrary objects
    with pytest.raises(Exception, match="object"):
        sc.append([f"t{i}" for i in range(5)], x[:5], bad)
    assert (sc.root / SHARDS_MANIFEST).read_text() == before
    assert len(list((sc.root / SHARDS_DIR).iterdir())) == 3  # one shard, no leftovers
    assert len(ShardedCollection.open(sc.root, verify=True)) == 120


def test_bad_input_and_damage_are_reported(tmp_path, parts):
    x, bounds = parts
    sc = _sharded(tmp_path, x, bounds)
    with pytest.raises(InvalidInputError, match="dimension 3 but the collection holds 8-d"):
        sc.search(np.ones(3, np.float32), 2)
    with pytest.raises(InvalidInputError, match="k must be a positive integer"):
        sc.search(x[0], 0)
    with pytest.raises(InvalidInputError, match="embeddings have dimension 4"):
        sc.append(["a"], np.ones((1, 4), np.float32))
    with pytest.raises(InvalidInputError, match="2 texts but 1 vectors"):
        sc.append(["a", "b"], np.ones((1, 8), np.float32))
    with pytest.raises(CollectionError, match="already holds a collection"):
        ShardedCollection.create(sc.root, SPEC, 8, normalized=False)
    with pytest.raises(CollectionError, match="is not a sharded collection"):
        ShardedCollection.open(tmp_path)
    shard = sc.shards[2]
    vectors = np.load(sc.root / SHARDS_DIR / f"{shard.name}.npy")
    vectors[0, 0] += 1
    np.save(sc.root / SHARDS_DIR / f"{shard.name}.npy", vectors)
    with pytest.raises(CollectionError, match=f"shard {shard.name} .* changed"):
        ShardedCollection.open(sc.root, verify=True)
    (sc.root / SHARDS_DIR / f"{shard.name}.npy").unlink()
    with pytest.raises(CollectionError, match=r"is missing\. A shard must be on a path every"):
        ShardedCollection.open(sc.root).search(x[0], 3)
    (sc.root / SHARDS_MANIFEST).write_text("{nope")
    with pytest.raises(CollectionError, match="is not valid JSON"):
        ShardedCollection.open(sc.root)


@pytest.mark.parametrize("mode", ["float16", "int8", "binary"])
def test_compressed_modes_build_one_index_per_shard(tmp_path, parts, mode):
    x, bounds = parts
    sc = _sharded(tmp_path, x, bounds)
    queries = _vectors(3, seed=2)
    ids, scores = sc.search(queries, 5, "cosine", mode=mode)
    # The same as searching each shard's own index and merging by hand.
    parts_ = []
    for shard in sc.shards:
        block = x[shard.offset : shard.offset + shard.count]
        i, s = core.search.build_index(block, mode).search(queries, min(5, shard.count), "cosine")
        parts_.append((i + shard.offset, s))
    want_ids, want_scores = core.search.merge_topk(parts_, 5)
    assert_array_equal(ids, want_ids)
    assert_array_equal(scores, want_scores)
