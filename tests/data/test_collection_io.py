"""Single-file collection downloads (Parquet, .npz): exact round trips and located errors."""

from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.data._collection import Collection, CollectionError
from core.data._formats import MANIFEST_KEY, from_bytes, to_npz_bytes, to_parquet_bytes
from core.embedding._types import EmbedderSpec

WRITERS = {"c.parquet": to_parquet_bytes, "c.npz": to_npz_bytes}


@pytest.fixture
def collection(rng):
    texts = ["first text", "第二段中文", 'third, with "quotes" and a\nnewline', ""]
    vectors = rng.standard_normal((4, 6)).astype(np.float32)
    vectors[3] = 0.0  # an empty text embeds to a zero row
    metadata = pd.DataFrame(
        {
            "source": ["a.txt", "a.txt", "b.csv", "b.csv"],
            "row": [1, 2, 1, 2],
            "embedding": list("wxyz"),
        }
    )
    return Collection.create(
        texts, vectors, EmbedderSpec("openai", "text-embedding-3-small", 6), metadata
    )


@pytest.mark.parametrize("name", WRITERS)
def test_round_trip_is_exact(collection, name):
    loaded = from_bytes(name, WRITERS[name](collection))
    assert loaded.texts == collection.texts
    np.testing.assert_array_equal(loaded.embeddings, collection.embeddings)
    assert loaded.embeddings.dtype == np.float32 and loaded.embeddings.flags.c_contiguous
    assert loaded.manifest == collection.manifest
    assert loaded.spec == EmbedderSpec("openai", "text-embedding-3-small", 6)
    # A metadata column named like the vector column is kept under another name.
    assert list(loaded.metadata.columns) == ["source", "row", "embedding_"]
    assert loaded.metadata["row"].tolist() == [1, 2, 1, 2]
    ids, _ = loaded.search(collection.embeddings[1], 1)
    assert ids[0, 0] == 1


def test_parquet_is_readable_by_plain_pandas(collection):
    table = pd.read_parquet(io.BytesIO(to_parquet_bytes(collection)))
    assert list(table.columns) == [
        "text",
        "_workbench_id",
        "source",
        "row",
        "embedding_",
        "embedding",
    ]
    np.testing.assert_allclose(np.stack(table["embedding"].to_numpy()), collection.embeddings)


def _tamper_npz(data: bytes, **replace) -> bytes:
    with np.load(io.BytesIO(data)) as archive:
        parts = {name: archive[name] for name in archive.files}
    parts.update(replace)
    sink = io.BytesIO()
    np.savez(sink, **parts)
    return sink.getvalue()


def _json(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)


def test_tampered_npz_files_are_refused_with_the_reason(collection):
    good = to_npz_bytes(collection)
    texts = list(collection.texts)
    bad_vectors = collection.embeddings.copy()
    bad_vectors[2, 0] = np.nan
    cases = {
        "changed text": (
            _tamper_npz(good, texts=_json(["x", *texts[1:]])),
            "content hash mismatch",
        ),
        "a text missing": (_tamper_npz(good, texts=_json(texts[:3])), "3 texts, 4 embeddings"),
        "NaN": (_tamper_npz(good, embeddings=bad_vectors), "embedding row 2 contains NaN"),
        "no manifest": (
            _tamper_npz(good, manifest=np.zeros(0, np.uint8)),
            "the manifest is corrupt",
        ),
        "texts not strings": (_tamper_npz(good, texts=_json([1, 2, 3, 4])), "JSON list of strings"),
        "pickled object": (
            _tamper_npz(good, texts=np.array([{"a": 1}], dtype=object)),
            "not allowed",
        ),
    }
    for data, message in cases.values():
        with pytest.raises(CollectionError, match=rf"^mine\.npz: .*{message}"):
            from_bytes("mine.npz", data)


def test_parquet_without_manifest_or_vectors_is_refused(collection):
    table = pq.read_table(io.BytesIO(to_parquet_bytes(collection)))
    plain = io.BytesIO()
    pq.write_table(table.replace_schema_metadata({}), plain)
    with pytest.raises(CollectionError, match=r"^x\.parquet: no manifest .* not saved by this app"):
        from_bytes("x.parquet", plain.getvalue())
    no_vectors = io.BytesIO()
    meta = table.schema.metadata
    pq.write_table(table.drop_columns(["embedding"]).replace_schema_metadata(meta), no_vectors)
    with pytest.raises(CollectionError, match=r"x\.parquet: no 'embedding' column"):
        from_bytes("x.parquet", no_vectors.getvalue())
    assert MANIFEST_KEY in meta


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("c.parquet", b"", r"c\.parquet: the file is empty"),
        ("c.parquet", b"PAR1 definitely not parquet", r"c\.parquet: not a readable Parquet file"),
        ("c.npz", b"PK\x03\x04 no zip", r"c\.npz: not a readable \.npz file"),
        ("c.csv", b"text\nx\n", r"c\.csv: not a collection file; expected one of \.parquet, \.npz"),
    ],
)
def test_unreadable_files_are_refused(name, data, message):
    with pytest.raises(CollectionError, match=message):
        from_bytes(name, data)


NOT_A_ZIP = r"not a readable \.npz file: it is not a zip archive of NumPy arrays"
UPLOAD_OURS = r"Upload a collection file downloaded from this app \(Upload & embed page\)\.$"


def _npz(**parts) -> bytes:
    sink = io.BytesIO()
    np.savez(sink, **parts)
    return sink.getvalue()


def _zip(**members: bytes) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return sink.getvalue()


def _npy(array) -> bytes:
    sink = io.BytesIO()
    np.save(sink, array)
    return sink.getvalue()


def test_bad_files_say_what_is_wrong_and_what_to_do(collection, rng):
    """Every refusal names the file, says what is wrong in our words (never NumPy's invitation
    to load pickles) and ends with what to do."""
    npz, parquet = to_npz_bytes(collection), to_parquet_bytes(collection)
    table = pq.read_table(io.BytesIO(parquet))
    no_vectors = io.BytesIO()
    pq.write_table(table.drop_columns(["embedding"]), no_vectors)
    flat = _tamper_npz(npz, embeddings=collection.embeddings.reshape(-1))
    cases = {
        "random bytes": (
            "r.npz",
            rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
            NOT_A_ZIP,
        ),
        "a .npy, not a .npz": ("v.npz", _npy(np.zeros(3)), NOT_A_ZIP),
        "truncated npz": ("t.npz", npz[: len(npz) // 2], NOT_A_ZIP),
        "other arrays": ("o.npz", _npz(foo=np.zeros(3)), r"missing part\(s\) \['embeddings', "),
        "zip of other files": (
            "z.npz",
            _zip(**{"embeddings.npy": b"x", "texts.npy": b"y", "manifest.npy": b"z"}),
            r"part 'embeddings' is not a NumPy array\.",
        ),
        "bad array header": (
            "h.npz",
            _zip(**{"embeddings.npy": np.lib.format.MAGIC_PREFIX + b"\x01\x00\x04\x00{x}\n"}),
            r"missing part\(s\) \['texts', 'manifest'\]",
        ),
        "corrupt array": (
            "c.npz",
            _zip(
                **{
                    f"{part}.npy": np.lib.format.MAGIC_PREFIX + b"\x01\x00\x04\x00{x}\n"
                    for part in ("embeddings", "texts", "manifest")
                }
            ),
            r"part 'embeddings' is corrupt\.",
        ),
        "pickled part": (
            "p.npz",
            _tamper_npz(npz, texts=np.array([{"a": 1}], dtype=object)),
            r"part 'texts' holds Python objects \(pickle\), which are not allowed",
        ),
        "flat vectors": ("f.npz", flat, r"embeddings are float32 of shape \(24,\)"),
        "truncated parquet": (
            "t.parquet",
            parquet[: len(parquet) // 2],
            r"not a readable Parquet file: it is damaged or cut short",
        ),
        "parquet without vectors": (
            "n.parquet",
            no_vectors.getvalue(),
            r"no 'embedding' column; columns: "
            r"\['text', '_workbench_id', 'source', 'row', 'embedding_'\]\. "
            r"The file was changed after it was saved\.",
        ),
    }
    for label, (name, data, message) in cases.items():
        with pytest.raises(CollectionError) as caught:
            from_bytes(name, data)
        text = str(caught.value)
        assert re.match(rf"^{re.escape(name)}: {message}.* {UPLOAD_OURS}", text), (label, text)
        assert "allow_pickle" not in text and "pickle.load" not in text, label
