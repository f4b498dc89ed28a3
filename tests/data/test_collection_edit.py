"""Collections that change: add, delete, update; ids; filters before top-k; MMR; tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.data._collection import Collection, CollectionError
from core.data._formats import EXPORTS, from_bytes, to_npz_bytes, to_parquet_bytes
from core.embedding._types import EmbedderSpec
from core.search import mmr, normalize, search

SPEC = EmbedderSpec("openai", "text-embedding-3-small", 8)


def inputs_sent(server) -> list[str]:
    return [text for record in server.embedding_requests for text in record.inputs]


def make(rng, n=12, d=8):
    meta = pd.DataFrame({"source": ["a.csv"] * (n // 2) + ["b.md"] * (n - n // 2), "n": range(n)})
    texts = [f"text {i}" for i in range(n)]
    return Collection.create(texts, normalize(rng.standard_normal((n, d))), SPEC, meta)


def test_ids_are_generated_unique_and_kept_through_save(tmp_path, rng):
    c = make(rng)
    assert len(set(c.ids)) == len(c) and all(len(i) == 32 for i in c.ids)
    c.save(tmp_path / "c")
    assert Collection.load(tmp_path / "c").ids == c.ids
    for name, data in (("c.parquet", to_parquet_bytes(c)), ("c.npz", to_npz_bytes(c))):
        assert from_bytes(name, data).ids == c.ids


def test_add_embeds_only_new_texts_through_the_cache(make_embedder, openai_server, tmp_cache):
    embedder = make_embedder()
    first = ["alpha", "beta"]
    base = Collection.create(first, embedder.embed_documents(first), embedder.spec)
    openai_server.reset_log()
    grown = base.add(["beta", "gamma", "gamma"], embedder, cache=tmp_cache, ids=["b2", "g", "g2"])
    assert inputs_sent(openai_server) == ["gamma"]  # beta is in the collection, gamma once
    assert grown.texts == ["alpha", "beta", "beta", "gamma", "gamma"]
    assert grown.ids[2:] == ["b2", "g", "g2"] and grown.ids[:2] == base.ids
    assert_array_equal(grown.embeddings[2], base.embeddings[1])
    openai_server.reset_log()
    again = base.add(["gamma"], embedder, cache=tmp_cache)
    assert inputs_sent(openai_server) == []  # served by the cache
    assert_array_equal(again.embeddings[-1], grown.embeddings[-1])
    assert len(base) == 2  # the old version is unchanged


def test_add_checks_model_ids_and_dimension(rng):
    c = make(rng)
    with pytest.raises(CollectionError, match=r"1 id\(s\) are already in the collection: '"):
        c.add(["x"], embeddings=np.ones((1, 8)), ids=[c.ids[0]])
    with pytest.raises(
        CollectionError, match="new vectors have dimension 3 but the collection has 8"
    ):
        c.add(["x"], embeddings=np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"duplicate document id\(s\): 'a'"):
        c.add(["x", "y"], embeddings=np.ones((2, 8)), ids=["a", "a"])
    with pytest.raises(ValueError, match="new texts need an embedder"):
        c.add(["x"])
    with pytest.raises(ValueError, match="metadata may not have a 'text' column"):
        c.add(["x"], embeddings=np.ones((1, 8)), metadata=[{"text": 1}])


def test_add_replacing_an_id_is_an_upsert(rng):
    c = make(rng, n=3)
    new = c.add(["new"], embeddings=np.ones((1, 8)), ids=[c.ids[1]], replace_existing=True)
    assert len(new) == 3 and new.texts[new.rows_of([c.ids[1]])[0]] == "new"


def test_delete_and_update_follow_into_search(rng, tmp_path):
    c = make(rng)
    q = rng.standard_normal((2, 8)).astype(np.float32)
    c.search(q, 3)  # norms are now kept
    gone = c.ids[:3]
    smaller = c.delete(gone)
    ids, scores = smaller.search(q, 4)
    keep = np.arange(3, len(c))
    ref_ids, ref_scores = search(c.embeddings[keep], q, 4)
    assert_array_equal(ids, ref_ids)
    assert_allclose(scores, ref_scores, rtol=1e-6)
    assert smaller.manifest.content_hash != c.manifest.content_hash
    with pytest.raises(CollectionError, match=r"1 id\(s\) not in the collection: 'nope'"):
        c.delete(["nope"])
    assert c.delete(["nope"], missing="ignore") is c
    target = smaller.ids[0]
    vec = np.eye(8, dtype=np.float32)[:1]
    changed = smaller.update([target], texts=["changed"], embeddings=vec, metadata=[{"n": 99}])
    assert changed.search(vec, 1).ids[0, 0] == 0
    assert changed.texts[0] == "changed" and changed.metadata.loc[0, "n"] == 99
    meta_only = smaller.update([target], metadata=[{"tag": "x"}])
    assert meta_only.manifest.content_hash == smaller.manifest.content_hash
    assert meta_only.metadata["tag"].tolist()[:2] == ["x", None]
    meta_only.save(tmp_path / "c")
    back = Collection.load(tmp_path / "c")
    assert back.to_frame()["tag"].iloc[0] == "x" and back.ids == smaller.ids


def test_deleting_everything_leaves_an_empty_collection_that_saves(rng, tmp_path):
    c = make(rng, n=2)
    empty = c.delete(c.ids)
    assert len(empty) == 0
    assert empty.search(np.ones(8), 3).ids.shape == (1, 0)
    empty.save(tmp_path / "e")
    assert len(Collection.load(tmp_path / "e")) == 0


@pytest.mark.parametrize("mode", ["float32", "float16", "int8", "binary"])
@pytest.mark.parametrize("method", ["cosine", "dot", "euclidean"])
def test_filter_comes_before_top_k(rng, mode, method):
    c = make(rng, n=200)
    q = rng.standard_normal((3, 8)).astype(np.float32)
    rows = np.flatnonzero((c.metadata["n"] % 17 == 0).to_numpy())  # 12 rows, scattered
    ids, scores = c.search(q, 5, method, mode=mode, where={"n": {"$in": rows.tolist()}})
    assert ids.shape == (3, 5) and set(ids.ravel()) <= set(rows)
    if mode == "float32":
        ref_ids, ref_scores = search(c.embeddings[rows], q, 5, method)
        assert_array_equal(ids, rows[ref_ids])
        assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-6)
    few = c.search(q, 50, method, mode=mode, where='source = "a.csv" and n < 3')
    assert few.ids.shape == (3, 3)  # only three pass: all three come back


def test_mmr_search_is_core_mmr_over_the_top_fetch_k(rng):
    c = make(rng, n=60)
    q = rng.standard_normal(8).astype(np.float32)
    ids, scores = c.search(q, 4, mmr=0.3, fetch_k=15)
    pool, pool_scores = c.search(q, 15)
    picked, _ = mmr(q, c.embeddings[pool[0]], 4, 0.3)
    assert_array_equal(ids[0], pool[0][picked])
    assert_allclose(scores[0], pool_scores[0][picked])
    with pytest.raises(ValueError, match=r"fetch_k \(2\) must be at least k \(4\)"):
        c.search(q, 4, mmr=0.5, fetch_k=2)


def test_results_as_a_frame_with_texts_and_metadata(rng):
    c = make(rng)
    result = c.search(rng.standard_normal((2, 8)), 3, where={"source": "b.md"})
    frame = result.to_frame(queries=["first", "second"])
    assert list(frame.columns) == ["query", "rank", "score", "id", "row", "text", "source", "n"]
    assert frame["query"].tolist() == ["first"] * 3 + ["second"] * 3
    assert (frame["source"] == "b.md").all()
    assert frame["text"].tolist() == [c.texts[i] for i in result.ids.ravel()]
    assert frame["id"].tolist() == [c.ids[i] for i in result.ids.ravel()]


def test_repr_is_short_and_html_is_escaped(rng):
    texts = [f"<script>alert({i})</script> " + "word " * 400 for i in range(40)]
    c = Collection.create(texts, normalize(rng.standard_normal((40, 8))), SPEC)
    assert len(repr(c)) < 200 and "40 documents × 8-d" in repr(c)
    page = c._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(0)" in page
    assert "… and 35 more" in page and len(page) < 5_000


def test_from_dataframe_and_datasets(make_embedder, tmp_cache):
    datasets = pytest.importorskip("datasets")
    frame = pd.DataFrame(
        {"body": ["one", "two", "three"], "lang": ["en", "en", "fr"], "key": ["k1", "k2", "k3"]}
    )
    embedder = make_embedder()
    c = Collection.from_dataframe(frame, "body", embedder, id_column="key", cache=tmp_cache)
    assert c.ids == ["k1", "k2", "k3"] and list(c.metadata.columns) == ["lang"]
    assert c.spec == embedder.spec
    hf = datasets.Dataset.from_pandas(frame.assign(vec=[[1.0, 0.0]] * 2 + [[0.0, 1.0]]))
    d = Collection.from_dataframe(hf, "body", embedding_column="vec")
    assert_array_equal(d.embeddings[2], [0.0, 1.0])
    assert d.texts == ["one", "two", "three"]
    with pytest.raises(ValueError, match=r"text_column: no column 'nope'; the columns are: 'body'"):
        Collection.from_dataframe(frame, "nope", embedder)
    with pytest.raises(ValueError, match=r"1 row\(s\) have no text in column 'body' \(row 1\)"):
        Collection.from_dataframe(frame.assign(body=["a", None, "c"]), "body", embedder)
    with pytest.raises(ValueError, match="give either an embedder"):
        Collection.from_dataframe(frame, "body")


def test_projector_export_is_two_aligned_tsv_files(rng):
    import io
    import zipfile

    c = make(rng, n=4)
    c = c.update([c.ids[0]], texts=["tab\there\nnewline"], embeddings=np.ones((1, 8)))
    fmt = EXPORTS["projector"]
    with zipfile.ZipFile(io.BytesIO(fmt.write(c))) as archive:
        vectors = archive.read("vectors.tsv").decode().splitlines()
        meta = archive.read("metadata.tsv").decode().splitlines()
    assert len(vectors) == 4 and len(meta) == 5  # metadata has a header
    assert meta[0].split("\t") == ["id", "text", "source", "n"]
    assert meta[1].split("\t")[1] == "tab here newline"
    assert_allclose(np.array([v.split("\t") for v in vectors], float), c.embeddings, rtol=1e-6)
    assert not fmt.loadable and EXPORTS["parquet"].loadable


def test_indexes_and_norms_follow_an_edit_without_a_rebuild(rng):
    from core.search import build_index

    c = make(rng, n=120)
    q = rng.standard_normal((3, 8)).astype(np.float32)
    c.search(q, 5, mode="float16")
    c.search(q, 5)
    edited = c.delete(c.ids[:7]).add(["n1", "n2"], embeddings=normalize(np.ones((2, 8))))
    assert "float16" in edited._indexes and edited._norms is not None
    assert edited._indexes["float16"] is not c._indexes["float16"]
    ids, scores = edited.search(q, 5, mode="float16")
    ref_ids, ref_scores = build_index(edited.embeddings, "float16").search(q, 5)
    assert_array_equal(ids, ref_ids)
    assert_allclose(scores, ref_scores, rtol=1e-6)
    assert_allclose(edited._norms, np.linalg.norm(edited.embeddings, axis=1), rtol=1e-6)


def pairs_close(found, expected):
    assert found.n_passing == expected.n_passing
    assert [(i, j) for i, j, _ in found.pairs] == [(i, j) for i, j, _ in expected.pairs]
    assert_allclose([s for *_, s in found.pairs], [s for *_, s in expected.pairs], rtol=1e-5)
    assert found.best[:2] == expected.best[:2]


@pytest.mark.parametrize(("method", "threshold"), [("cosine", 0.2), ("euclidean", 1.0)])
@pytest.mark.parametrize("limit", [5, 10_000])  # truncated, and every passing pair listed
def test_near_duplicates_follow_appends_and_deletes(rng, method, threshold, limit):
    from core.search import strongest_pairs

    c = make(rng, n=60)
    c.strongest_pairs(threshold, method, limit=limit)
    grown = c.add([f"x{i}" for i in range(9)], embeddings=normalize(rng.standard_normal((9, 8))))
    grown = grown.add(["y"], embeddings=normalize(rng.standard_normal((1, 8))))
    assert isinstance(grown._pairs[(threshold, method, limit)], tuple)  # pending, not computed
    pairs_close(
        grown.strongest_pairs(threshold, method, limit=limit),
        strongest_pairs(grown.embeddings, threshold, method, limit=limit),
    )
    smaller = grown.delete(grown.ids[3:9])
    if limit > 1000:  # an untruncated list follows a delete without a pass
        assert (threshold, method, limit) in smaller._pairs
    pairs_close(
        smaller.strongest_pairs(threshold, method, limit=limit),
        strongest_pairs(smaller.embeddings, threshold, method, limit=limit),
    )
