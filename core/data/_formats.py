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

Decompression bombs: a 10 KB Parquet file or a 1 MB ``.npz`` can inflate to gigabytes. Nothing is
inflated before the sizes are known: the Parquet footer (rows, column types, uncompressed sizes)
and each ``.npy`` header (dtype, shape) are read first and must agree with the manifest, and
what they would take in memory must fit ``max_bytes`` (the caller's budget, e.g. one dashboard
session's share). Any other failure inside a hostile file becomes a ``CollectionError`` too.
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
# Most memory one loaded collection may take unless the caller says otherwise.
DEFAULT_MAX_LOAD_BYTES = 512 * 2**20
_MAX_MANIFEST_BYTES = 1 << 20
_MAX_COLUMNS = 1000
_MANIFEST_TYPES = {
    "provider": str, "model": str, "dimension": int, "dtype": str, "normalized": bool,
    "count": int, "content_hash": str, "created": str, "dimensions_requested": (int, type(None)),
    "format_version": int, "extra": dict,
}  # fmt: skip
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


def from_bytes(name: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_LOAD_BYTES) -> Collection:
    """Read a collection file made by :func:`to_parquet_bytes` or :func:`to_npz_bytes`.

    Parameters
    ----------
    name : str
        File name; its extension picks the format.
    data : bytes
    max_bytes : int
        Most memory the loaded collection may take (vectors, texts, metadata); checked from the
        file's metadata before anything is decompressed.

    Raises
    ------
    CollectionError
        Unknown extension, unreadable file, missing parts or an inconsistent collection; the
        message names the file.
    """
    lower = name.lower()
    if not data:
        raise CollectionError(f"{name}: the file is empty; choose a collection file you downloaded")
    if not lower.endswith(FORMATS):
        raise CollectionError(
            f"{name}: not a collection file; expected one of {', '.join(FORMATS)} "
            "as downloaded from the Upload & embed page"
        )
    reader = _read_parquet if lower.endswith(".parquet") else _read_npz
    try:
        texts, metadata, vectors, manifest, ids = reader(name, data, max_bytes)
        return _check(name, texts, metadata, vectors, manifest, ids)
    except CollectionError:
        raise
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # a hostile file may fail deep inside pyarrow, numpy or pandas
        raise CollectionError(
            f"{name}: the file is damaged or was changed after it was saved "
            f"({type(exc).__name__}: {exc}). {_UPLOAD_OURS}"
        ) from exc


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _check_budget(name: str, manifest: Manifest, rows: int, max_bytes: int) -> None:
    """Before inflating: the rows the file holds match its manifest, and its vectors fit."""
    if rows != manifest.count:
        raise CollectionError(
            f"{name}: the file holds {rows:,} rows but its manifest says {manifest.count:,}; it "
            f"was changed after it was saved. {_UPLOAD_OURS}"
        )
    if manifest.count < 0 or manifest.dimension < 1:
        raise CollectionError(
            f"{name}: the manifest says {manifest.count} × {manifest.dimension}, which is not a "
            f"collection. {_UPLOAD_OURS}"
        )
    _check_size(name, 4 * manifest.count * manifest.dimension, max_bytes)


def _check_size(name: str, n_bytes: int, max_bytes: int) -> None:
    if n_bytes > max_bytes:
        raise CollectionError(
            f"{name}: loading it would take {_mib(n_bytes)} of memory, over the {_mib(max_bytes)} "
            "allowed for one collection here. Load a smaller collection (embed fewer documents, "
            "or a shorter dimension)."
        )


def _manifest_from(name: str, raw: bytes | None) -> Manifest:
    if raw is None:
        raise CollectionError(
            f"{name}: no manifest (provider, model, dimension); it was not saved by this app. "
            "Embed the texts again instead."
        )
    try:
        fields = json.loads(bytes(raw).decode("utf-8"))
        if not isinstance(fields, dict):
            raise TypeError(f"a JSON {type(fields).__name__}, not an object")
        for key, value in fields.items():
            wanted = _MANIFEST_TYPES.get(key)
            bad_bool = isinstance(value, bool) and wanted is int
            if wanted is not None and (bad_bool or not isinstance(value, wanted)):
                raise TypeError(f"{key!r} is {value!r}")
        return Manifest(**fields)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise CollectionError(f"{name}: the manifest is corrupt ({exc}). {_UPLOAD_OURS}") from None


def _read_parquet(name: str, data: bytes, max_bytes: int):
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, ValueError):
        # Arrow's own text ("magic bytes not found in footer") does not say what to do.
        raise CollectionError(
            f"{name}: not a readable Parquet file: it is damaged or cut short (an interrupted "
            f"download?), or not Parquet at all. {_UPLOAD_OURS}"
        ) from None
    manifest = _manifest_from(name, (schema.metadata or {}).get(MANIFEST_KEY))
    for column in (TEXT_COLUMN, VECTOR_COLUMN):
        if column not in schema.names:
            raise CollectionError(
                f"{name}: no {column!r} column; columns: {schema.names}. "
                f"The file was changed after it was saved. {_UPLOAD_OURS}"
            )
    # Only the footer has been read so far: check every size before decompressing anything.
    footer = parquet.metadata
    if footer.num_columns > _MAX_COLUMNS:
        raise CollectionError(
            f"{name}: {footer.num_columns:,} columns; a collection has its text, vectors and a "
            f"few metadata columns. {_UPLOAD_OURS}"
        )
    _check_budget(name, manifest, footer.num_rows, max_bytes)
    vector_type = schema.field(VECTOR_COLUMN).type
    if pa.types.is_fixed_size_list(vector_type) and vector_type.list_size != manifest.dimension:
        raise CollectionError(
            f"{name}: vectors of {vector_type.list_size} dimensions but the manifest says "
            f"{manifest.dimension}; it was changed after it was saved. {_UPLOAD_OURS}"
        )
    inflated = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
    _check_size(name, inflated, max_bytes)
    try:
        arrow = parquet.read()
    except (pa.ArrowException, OSError, ValueError):
        raise CollectionError(
            f"{name}: not a readable Parquet file: it is damaged or cut short (an interrupted "
            f"download?), or not Parquet at all. {_UPLOAD_OURS}"
        ) from None
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
    texts = _texts_of(name, table.pop(TEXT_COLUMN))
    ids = table.pop(ID_COLUMN).astype(str).tolist() if ID_COLUMN in table else None
    return texts, table, vectors, manifest, ids


def _texts_of(name: str, column: pd.Series) -> list[str]:
    """The text column as strings; a missing (null) text is refused with its rows."""
    missing = [int(i) for i in column.index[column.isna()]]
    if missing:
        shown = ", ".join(str(i + 1) for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise CollectionError(
            f"{name}: {len(missing):,} row(s) have no text (null), e.g. row(s) {shown}; every "
            f"document needs its text. {_UPLOAD_OURS}"
        )
    return [str(t) for t in column.tolist()]


def _read_npz(name: str, data: bytes, max_bytes: int):
    # A .npz is a zip archive of .npy arrays. Checked first: for anything else np.load would
    # return a bare array, or (allow_pickle=False) suggest loading the file unsafely.
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise CollectionError(
            f"{name}: not a readable .npz file: it is not a zip archive of NumPy arrays (damaged, "
            f"cut short, or another kind of file). {_UPLOAD_OURS}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {
            info.filename.removesuffix(".npy"): info
            for info in archive.infolist()
            if info.filename.endswith(".npy")
        }
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise CollectionError(
            f"{name}: not a readable .npz file: the zip archive is damaged. {_UPLOAD_OURS}"
        ) from None
    with archive:
        missing = [p for p in NPZ_PARTS if p not in members]
        if missing:
            found = sorted(i.filename.removesuffix(".npy") for i in archive.infolist())
            raise CollectionError(
                f"{name}: missing part(s) {missing}; found {found}. It was not saved by "
                f"this app, or was changed since. {_UPLOAD_OURS}"
            )
        parts_present = [p for p in (*NPZ_PARTS, "metadata", "ids") if p in members]
        # Only the .npy headers (dtype, shape) are read here, nothing is inflated.
        headers = {part: _npy_header(name, archive, members[part], part) for part in parts_present}
        shape, dtype = headers["embeddings"]
        if len(shape) != 2 or not np.issubdtype(dtype, np.floating):
            raise CollectionError(
                f"{name}: embeddings are {dtype} of shape {shape}; "
                f"expected floats of shape (n, d). {_UPLOAD_OURS}"
            )
        for part in ("texts", "manifest", "metadata", "ids"):
            if part in headers and (headers[part][1] != np.uint8 or len(headers[part][0]) != 1):
                raise CollectionError(
                    f"{name}: part {part!r} is {headers[part][1]} of shape {headers[part][0]}, "
                    f"not UTF-8 JSON bytes. {_UPLOAD_OURS}"
                )
        if headers["manifest"][0][0] > _MAX_MANIFEST_BYTES:
            raise CollectionError(f"{name}: the manifest is too large to be one. {_UPLOAD_OURS}")
        raw_manifest = _npz_part(name, archive, members["manifest"], "manifest").tobytes()
        manifest = _manifest_from(name, raw_manifest)
        _check_budget(name, manifest, shape[0], max_bytes)
        if shape[1] != manifest.dimension:
            raise CollectionError(
                f"{name}: the manifest says {manifest.count} × {manifest.dimension} but the "
                f"file holds {shape[0]} × {shape[1]}; it was changed after it was saved. "
                f"{_UPLOAD_OURS}"
            )
        total = sum(int(np.prod(s)) * np.dtype(d).itemsize for s, d in headers.values())
        _check_size(name, total, max_bytes)
        parts = {p: _npz_part(name, archive, members[p], p) for p in parts_present}
    try:
        vectors = parts["embeddings"]
        texts = json.loads(parts["texts"].tobytes().decode("utf-8"))
        records = (
            json.loads(parts["metadata"].tobytes().decode("utf-8")) if "metadata" in parts else []
        )
        ids = json.loads(parts["ids"].tobytes().decode("utf-8")) if "ids" in parts else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CollectionError(f"{name}: a part is corrupt ({exc}). {_UPLOAD_OURS}") from None
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise CollectionError(f"{name}: 'texts' must be a JSON list of strings. {_UPLOAD_OURS}")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise CollectionError(
            f"{name}: 'metadata' must be a JSON list of objects, one per text. {_UPLOAD_OURS}"
        )
    metadata = (
        pd.DataFrame.from_records(records) if records else pd.DataFrame(index=range(len(texts)))
    )
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise CollectionError(f"{name}: 'ids' must be a JSON list of strings. {_UPLOAD_OURS}")
    return texts, metadata, vectors, manifest, ids


def _npy_header(name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, part: str):
    """``(shape, dtype)`` from one member's .npy header, without reading its data."""
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        if "magic" in str(exc).lower():  # a zip member that is not a .npy array
            raise CollectionError(
                f"{name}: part {part!r} is not a NumPy array. {_UPLOAD_OURS}"
            ) from None
        raise CollectionError(f"{name}: part {part!r} is corrupt. {_UPLOAD_OURS}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        raise CollectionError(
            f"{name}: part {part!r} is damaged in the zip archive. {_UPLOAD_OURS}"
        ) from None
    if dtype.hasobject:
        raise CollectionError(
            f"{name}: part {part!r} holds Python objects (pickle), which are not allowed: "
            f"loading them could run code. {_UPLOAD_OURS}"
        )
    needed = int(np.prod(shape)) * dtype.itemsize
    if info.file_size < needed:  # the zip says less data than the header claims: tampered
        raise CollectionError(
            f"{name}: part {part!r} claims {shape} but holds fewer bytes; it was cut short or "
            f"changed. {_UPLOAD_OURS}"
        )
    return tuple(shape), dtype


def _npz_part(name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, part: str) -> np.ndarray:
    """One array of the archive (its header already checked), or a CollectionError saying why
    it cannot be used."""
    try:
        with archive.open(info) as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except ValueError:
        raise CollectionError(f"{name}: part {part!r} is corrupt. {_UPLOAD_OURS}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        raise CollectionError(
            f"{name}: part {part!r} is damaged in the zip archive. {_UPLOAD_OURS}"
        ) from None


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
