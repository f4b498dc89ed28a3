"""Collections on disk: the version directories, atomic saves, locked and checked loads.

Layout on disk::

    my-collection/
        CURRENT                 one line: the name of the live version directory
        v-<time>-<id>/
            manifest.json       provider, model, dimension, dtype, normalized, count, hash, ...
            vectors.npy         float32 (count, dimension); loadable with memory mapping
            documents.parquet   columns "text" and "_workbench_id" (the document ids), then the
                                metadata columns

Saving writes a complete new version directory first and then replaces ``CURRENT`` with
``os.replace`` (atomic), so a crash at any point leaves the previous collection readable; the
superseded version is deleted only after the switch.

Concurrent saves and loads of one path (several processes or threads) are safe: a save holds an
exclusive ``flock`` on ``<path>/.lock`` while it publishes its version and deletes every other
one, a load holds a shared one while it reads, so no version is orphaned and no reader finds a
file missing (on systems without ``fcntl`` the lock is skipped).

:class:`core.data.Collection` calls :func:`save_collection` and :func:`load_collection`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import CollectionError, InvalidInputError
from core.search._hnsw import load_saved as load_saved_hnsw

FORMAT_VERSION = 1
TEXT_COLUMN = "text"
# The document ids in documents.parquet (and the one-file exports): a name no metadata uses.
ID_COLUMN = "_workbench_id"
_CURRENT = "CURRENT"
_LOCK = ".lock"
_MANIFEST, _VECTORS, _DOCUMENTS = "manifest.json", "vectors.npy", "documents.parquet"
# Verify the content hash on load when the vectors are at most this big (it reads every byte).
AUTO_VERIFY_BYTES = 512 * 2**20


def content_hash(texts: list[str], embeddings: np.ndarray) -> str:
    """sha256 over the texts and the vector bytes: changes when either changes."""
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    digest.update(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    return digest.hexdigest()


def save_collection(collection, path: str | os.PathLike) -> Path:
    """:meth:`Collection.save`: a new version directory, then ``CURRENT`` switched to it."""
    root = check_save_target(path)
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    version = f"v-{stamp}-{uuid.uuid4().hex[:8]}"
    staging = root / f".tmp-{version}"
    staging.mkdir()
    try:
        np.save(staging / _VECTORS, np.ascontiguousarray(collection.embeddings, dtype=np.float32))
        _write_documents(collection, staging / _DOCUMENTS)
        for index in collection._indexes.values():  # built search graphs (hnsw) are kept
            if hasattr(index, "save_files"):
                index.save_files(staging)
        (staging / _MANIFEST).write_text(
            json.dumps(asdict(collection.manifest), indent=2, ensure_ascii=False), encoding="utf-8"
        )
        _fsync_tree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with _locked(root, exclusive=True):  # publish and clean up as one step (see module)
        try:
            staging.rename(root / version)
            pointer = root / f".{_CURRENT}.{uuid.uuid4().hex[:8]}"
            pointer.write_text(version + "\n", encoding="utf-8")
            _fsync_file(pointer)
            os.replace(pointer, root / _CURRENT)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        for old in root.glob("v-*"):  # every superseded version, a concurrent save's too
            if old.name != version:
                shutil.rmtree(old, ignore_errors=True)
    return root


def load_collection(cls, path: str | os.PathLike, *, mmap: bool, verify: bool | None):
    """:meth:`Collection.load`: the version ``CURRENT`` names, checked, as a ``cls``."""
    root = Path(path)
    if (root / "shards.json").is_file():  # a sharded collection, read into one (small ones)
        from core.data._shards import ShardedCollection

        return ShardedCollection.open(root, verify=bool(verify)).to_collection()
    if not root.is_dir():
        raise CollectionError(
            f"no collection at {root}: not a directory. Create one with {_new_collection_control()}"
        )
    with _locked(root, exclusive=False):  # no save deletes this version while it is read
        version = _read_current(root)
        if version is None:
            raise CollectionError(f"{root} is not a collection: {_CURRENT} is missing")
        folder = root / version
        manifest = _read_manifest(folder / _MANIFEST)
        vectors = _read_vectors(folder / _VECTORS, mmap)
        documents = _read_documents(folder / _DOCUMENTS)
    texts = _texts(folder / _DOCUMENTS, documents.pop(TEXT_COLUMN))
    ids = documents.pop(ID_COLUMN).astype(str).tolist() if ID_COLUMN in documents else None
    _check_consistent(folder, manifest, vectors, texts)
    if verify is None:
        verify = vectors.nbytes <= AUTO_VERIFY_BYTES
    if verify and content_hash(texts, vectors) != manifest.content_hash:
        raise CollectionError(
            f"{folder}: content hash mismatch; the texts or vectors changed after saving. "
            "Re-create the collection from its source files."
        )
    try:
        collection = cls(texts, documents, vectors, manifest, ids)
    except InvalidInputError as exc:
        raise CollectionError(f"{folder / _DOCUMENTS}: bad document ids ({exc})") from None
    saved = load_saved_hnsw(folder, vectors)
    if saved:
        collection._indexes["hnsw"] = saved
    return collection


def _new_collection_control() -> str:
    from core.surface import control

    return control("new_collection")


def _write_documents(collection, path: Path) -> None:
    table = collection.documents()
    table.insert(1, ID_COLUMN, collection.ids)
    try:
        table.to_parquet(path, index=False)
    except (TypeError, ValueError) as exc:  # pyarrow: a column mixing kinds of values
        raise CollectionError(
            f"cannot save the metadata: a column mixes kinds of values ({exc}). Give each "
            "metadata key one type (all numbers or all texts)"
        ) from None


def check_save_target(path: str | os.PathLike) -> Path:
    """Check that a collection may be saved at ``path``, before any work is done for it.

    Allowed: a path that does not exist yet, an empty directory, or a saved collection (saving
    replaces it atomically). Refused, with :class:`CollectionError`: a file, or a directory
    holding other things, so that a collection never lands among a user's own files.
    """
    root = Path(path)
    if not root.exists():
        return root
    if not root.is_dir():
        raise CollectionError(
            f"cannot save a collection at {root}: it is a file. Choose a new directory name."
        )
    if (root / _CURRENT).exists() or not any(p.name != _LOCK for p in root.iterdir()):
        return root
    raise CollectionError(
        f"cannot save a collection at {root}: the directory holds other files and is not a "
        "collection. Choose a new or empty directory."
    )


@contextlib.contextmanager
def _locked(root: Path, *, exclusive: bool):
    """An ``flock`` on ``root/.lock``: exclusive for a save, shared for a load. A reader that
    cannot open the lock file (a read-only copy) reads without it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    path = root / _LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if exclusive:
            raise
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _texts(path: Path, column: pd.Series) -> list[str]:
    """The text column as strings; null texts are refused with their rows."""
    missing = [int(i) for i in column.index[column.isna()]]
    if missing:
        shown = ", ".join(str(i + 1) for i in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise CollectionError(
            f"{path}: {len(missing):,} row(s) have no text (null), e.g. row(s) {shown}; "
            "re-create the collection from its source files"
        )
    return [str(t) for t in column.tolist()]


def _read_current(root: Path) -> str | None:
    current = root / _CURRENT
    if not current.exists():
        return None
    version = current.read_text(encoding="utf-8").strip()
    if not version or "/" in version or version.startswith("."):
        raise CollectionError(f"{current} is corrupt (content {version!r})")
    return version


def _read_manifest(path: Path):
    from core.data._collection import Manifest  # that module imports this one

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CollectionError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CollectionError(f"{path} is not valid JSON ({exc})") from None
    try:
        return Manifest(**raw)
    except TypeError as exc:
        raise CollectionError(f"{path} has unexpected or missing fields ({exc})") from None


def _read_vectors(path: Path, mmap: bool) -> np.ndarray:
    try:
        vectors = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise CollectionError(f"{path} is missing") from None
    except (ValueError, OSError, EOFError) as exc:
        raise CollectionError(f"{path} is corrupt or truncated ({exc})") from None
    if vectors.ndim != 2 or vectors.dtype != np.float32:
        raise CollectionError(
            f"{path} holds {vectors.dtype} of shape {vectors.shape}; expected float32 (n, d)"
        )
    return vectors


def _read_documents(path: Path) -> pd.DataFrame:
    try:
        documents = pd.read_parquet(path)
    except FileNotFoundError:
        raise CollectionError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid, a ValueError
        raise CollectionError(f"{path} is corrupt or truncated ({exc})") from None
    if TEXT_COLUMN not in documents.columns:
        raise CollectionError(f"{path} has no {TEXT_COLUMN!r} column")
    return documents


def _check_consistent(folder: Path, manifest, vectors: np.ndarray, texts: list) -> None:
    if vectors.shape[0] != len(texts):
        raise CollectionError(
            f"{folder}: {vectors.shape[0]} vectors but {len(texts)} texts; the collection is "
            "inconsistent — re-create it"
        )
    if manifest.count != len(texts):
        raise CollectionError(f"{folder}: manifest says {manifest.count} items, found {len(texts)}")
    if vectors.shape[1] != manifest.dimension:
        raise CollectionError(
            f"{folder}: vectors have dimension {vectors.shape[1]} but the manifest says "
            f"{manifest.dimension}"
        )


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_tree(folder: Path) -> None:
    for child in folder.iterdir():
        _fsync_file(child)
