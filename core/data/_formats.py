"""A collection as one downloadable file, and back: Parquet with vectors, or a NumPy ``.npz``.

The on-disk directory format (:meth:`core.data.Collection.save`) is for servers and the CLI;
a browser download needs a single file. Two are offered:

``.parquet``
    One row per document: ``text``, the metadata columns, and ``embedding`` as a fixed-size
    list of float32 (readable by pandas, Polars, DuckDB, Spark). The manifest is stored as JSON
    in the schema metadata under ``embedding_workbench.manifest``.
``.npz``
    ``embeddings`` (float32 (n, d)) plus UTF-8 JSON byte arrays: ``texts``, ``metadata``
    (records), ``manifest`` and ``ids``. Loaded with ``allow_pickle=False``: an uploaded file can
    never run code.

Both keep the document ids (Parquet column ``_workbench_id``; files saved before ids existed
load with ids by position). :data:`EXPORTS` registers every download format, including the
TensorFlow Projector's two TSV files (:mod:`core.data._projector`): a new format is one entry.

Loading checks everything a hand-edited or truncated file can get wrong (missing parts, counts,
dimension, NaN, content hash) and raises :class:`~core.data._collection.CollectionError` naming the
file and what to do.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.data._collection import (
    ID_COLUMN,
    TEXT_COLUMN,
    Collection,
    CollectionError,
    Manifest,
    content_hash,
)
from core.search._engine import first_nonfinite_row

VECTOR_COLUMN = "embedding"
MANIFEST_KEY = b"embedding_workbench.manifest"
FORMATS = (".parquet", ".npz")
NPZ_PARTS = ("embeddings", "texts", "manifest")  # required; "metadata" is optional
# What to do about any file this module refuses.
_UPLOAD_OURS = "Upload a collection file downloaded from this app (Upload & embed page)."


def _metadata_for_export(collection: Collection) -> pd.DataFrame:
    meta = collection.metadata.reset_index(drop=True)
    if VECTOR_COLUMN in meta.columns:  # a CSV column called "embedding" must not collide
        meta = meta.rename(columns={VECTOR_COLUMN: f"{VECTOR_COLUMN}_"})
    return meta


def to_parquet_bytes(collection: Collection) -> bytes:
    """The collection as one Parquet file (see the module docstring)."""
    table = collection.documents()
    table = pd.concat([table[[TEXT_COLUMN]], _metadata_for_export(collection)], axis=1).reset_index(
        drop=True
    )
    table.insert(1, ID_COLUMN, collection.ids)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    vectors = np.ascontiguousarray(collection.embeddings, dtype=np.float32)
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    arrow = arrow.append_column(
        VECTOR_COLUMN, pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
    )
    manifest = json.dumps(asdict(collection.manifest), ensure_ascii=False).encode("utf-8")
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), MANIFEST_KEY: manifest})
    sink = io.BytesIO()
    pq.write_table(arrow, sink, compression="zstd")
    return sink.getvalue()


def _json_bytes(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def to_npz_bytes(collection: Collection) -> bytes:
    """The collection as one compressed ``.npz`` (see the module docstring)."""
    meta = _metadata_for_export(collection)
    sink = io.BytesIO()
    np.savez_compressed(
        sink,
        embeddings=np.ascontiguousarray(collection.embeddings, dtype=np.float32),
        texts=_json_bytes(list(collection.texts)),
        metadata=np.frombuffer(
            meta.to_json(orient="records", force_ascii=False).encode("utf-8"), dtype=np.uint8
        ),
        manifest=_json_bytes(asdict(collection.manifest)),
        ids=_json_bytes(list(collection.ids)),
    )
    return sink.getvalue()


def from_bytes(name: str, data: bytes) -> Collection:
    """Read a collection file made by :func:`to_parquet_bytes` or :func:`to_npz_bytes`.

    Parameters
    ----------
    name : str
        File name; its extension picks the format.
    data : bytes

    Raises
    ------
    CollectionError
        Unknown extension, unreadable file, missing parts or an inconsistent collection; the
        message names the file.
    """
    lower = name.lower()
    if not data:
        raise CollectionError(f"{name}: the file is empty; choose a collection file you downloaded")
    if lower.endswith(".parquet"):
        texts, metadata, vectors, manifest, ids = _read_parquet(name, data)
    elif lower.endswith(".npz"):
        texts, metadata, vectors, manifest, ids = _read_npz(name, data)
    else:
        raise CollectionError(
            f"{name}: not a collection file; expected one of {', '.join(FORMATS)} "
            "as downloaded from the Upload & embed page"
        )
    return _check(name, texts, metadata, vectors, manifest, ids)


def _manifest_from(name: str, raw: bytes | None) -> Manifest:
    if raw is None:
        raise CollectionError(
            f"{name}: no manifest (provider, model, dimension); it was not saved by this app. "
            "Embed the texts again instead."
        )
    try:
        return Manifest(**json.loads(bytes(raw).decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise CollectionError(f"{name}: the manifest is corrupt ({exc}). {_UPLOAD_OURS}") from None


def _read_parquet(name: str, data: bytes):
    try:
        arrow = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError):
        # Arrow's own text ("magic bytes not found in footer") does not say what to do.
        raise CollectionError(
            f"{name}: not a readable Parquet file: it is damaged or cut short (an interrupted "
            f"download?), or not Parquet at all. {_UPLOAD_OURS}"
        ) from None
    manifest = _manifest_from(name, (arrow.schema.metadata or {}).get(MANIFEST_KEY))
    for column in (TEXT_COLUMN, VECTOR_COLUMN):
        if column not in arrow.column_names:
            raise CollectionError(
                f"{name}: no {column!r} column; columns: {arrow.column_names}. "
                f"The file was changed after it was saved. {_UPLOAD_OURS}"
            )
    column = arrow.column(VECTOR_COLUMN).combine_chunks()
    if column.null_count:
        raise CollectionError(
            f"{name}: {column.null_count} row(s) have no embedding. {_UPLOAD_OURS}"
        )
    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
    elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        widths = set(pc.list_value_length(column).to_pylist())
        if len(widths) > 1:
            raise CollectionError(
                f"{name}: embeddings have different lengths {sorted(widths)}. {_UPLOAD_OURS}"
            )
        width = widths.pop() if widths else manifest.dimension
    else:
        raise CollectionError(
            f"{name}: column {VECTOR_COLUMN!r} is {column.type}, not a list of numbers. "
            f"{_UPLOAD_OURS}"
        )
    flat = column.flatten().to_numpy(zero_copy_only=False)
    vectors = np.asarray(flat, dtype=np.float32).reshape(len(column), width)
    table = arrow.drop_columns([VECTOR_COLUMN]).to_pandas()
    texts = table.pop(TEXT_COLUMN).astype(str).tolist()
    ids = table.pop(ID_COLUMN).astype(str).tolist() if ID_COLUMN in table else None
    return texts, table, vectors, manifest, ids


def _read_npz(name: str, data: bytes):
    # A .npz is a zip archive of .npy arrays. Checked first: for anything else np.load would
    # return a bare array, or (allow_pickle=False) suggest loading the file unsafely.
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CollectionError(
            f"{name}: not a readable .npz file: it is not a zip archive of NumPy arrays (damaged, "
            f"cut short, or another kind of file). {_UPLOAD_OURS}"
        )
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise CollectionError(
            f"{name}: not a readable .npz file: the zip archive is damaged. {_UPLOAD_OURS}"
        ) from None
    with archive:
        missing = [p for p in NPZ_PARTS if p not in archive.files]
        if missing:
            raise CollectionError(
                f"{name}: missing part(s) {missing}; found {archive.files}. It was not saved by "
                f"this app, or was changed since. {_UPLOAD_OURS}"
            )
        parts = {}
        for part in (*NPZ_PARTS, "metadata", "ids"):
            if part in archive.files:
                parts[part] = _npz_part(name, archive, part)
    try:
        vectors = parts["embeddings"]
        texts = json.loads(parts["texts"].tobytes().decode("utf-8"))
        records = (
            json.loads(parts["metadata"].tobytes().decode("utf-8")) if "metadata" in parts else []
        )
        raw_manifest = parts["manifest"].tobytes()
        ids = json.loads(parts["ids"].tobytes().decode("utf-8")) if "ids" in parts else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CollectionError(f"{name}: a part is corrupt ({exc}). {_UPLOAD_OURS}") from None
    manifest = _manifest_from(name, raw_manifest)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise CollectionError(f"{name}: 'texts' must be a JSON list of strings. {_UPLOAD_OURS}")
    metadata = (
        pd.DataFrame.from_records(records) if records else pd.DataFrame(index=range(len(texts)))
    )
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise CollectionError(f"{name}: 'ids' must be a JSON list of strings. {_UPLOAD_OURS}")
    return texts, metadata, vectors, manifest, ids


def _npz_part(name: str, archive, part: str) -> np.ndarray:
    """One array of an open .npz, or a CollectionError saying why it cannot be used."""
    try:
        value = archive[part]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise CollectionError(f"{name}: part {part!r} is corrupt. {_UPLOAD_OURS}") from None
        raise CollectionError(
            f"{name}: part {part!r} holds Python objects (pickle), which are not allowed: "
            f"loading them could run code. {_UPLOAD_OURS}"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        raise CollectionError(
            f"{name}: part {part!r} is damaged in the zip archive. {_UPLOAD_OURS}"
        ) from None
    if not isinstance(value, np.ndarray):  # a zip member that is not a .npy array
        raise CollectionError(f"{name}: part {part!r} is not a NumPy array. {_UPLOAD_OURS}")
    return value


def _check(name, texts, metadata, vectors, manifest: Manifest, ids=None) -> Collection:
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise CollectionError(
            f"{name}: embeddings are {vectors.dtype} of shape {vectors.shape}; "
            f"expected floats of shape (n, d). {_UPLOAD_OURS}"
        )
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.shape[0] != len(texts) or len(metadata) != len(texts):
        raise CollectionError(
            f"{name}: {len(texts)} texts, {vectors.shape[0]} embeddings and {len(metadata)} "
            "metadata rows; they must match — download the collection again"
        )
    if manifest.count != len(texts) or manifest.dimension != vectors.shape[1]:
        raise CollectionError(
            f"{name}: the manifest says {manifest.count} × {manifest.dimension} but the file "
            f"holds {len(texts)} × {vectors.shape[1]}; it was changed after it was saved. "
            f"{_UPLOAD_OURS}"
        )
    bad = first_nonfinite_row(vectors)
    if bad is not None:
        raise CollectionError(
            f"{name}: embedding row {bad} contains NaN or infinity. {_UPLOAD_OURS}"
        )
    if content_hash(texts, vectors) != manifest.content_hash:
        raise CollectionError(
            f"{name}: content hash mismatch — the texts or vectors were changed after export. "
            "Download the collection again, or re-embed the source files."
        )
    try:
        return Collection(texts, metadata.reset_index(drop=True), vectors, manifest, ids)
    except ValueError as exc:  # ids: wrong count, duplicates
        raise CollectionError(f"{name}: bad document ids ({exc}). {_UPLOAD_OURS}") from None


@dataclass(frozen=True)
class ExportFormat:
    """One download format: what the button says, the file it makes, and how."""

    name: str
    label: str
    filename: str
    mime: str
    write: Callable[[Collection], bytes]
    loadable: bool  # whether :func:`from_bytes` reads it back


def _projector_zip(collection: Collection) -> bytes:
    from core.data._projector import to_projector_zip

    return to_projector_zip(collection)


EXPORTS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat(
            "parquet", "Parquet", "collection.parquet", "application/vnd.apache.parquet",
            to_parquet_bytes, loadable=True,
        ),
        ExportFormat(
            "npz", "NumPy .npz", "collection.npz", "application/octet-stream", to_npz_bytes,
            loadable=True,
        ),
        ExportFormat(
            "projector", "TensorFlow Projector (vectors.tsv + metadata.tsv)",
            "projector.zip", "application/zip", _projector_zip, loadable=False,
        ),
    )
}  # fmt: skip
