"""Collections: round trip, memory mapping, atomic saves, and clear errors for damaged files."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.data._collection import Collection, CollectionError
from core.embedding._types import EmbedderSpec
from core.search._engine import normalize, search
from core.search._pairs import strongest_pairs

SPEC = EmbedderSpec("use-multilingual", "universal-sentence-encoder-multilingual-3")


def make_collection(rng, n=40, d=8, texts=None):
    texts = texts or [f"document {i} 文档" for i in range(n)]
    meta = pd.DataFrame({"source": ["a.txt"] * n, "location": [f"line {i + 1}" for i in range(n)]})
    return Collection.create(texts, normalize(rng.standard_normal((n, d))), SPEC, meta)


def version_dir(root: Path) -> Path:
    return root / (root / "CURRENT").read_text().strip()


def test_round_trip_keeps_everything(tmp_path, rng):
    original = make_collection(rng)
    original.save(tmp_path / "c")
    loaded = Collection.load(tmp_path / "c")
    assert loaded.texts == original.texts
    assert_array_equal(loaded.embeddings, original.embeddings)
    pd.testing.assert_frame_equal(loaded.metadata, original.metadata)
    assert loaded.manifest == original.manifest
    assert loaded.manifest.normalized is True and loaded.manifest.count == 40
    assert isinstance(loaded.embeddings, np.memmap)
    assert not isinstance(Collection.load(tmp_path / "c", mmap=False).embeddings, np.memmap)


def test_collection_search_equals_engine_search(tmp_path, rng):
    coll = make_collection(rng)
    coll.save(tmp_path / "c")
    loaded = Collection.load(tmp_path / "c")
    q = rng.standard_normal((3, 8))
    for method in ("cosine", "dot", "euclidean"):
        ids, scores = loaded.search(q, 5, method)
        ref_ids, ref_scores = search(coll.embeddings, q, 5, method)
        assert_array_equal(ids, ref_ids)
        assert_allclose(scores, ref_scores, rtol=1e-6)


def test_collection_strongest_pairs_equal_engine_strongest_pairs(tmp_path, rng):
    coll = make_collection(rng)
    coll.save(tmp_path / "c")
    loaded = Collection.load(tmp_path / "c")  # memory-mapped, read-only
    for method, threshold in (("cosine", 0.2), ("dot", 0.2), ("euclidean", 1.2)):
        found = loaded.strongest_pairs(threshold, method, limit=7)
        assert found == strongest_pairs(coll.embeddings, threshold, method, limit=7)
        assert len(found.pairs) == 7 and found.n_passing > 7
        assert found.best == found.pairs[0]
    assert loaded._norms is not None  # cosine kept the row norms for the next call


def test_normalized_flag_is_detected(rng):
    raw = Collection.create(["a", "b"], rng.standard_normal((2, 4)) * 3, SPEC)
    assert raw.manifest.normalized is False
    with_zero = Collection.create(["a", ""], np.array([[0.6, 0.8], [0, 0]]), SPEC)
    assert with_zero.manifest.normalized is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(texts=["a"], embeddings=np.ones((2, 3))), r"1 texts but 2 embeddings"),
        (
            dict(texts=["a", "b"], embeddings=np.ones((2, 3)), metadata=pd.DataFrame({"x": [1]})),
            r"1 metadata rows for 2 texts",
        ),
        (
            dict(texts=["a"], embeddings=np.ones((1, 3)), metadata=pd.DataFrame({"text": ["z"]})),
            r"metadata may not have a 'text' column",
        ),
        (dict(texts=["a"], embeddings=[[np.nan, 1.0]]), r"embeddings row 0 contains NaN"),
    ],
)
def test_create_refuses_inconsistent_parts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Collection.create(spec=SPEC, **kwargs)


def test_saving_again_replaces_the_old_version_and_cleans_up(tmp_path, rng):
    root = tmp_path / "c"
    make_collection(rng, n=10).save(root)
    first = version_dir(root)
    make_collection(rng, n=12).save(root)
    assert not first.exists()
    assert len(Collection.load(root)) == 12
    assert sorted(p.name for p in root.iterdir() if p.name not in ("CURRENT", ".lock")) == [
        version_dir(root).name
    ]


def _save_then_die(root: str, n: int) -> None:
    """Child process: start saving a collection and get killed in the middle of it."""
    import core.data._collection as collection_module

    real_to_parquet = pd.DataFrame.to_parquet

    def dying_to_parquet(self, path, *args, **kwargs):
        real_to_parquet(self, path, *args, **kwargs)
        os._exit(17)  # as abrupt as a crash or a kill: no cleanup handlers run

    pd.DataFrame.to_parquet = dying_to_parquet
    rng = np.random.default_rng(1)
    collection_module.Collection.create(
        [f"new {i}" for i in range(n)], rng.standard_normal((n, 8)), SPEC
    ).save(root)


def test_a_save_killed_midway_leaves_the_old_collection_intact(tmp_path, rng):
    root = tmp_path / "c"
    old = make_collection(rng, n=10)
    old.save(root)
    child = multiprocessing.get_context("spawn").Process(
        target=_save_then_die, args=(str(root), 25)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 17
    loaded = Collection.load(root)
    assert loaded.texts == old.texts
    assert_array_equal(loaded.embeddings, old.embeddings)
    # The staging debris the crash left behind is ignored, and the next save succeeds.
    make_collection(rng, n=5).save(root)
    assert len(Collection.load(root)) == 5


def test_an_exception_during_save_removes_the_staging_directory(tmp_path, rng, monkeypatch):
    root = tmp_path / "c"
    make_collection(rng, n=4).save(root)

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", failing)
    with pytest.raises(OSError, match="disk full"):
        make_collection(rng, n=6).save(root)
    assert [p.name for p in root.iterdir() if p.name.startswith(".tmp")] == []
    assert len(Collection.load(root)) == 4


# ------------------------------------------------------------------ damaged collections


def test_missing_directory(tmp_path):
    with pytest.raises(CollectionError, match=r"no collection at .*nope: not a directory"):
        Collection.load(tmp_path / "nope")


def test_directory_that_is_not_a_collection(tmp_path):
    with pytest.raises(CollectionError, match="is not a collection: CURRENT is missing"):
        Collection.load(tmp_path)


def test_truncated_vectors(tmp_path, rng):
    make_collection(rng).save(tmp_path / "c")
    vectors = version_dir(tmp_path / "c") / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:300])
    for mmap in (True, False):
        with pytest.raises(CollectionError, match=r"vectors.npy is corrupt or truncated"):
            Collection.load(tmp_path / "c", mmap=mmap)


def test_corrupt_documents(tmp_path, rng):
    make_collection(rng).save(tmp_path / "c")
    (version_dir(tmp_path / "c") / "documents.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(CollectionError, match=r"documents.parquet is corrupt or truncated"):
        Collection.load(tmp_path / "c")


def test_vector_count_differs_from_text_count(tmp_path, rng):
    make_collection(rng, n=10).save(tmp_path / "c")
    np.save(version_dir(tmp_path / "c") / "vectors.npy", np.ones((9, 8), np.float32))
    with pytest.raises(CollectionError, match=r"9 vectors but 10 texts"):
        Collection.load(tmp_path / "c")


def test_dimension_differs_from_manifest(tmp_path, rng):
    make_collection(rng, n=10).save(tmp_path / "c")
    path = version_dir(tmp_path / "c") / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["dimension"] = 16
    path.write_text(json.dumps(manifest))
    with pytest.raises(CollectionError, match=r"dimension 8 but the manifest says 16"):
        Collection.load(tmp_path / "c")


def test_changed_vectors_fail_the_content_hash(tmp_path, rng):
    make_collection(rng, n=10).save(tmp_path / "c")
    path = version_dir(tmp_path / "c") / "vectors.npy"
    vectors = np.load(path)
    vectors[3, 2] += 0.5
    np.save(path, vectors)
    with pytest.raises(CollectionError, match="content hash mismatch"):
        Collection.load(tmp_path / "c")
    assert len(Collection.load(tmp_path / "c", verify=False)) == 10


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"manifest.json is not valid JSON"),
        ('{"provider": "x"}', r"unexpected or missing fields"),
    ],
)
def test_broken_manifest(tmp_path, rng, content, message):
    make_collection(rng).save(tmp_path / "c")
    (version_dir(tmp_path / "c") / "manifest.json").write_text(content)
    with pytest.raises(CollectionError, match=message):
        Collection.load(tmp_path / "c")


def test_wrong_dtype_vectors(tmp_path, rng):
    make_collection(rng, n=10).save(tmp_path / "c")
    np.save(version_dir(tmp_path / "c") / "vectors.npy", np.ones((10, 8), np.float64))
    with pytest.raises(
        CollectionError, match=r"holds float64 of shape \(10, 8\); expected float32"
    ):
        Collection.load(tmp_path / "c")


def test_save_refuses_a_file_or_a_folder_of_other_things(tmp_path, rng):
    coll = make_collection(rng)
    (tmp_path / "a-file").write_text("keep me", encoding="utf-8")
    with pytest.raises(CollectionError, match="it is a file"):
        coll.save(tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "keep me"
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(CollectionError, match="holds other files and is not a collection"):
        coll.save(other)
    assert [p.name for p in other.iterdir()] == ["cat.jpg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert Collection.load(coll.save(empty)).texts == coll.texts
