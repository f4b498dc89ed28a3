"""Collections: texts + per-text metadata + embeddings + a manifest, saved as a directory.

Layout on disk::

    my-collection/
        CURRENT                 one line: the name of the live version directory
        v-<time>-<id>/
            manifest.json       provider, model, dimension, dtype, normalized, count, hash, ...
            vectors.npy         float32 (count, dimension); loadable with memory mapping
            documents.parquet   column "text" plus the metadata columns

Saving writes a complete new version directory first and then replaces ``CURRENT`` with
``os.replace`` (atomic), so a crash at any point leaves the previous collection readable; the
superseded version is deleted only after the switch.

Concurrent saves and loads of one path (several processes or threads) are safe: a save holds an
exclusive ``flock`` on ``<path>/.lock`` while it publishes its version and deletes every other
one, a load holds a shared one while it reads, so no version is orphaned and no reader finds a
file missing (on systems without ``fcntl`` the lock is skipped).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.embedding._types import EmbedderSpec
from core.errors import CollectionError, InvalidInputError
from core.search._engine import Metric, as_matrix, row_norms, search
from core.search._hnsw import load_saved as load_saved_hnsw
from core.search._metrics import get_metric
from core.search._modes import QuantIndex, build_index
from core.search._pairs import PairSummary, strongest_pairs

FORMAT_VERSION = 1
TEXT_COLUMN = "text"
_CURRENT = "CURRENT"
_LOCK = ".lock"
_MANIFEST, _VECTORS, _DOCUMENTS = "manifest.json", "vectors.npy", "documents.parquet"
# Verify the content hash on load when the vectors are at most this big (it reads every byte).
AUTO_VERIFY_BYTES = 512 * 2**20


@dataclass(frozen=True)
class Manifest:
    """What a collection holds and how it was made."""

    provider: str
    model: str
    dimension: int
    dtype: str
    normalized: bool
    count: int
    content_hash: str
    created: str
    dimensions_requested: int | None = None
    format_version: int = FORMAT_VERSION
    extra: dict = field(default_factory=dict)
    # Put before each query / document when embedding (asymmetric models); "" for none.
    query_prefix: str = ""
    document_prefix: str = ""

    @property
    def spec(self) -> EmbedderSpec:
        return EmbedderSpec(
            self.provider,
            self.model,
            self.dimensions_requested,
            self.query_prefix,
            self.document_prefix,
        )


def _new_collection_control() -> str:
    from core.surface import control

    return control("new_collection")


def content_hash(texts: list[str], embeddings: np.ndarray) -> str:
    """sha256 over the texts and the vector bytes: changes when either changes."""
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    digest.update(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    return digest.hexdigest()


@dataclass
class Collection:
    """Texts, their metadata and their embeddings, kept together.

    Parameters
    ----------
    texts : list of str
        One per row of ``embeddings``.
    metadata : pandas.DataFrame
        One row per text (source file, line/row, chunk, ...); may have no columns.
    embeddings : ndarray of shape (count, dimension), float32
    manifest : Manifest
    """

    texts: list[str]
    metadata: pd.DataFrame
    embeddings: np.ndarray
    manifest: Manifest
    _norms: np.ndarray | None = field(default=None, repr=False, compare=False)
    _indexes: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        texts: list[str],
        embeddings,
        spec: EmbedderSpec,
        metadata: pd.DataFrame | None = None,
        *,
        normalized: bool | None = None,
        extra: dict | None = None,
    ) -> Collection:
        """Build a collection in memory, checking that the parts agree.

        ``normalized=None`` detects it (every row has norm 1 or 0).
        """
        texts = [str(t) for t in texts]
        vectors = as_matrix(embeddings, "embeddings")
        if len(texts) != vectors.shape[0]:
            raise InvalidInputError(
                f"{len(texts)} texts but {vectors.shape[0]} embeddings; they must match one to one"
            )
        if metadata is None:
            metadata = pd.DataFrame(index=range(len(texts)))
        metadata = metadata.reset_index(drop=True)
        if len(metadata) != len(texts):
            raise InvalidInputError(f"{len(metadata)} metadata rows for {len(texts)} texts")
        if TEXT_COLUMN in metadata.columns:
            raise InvalidInputError(f"metadata may not have a {TEXT_COLUMN!r} column; rename it")
        if normalized is None:
            norms = row_norms(vectors)
            normalized = bool(np.all((np.abs(norms - 1) < 1e-3) | (norms == 0)))
        manifest = Manifest(
            provider=spec.provider,
            model=spec.model,
            dimension=int(vectors.shape[1]),
            dtype="float32",
            normalized=bool(normalized),
            count=len(texts),
            content_hash=content_hash(texts, vectors),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            dimensions_requested=spec.dimensions,
            extra=dict(extra or {}),
            query_prefix=spec.query_prefix,
            document_prefix=spec.document_prefix,
        )
        return cls(texts, metadata, vectors, manifest)

    def __len__(self) -> int:
        return self.manifest.count

    @property
    def spec(self) -> EmbedderSpec:
        return self.manifest.spec

    def documents(self) -> pd.DataFrame:
        """Texts and metadata as one table (column ``text`` first)."""
        table = self.metadata.copy()
        table.insert(0, TEXT_COLUMN, self.texts)
        return table

    def search(
        self,
        query_vectors,
        k: int = 10,
        method: str | Metric = "cosine",
        *,
        mode: str = "float32",
        client=None,
        **options,
    ):
        """Top-k search of query vectors against this collection; see :func:`core.search.search`.

        The corpus was checked when the collection was made or loaded, and its norms are kept,
        so each search reads the vectors only once. ``mode`` other than ``"float32"`` (exact)
        searches a ``core.search`` index ("float16", "int8", "binary"), built on first use.
        ``client`` (a ``distributed.Client``) searches on that Dask cluster instead; same results.
        """
        if client is not None:  # the Dask backend; see core.distributed
            from core.search import search as search_on

            return search_on(
                self, query_vectors, k, method, mode=mode, backend="dask", client=client, **options
            )
        if mode != "float32":
            return self.index(mode).search(query_vectors, k, method, **options)
        if self._norms is None:
            self._norms = row_norms(self.embeddings)
        options.setdefault("corpus_norms", self._norms)
        queries = as_matrix(query_vectors, "queries")
        return search(self.embeddings, queries, k, method, check_finite=False, **options)

    def strongest_pairs(
        self, threshold: float, method: str | Metric = "cosine", *, limit: int = 500, **options
    ) -> PairSummary:
        """The most alike pairs of documents passing ``threshold``, their count and the closest
        pair overall; see :func:`core.search._pairs.strongest_pairs`.

        The vectors were checked when the collection was made or loaded, so they are not checked
        again; cosine reuses the kept row norms.
        """
        norms = None
        if get_metric(method).scorer.uses_norms == "norms":
            if self._norms is None:
                self._norms = row_norms(self.embeddings)
            norms = self._norms
        return strongest_pairs(
            self.embeddings,
            threshold,
            method,
            limit=limit,
            check_finite=False,
            norms=norms,
            **options,
        )

    def index(self, mode: str) -> QuantIndex:
        """This collection's ``core.search`` index in ``mode`` (built once, then kept)."""
        if mode not in self._indexes:
            self._indexes[mode] = build_index(self.embeddings, mode)
        return self._indexes[mode]

    # ------------------------------------------------------------------ disk

    def save(self, path: str | os.PathLike) -> Path:
        """Write the collection to directory ``path`` atomically (see the module docstring).

        ``path`` must be new, an empty directory or a collection (which is replaced); anything
        else raises :class:`CollectionError` before a byte is written (see
        :func:`check_save_target`).
        """
        root = check_save_target(path)
        root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        version = f"v-{stamp}-{uuid.uuid4().hex[:8]}"
        staging = root / f".tmp-{version}"
        staging.mkdir()
        try:
            np.save(staging / _VECTORS, np.ascontiguousarray(self.embeddings, dtype=np.float32))
            self.documents().to_parquet(staging / _DOCUMENTS, index=False)
            for index in self._indexes.values():  # built search graphs (hnsw) are kept
                if hasattr(index, "save_files"):
                    index.save_files(staging)
            (staging / _MANIFEST).write_text(
                json.dumps(asdict(self.manifest), indent=2, ensure_ascii=False), encoding="utf-8"
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

    @classmethod
    def load(cls, path: str | os.PathLike, *, mmap: bool = True, verify: bool | None = None):
        """Read a collection saved by :meth:`save`.

        Parameters
        ----------
        path : path-like
            The collection directory.
        mmap : bool
            Memory-map the vectors (read-only) instead of reading them into memory.
        verify : bool or None
            Recompute the content hash; ``None`` verifies when the vectors are at most 512 MiB.

        Raises
        ------
        CollectionError
            Missing, corrupt, truncated or inconsistent files, with the file named.
        """
        root = Path(path)
        if (root / "shards.json").is_file():  # a sharded collection, read into one (small ones)
            from core.data._shards import ShardedCollection

            return ShardedCollection.open(root, verify=bool(verify)).to_collection()
        if not root.is_dir():
            raise CollectionError(
                f"no collection at {root}: not a directory. Create one with "
                f"{_new_collection_control()}"
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
        _check_consistent(folder, manifest, vectors, texts)
        if verify is None:
            verify = vectors.nbytes <= AUTO_VERIFY_BYTES
        if verify and content_hash(texts, vectors) != manifest.content_hash:
            raise CollectionError(
                f"{folder}: content hash mismatch; the texts or vectors changed after saving. "
                "Re-create the collection from its source files."
            )
        saved = load_saved_hnsw(folder, vectors)
        return cls(texts, documents, vectors, manifest, _indexes={"hnsw": saved} if saved else {})


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


def _read_manifest(path: Path) -> Manifest:
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


def _check_consistent(folder: Path, manifest: Manifest, vectors: np.ndarray, texts: list) -> None:
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
