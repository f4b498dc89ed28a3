"""Sharded collections: one collection stored as many shards, searched as one.

Layout on disk::

    my-collection/
        shards.json                 the manifest: provider, model, dimension, ... and the shards
        shards/
            <name>.npy              float32 (count, dimension) of one shard, memory-mappable
            <name>.parquet          its documents: column "text" plus the metadata columns
            <name>.json             the shard's own record (count, content hash, input hash)

Each shard is written completely under temporary names, flushed to disk and renamed into place;
then the manifest is replaced with ``os.replace`` (atomic). A crash at any point leaves the
previous manifest, and every shard it lists, intact; a shard file that no manifest lists yet is
only an unfinished append (a distributed job adopts it on resume once its hash verifies).

Global row ``i`` is row ``i - offset`` of the shard holding it, shards in manifest order. The
single-process engine (:meth:`ShardedCollection.search`) memory-maps every shard, scores each with
:func:`core.search.search` and merges the partial top-k with :func:`core.search.merge_topk`; the
Dask backend (:mod:`core.distributed`) runs the very same per-shard step on workers.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.data._collection import (
    TEXT_COLUMN,
    Collection,
    Manifest,
    check_save_target,
    content_hash,
)
from core.data._collection_search import (  # mmr_rerank: also the cluster search's
    exact_top_k,
    fetch_count,
    filtered_index_search,
    mmr_rerank,
)
from core.embedding._types import EmbedderSpec
from core.errors import CollectionError, InvalidInputError
from core.search import Metric, as_matrix, build_index, merge_topk, row_norms

SHARDS_MANIFEST = "shards.json"
SHARDS_DIR = "shards"
SHARDED_FORMAT = "sharded-collection"
FORMAT_VERSION = 1
DEFAULT_ROWS_PER_SHARD = 250_000


@dataclass(frozen=True)
class ShardInfo:
    """One shard as the manifest lists it.

    Attributes
    ----------
    name : str
        File stem under ``shards/`` (``<name>.npy``, ``<name>.parquet``).
    count : int
        Rows in the shard.
    content_hash : str
        :func:`core.data.content_hash` of its texts and vectors.
    offset : int
        Global index of its first row.
    """

    name: str
    count: int
    content_hash: str
    offset: int = 0


@dataclass(frozen=True)
class ShardedManifest:
    """What a sharded collection holds: the fields of :class:`Manifest` plus its shards."""

    provider: str
    model: str
    dimension: int
    dtype: str
    normalized: bool
    created: str
    shards: tuple[ShardInfo, ...] = ()
    dimensions_requested: int | None = None
    format: str = SHARDED_FORMAT
    format_version: int = FORMAT_VERSION
    extra: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(s.count for s in self.shards)

    @property
    def spec(self) -> EmbedderSpec:
        return EmbedderSpec(self.provider, self.model, self.dimensions_requested)

    @property
    def content_hash(self) -> str:
        """Hash of the shards' hashes, in order: changes when any shard changes."""
        import hashlib

        digest = hashlib.sha256()
        for shard in self.shards:
            digest.update(shard.content_hash.encode("ascii"))
        return digest.hexdigest()

    def with_shards(self, shards) -> ShardedManifest:
        placed, offset = [], 0
        for s in shards:
            placed.append(ShardInfo(s.name, s.count, s.content_hash, offset))
            offset += s.count
        return ShardedManifest(**{**self._fields(), "shards": tuple(placed)})

    def _fields(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def to_json(self) -> str:
        raw = self._fields()
        raw["shards"] = [{"name": s.name, "count": s.count, "content_hash": s.content_hash}
                         for s in self.shards]  # fmt: skip
        return json.dumps(raw, indent=2, ensure_ascii=False)


def is_sharded(path: str | os.PathLike) -> bool:
    """True if ``path`` is a sharded collection (it has a ``shards.json`` manifest)."""
    return (Path(path) / SHARDS_MANIFEST).is_file()


@dataclass
class ShardState:
    """A shard opened for searching: its memory-mapped vectors, row norms and built indexes."""

    vectors: np.ndarray
    offset: int
    norms: np.ndarray | None = None
    indexes: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Memory this open shard pins: its mapped vectors (every page is read by a search and
        stays resident while mapped), plus its row norms and built indexes."""
        total = int(self.vectors.nbytes)
        if self.norms is not None:
            total += int(self.norms.nbytes)
        return total + sum(int(getattr(index, "nbytes", 0)) for index in self.indexes.values())

    def search(self, queries: np.ndarray, k: int, method, mode: str, options: dict, rows=None):
        """Top-k of ``queries`` (float32 ``(n_queries, dim)``, checked) in this shard.

        ``rows``: the shard's rows (sorted int64 positions) passing a filter, or None for all;
        only those are scored, so the filter comes before top-k (as in
        :meth:`core.data.Collection.search`). Returns ids already offset to the whole
        collection, of shape ``(n_queries, min(k, n_rows))``. The one per-shard step of both
        the local and the distributed engine, so their results are the same by construction.
        """
        n = self.vectors.shape[0]
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size == n:
                rows = None
            elif rows.size == 0:
                empty = np.zeros((queries.shape[0], 0))
                return empty.astype(np.int64), empty.astype(np.float32)
        if mode == "float32":
            if self.norms is None:
                self.norms = row_norms(self.vectors)
            width = min(k, n if rows is None else rows.size)
            ids, scores = exact_top_k(
                self.vectors, self.norms, queries, width, method, rows, options
            )
        else:
            if mode not in self.indexes:
                self.indexes[mode] = build_index(np.asarray(self.vectors), mode)
            if rows is None:
                ids, scores = self.indexes[mode].search(queries, min(k, n), method, **options)
            else:
                ids, scores = filtered_index_search(
                    self.indexes[mode], queries, k, method, rows, options
                )
        return ids.astype(np.int64) + self.offset, scores


# ---------------------------------------------------------------------- filters and MMR


def prepare_where(where, shards, n_rows: int, columns):
    """Check a filter once, before any shard is searched, and give each shard its part.

    A string is parsed, a dict checked against the shards' metadata columns (``columns()``
    gives them, called only when a filter needs them), so an unknown column or operator fails
    here, not on a worker; a bool array of shape ``(n_rows,)`` is cut into one slice per shard;
    a callable is passed on as it is. Returns one filter per shard (None: no filter).
    """
    from core.data._filters import parse_where, where_mask

    if where is None or (isinstance(where, str | dict) and not where):
        return None
    if isinstance(where, np.ndarray):
        where_mask(where, pd.DataFrame(index=range(n_rows)))  # checks dtype and shape
        return [where[s.offset : s.offset + s.count] for s in shards]
    if isinstance(where, str):
        where = parse_where(where)
    where_mask(where, pd.DataFrame(columns=columns()))  # columns and operators, no rows
    return [where] * len(shards)


def shard_rows(root, shard: ShardInfo, where) -> np.ndarray | None:
    """The shard's rows passing ``where`` (its part from :func:`prepare_where`): sorted int64
    positions, or None for every row. Reads only the shard's metadata columns."""
    from core.data._filters import where_mask

    if where is None:
        return None
    if isinstance(where, np.ndarray):
        return np.flatnonzero(where)
    mask = where_mask(where, read_shard_metadata(root, shard.name))
    return None if mask is None else np.flatnonzero(mask)


def merge_parts(parts, k: int, n_queries: int):
    """Merge per-shard top-k (of any widths, some maybe empty) into the best ``k``."""
    total = sum(np.asarray(ids).shape[1] for ids, _ in parts)
    if total == 0:
        empty = np.zeros((n_queries, 0))
        return empty.astype(np.int64), empty.astype(np.float32)
    return merge_topk(parts, min(k, total))


def check_mmr(mmr, k: int, fetch_k: int | None) -> int:
    """Check MMR's lambda before any shard is searched and return the candidates to fetch
    (:func:`core.data._collection_search.fetch_count`, as ``Collection.search``)."""
    if isinstance(mmr, bool) or not isinstance(mmr, int | float | np.floating | np.integer) \
            or not 0.0 <= float(mmr) <= 1.0:  # fmt: skip
        raise InvalidInputError(f"mmr (lambda) must be a number in [0, 1], got {mmr!r}")
    return fetch_count(k, fetch_k)


def open_shard(root: str | os.PathLike, shard: ShardInfo) -> ShardState:
    """Memory-map one shard's vectors (read-only), checking shape against the manifest."""
    path = Path(root) / SHARDS_DIR / f"{shard.name}.npy"
    if not path.exists():
        raise CollectionError(
            f"{path} is missing. A shard must be on a path every worker can read (a shared "
            "disk); re-create the collection if it was deleted."
        )
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CollectionError(f"{path} is corrupt or truncated ({exc})") from None
    if vectors.ndim != 2 or vectors.dtype != np.float32 or vectors.shape[0] != shard.count:
        raise CollectionError(
            f"{path} holds {vectors.dtype} of shape {vectors.shape}; the manifest says float32 "
            f"with {shard.count} rows. Re-create the collection."
        )
    return ShardState(vectors, shard.offset)


class ShardedCollection:
    """A collection stored as shards; searched as one, appended to by adding shards.

    Open one with :meth:`open`, make one with :meth:`create` or :func:`shard_collection`.
    Vectors are memory-mapped shard by shard, documents read only for the rows asked for.
    """

    def __init__(self, root: Path, manifest: ShardedManifest) -> None:
        self.root = root
        self.manifest = manifest
        self._states: dict[str, ShardState] = {}

    # ------------------------------------------------------------------ make / open
    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        spec: EmbedderSpec,
        dimension: int,
        *,
        normalized: bool,
        extra: dict | None = None,
    ) -> ShardedCollection:
        """Start an empty sharded collection at ``path`` (new or empty directory)."""
        root = Path(path)
        if is_sharded(root) or (root / "CURRENT").exists():
            raise CollectionError(
                f"{root} already holds a collection; open it with ShardedCollection.open to "
                "append, or choose a new directory"
            )
        root = check_save_target(root)
        if root.exists() and any(root.iterdir()):
            raise CollectionError(
                f"{root} already holds a collection; open it with ShardedCollection.open to "
                "append, or choose a new directory"
            )
        manifest = ShardedManifest(
            provider=spec.provider,
            model=spec.model,
            dimension=int(dimension),
            dtype="float32",
            normalized=bool(normalized),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            dimensions_requested=spec.dimensions,
            extra=dict(extra or {}),
        )
        (root / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
        write_manifest(root, manifest)
        return cls(root, manifest)

    @classmethod
    def open(cls, path: str | os.PathLike, *, verify: bool = False) -> ShardedCollection:
        """Open a sharded collection; ``verify`` re-hashes every shard (reads every byte).

        Raises
        ------
        CollectionError
            Not a sharded collection, a corrupt manifest, or (with ``verify``) a changed shard.
        """
        root = Path(path)
        collection = cls(root, read_manifest(root))
        if verify:
            collection.verify()
        return collection

    def reload(self) -> None:
        """Re-read the manifest (after another process appended shards)."""
        self.manifest = read_manifest(self.root)
        self._states.clear()

    # ------------------------------------------------------------------ facts
    def __len__(self) -> int:
        return self.manifest.count

    @property
    def shards(self) -> tuple[ShardInfo, ...]:
        return self.manifest.shards

    @property
    def spec(self) -> EmbedderSpec:
        return self.manifest.spec

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    def shard_vectors(self, i: int) -> np.ndarray:
        """Shard ``i``'s vectors, memory-mapped, of shape ``(count_i, dimension)``."""
        return self._state(self.shards[i]).vectors

    def shard_documents(self, i: int) -> pd.DataFrame:
        """Shard ``i``'s documents (column ``text`` first, then the metadata)."""
        return read_shard_documents(self.root, self.shards[i].name)

    def documents_at(self, ids) -> pd.DataFrame:
        """The documents of global rows ``ids`` (any order, repeats allowed), reading only the
        shards that hold them; the result's index is the global row id."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise InvalidInputError(f"row ids must be from 0 to {len(self) - 1}")
        offsets = np.array([s.offset for s in self.shards], dtype=np.int64)
        which = np.searchsorted(offsets, ids, side="right") - 1
        parts = []
        for i in np.unique(which):
            table = self.shard_documents(int(i))
            local = np.unique(ids[which == i] - offsets[i])
            rows = table.iloc[local].copy()
            rows.index = local + offsets[i]
            parts.append(rows)
        if not parts:
            return pd.DataFrame({TEXT_COLUMN: []})
        return pd.concat(parts).loc[ids]  # each global id once in the index: repeats are fine

    def verify(self) -> None:
        """Re-hash every shard against the manifest; raises :class:`CollectionError` if changed."""
        for shard in self.shards:
            verify_shard(self.root, shard)

    # ------------------------------------------------------------------ search
    def search(
        self,
        query_vectors,
        k: int = 10,
        method: str | Metric = "cosine",
        *,
        mode: str = "float32",
        client=None,
        where=None,
        mmr: float | None = None,
        fetch_k: int | None = None,
        **options,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k over every shard: each scored with :func:`core.search.search` and merged.

        Parameters
        ----------
        query_vectors : array_like of shape (n_queries, dim) or (dim,)
        k : int
        method : {"cosine", "dot", "euclidean"}
        mode : {"float32", "float16", "int8", "binary"}
            ``"float32"`` is exact; the others build one index per shard, kept for later calls.
        client : distributed.Client, optional
            Search on this Dask cluster instead (see :func:`core.distributed.search`); same
            results.
        where : dict, str, callable or bool array of shape (n_docs,), optional
            Metadata filter, as :meth:`core.data.Collection.search`: each shard's documents are
            filtered (its Parquet metadata), then only the passing rows are scored.
        mmr : float in [0, 1], optional
            Re-rank by maximal marginal relevance among the top ``fetch_k`` (default
            ``max(20, 4k)``), as :meth:`core.data.Collection.search`.

        Returns
        -------
        ids : ndarray of shape (n_queries, k'), int64
        scores : ndarray of shape (n_queries, k'), float32
            Higher is better for every metric; ties by lower global id. ``k'`` is
            ``min(k, count)``, or the number of documents passing the filter when fewer.
        """
        if client is not None:
            from core.distributed import search as distributed_search

            return distributed_search(self, query_vectors, k, method, client=client, mode=mode,
                                      where=where, mmr=mmr, fetch_k=fetch_k,
                                      **options)  # fmt: skip
        queries = check_queries(query_vectors, self.dimension, len(self), k)
        method = Metric.parse(method)
        fetch = k if mmr is None else check_mmr(mmr, k, fetch_k)
        wheres = prepare_where(where, self.shards, len(self), self.metadata_columns)
        parts = []
        for i, shard in enumerate(self.shards):
            rows = shard_rows(self.root, shard, None if wheres is None else wheres[i])
            parts.append(self._state(shard).search(queries, fetch, method, mode, options, rows))
        ids, scores = merge_parts(parts, fetch, queries.shape[0])
        if mmr is None:
            return ids, scores
        return mmr_rerank(queries, ids, scores, self.vectors_at, k, mmr)

    def metadata_columns(self) -> list[str]:
        """The documents' metadata columns (without ``text``), from the first shard's schema."""
        if not self.shards:
            return []
        return _metadata_columns(self.root / SHARDS_DIR / f"{self.shards[0].name}.parquet")

    def vectors_at(self, ids) -> np.ndarray:
        """The vectors of global rows ``ids`` (any order), float32 of shape (len(ids), dim)."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise InvalidInputError(f"row ids must be from 0 to {len(self) - 1}")
        offsets = np.array([s.offset for s in self.shards], dtype=np.int64)
        which = np.searchsorted(offsets, ids, side="right") - 1
        out = np.empty((ids.size, self.dimension), dtype=np.float32)
        for i in np.unique(which):
            picked = which == i
            out[picked] = self.shard_vectors(int(i))[ids[picked] - offsets[i]]
        return out

    def _state(self, shard: ShardInfo) -> ShardState:
        if shard.name not in self._states:
            self._states[shard.name] = open_shard(self.root, shard)
        return self._states[shard.name]

    # ------------------------------------------------------------------ write
    def append(self, texts, embeddings, metadata: pd.DataFrame | None = None) -> ShardInfo:
        """Add one shard (written and flushed first, then listed in the manifest atomically).

        Parameters
        ----------
        texts : list of str
        embeddings : array_like of shape (len(texts), dimension)
        metadata : pandas.DataFrame, optional
            One row per text; the same columns as the other shards.
        """
        vectors = as_matrix(embeddings, "embeddings")
        if vectors.shape[1] != self.dimension:
            raise InvalidInputError(
                f"embeddings have dimension {vectors.shape[1]}; this collection holds "
                f"{self.dimension}-d vectors ({self.spec.model})"
            )
        name = f"s-{len(self.shards):05d}-{uuid.uuid4().hex[:8]}"
        shard = write_shard(self.root, name, texts, vectors, metadata)
        self.manifest = self.manifest.with_shards([*self.shards, shard])
        write_manifest(self.root, self.manifest)
        return self.manifest.shards[-1]

    def to_collection(self) -> Collection:
        """Every shard read into one in-memory :class:`Collection` (small collections only)."""
        vectors = np.concatenate([self.shard_vectors(i) for i in range(len(self.shards))]) \
            if self.shards else np.zeros((0, self.dimension), np.float32)  # fmt: skip
        tables = [self.shard_documents(i) for i in range(len(self.shards))]
        documents = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        texts = documents.pop(TEXT_COLUMN).astype(str).tolist() if tables else []
        m = self.manifest
        manifest = Manifest(
            provider=m.provider,
            model=m.model,
            dimension=m.dimension,
            dtype=m.dtype,
            normalized=m.normalized,
            count=len(texts),
            content_hash=content_hash(texts, vectors),
            created=m.created,
            dimensions_requested=m.dimensions_requested,
            extra={**m.extra, "shards": len(self.shards)},
        )
        return Collection(texts, documents, np.ascontiguousarray(vectors), manifest)


def check_queries(query_vectors, dimension: int, count: int, k: int) -> np.ndarray:
    """Queries as float32 ``(n_queries, dim)``, checked against the collection, before any work."""
    queries = as_matrix(query_vectors, "queries")
    if queries.shape[1] != dimension:
        raise InvalidInputError(
            f"queries have dimension {queries.shape[1]} but the collection holds "
            f"{dimension}-d vectors; embed them with the collection's model"
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    if count == 0:
        raise InvalidInputError("the collection has no vectors yet; append a shard first")
    return queries


# ---------------------------------------------------------------------- files


def write_shard(
    root: str | os.PathLike, name: str, texts, vectors: np.ndarray, metadata=None, *,
    input_hash: str | None = None,
) -> ShardInfo:  # fmt: skip
    """Write one shard's three files under temporary names, flush, then rename into place.

    The ``.json`` record is renamed last, so a shard with a record is complete. Returns its
    :class:`ShardInfo` (offset 0: the manifest places it).
    """
    texts = [str(t) for t in texts]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(texts) != vectors.shape[0]:
        raise InvalidInputError(f"{len(texts)} texts but {vectors.shape[0]} vectors in a shard")
    if len(texts) == 0:
        raise InvalidInputError("a shard needs at least one row")
    if metadata is None:
        metadata = pd.DataFrame(index=range(len(texts)))
    metadata = metadata.reset_index(drop=True)
    if len(metadata) != len(texts):
        raise InvalidInputError(f"{len(metadata)} metadata rows for {len(texts)} texts")
    if TEXT_COLUMN in metadata.columns:
        raise InvalidInputError(f"metadata may not have a {TEXT_COLUMN!r} column; rename it")
    folder = Path(root) / SHARDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    info = ShardInfo(name, len(texts), content_hash(texts, vectors))
    record = {"name": name, "count": info.count, "content_hash": info.content_hash,
              "input_hash": input_hash}  # fmt: skip
    documents = metadata.copy()
    documents.insert(0, TEXT_COLUMN, texts)
    staged = {ext: folder / f".{name}.{tag}.{ext}" for ext in ("npy", "parquet", "json")}
    try:
        with open(staged["npy"], "wb") as handle:
            np.save(handle, vectors)
        documents.to_parquet(staged["parquet"], index=False)
        staged["json"].write_text(json.dumps(record), encoding="utf-8")
        for path in staged.values():
            _fsync(path)
        for ext in ("npy", "parquet", "json"):  # the record last: it marks the shard complete
            os.replace(staged[ext], folder / f"{name}.{ext}")
    except BaseException:
        for path in staged.values():
            path.unlink(missing_ok=True)
        raise
    return info


def read_shard_record(root: str | os.PathLike, name: str) -> dict | None:
    """A shard's ``.json`` record, or None if the shard was never completed."""
    path = Path(root) / SHARDS_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CollectionError(
            f"{path} is not valid JSON ({exc}); delete it to redo the shard"
        ) from None


def read_shard_documents(root: str | os.PathLike, name: str) -> pd.DataFrame:
    path = Path(root) / SHARDS_DIR / f"{name}.parquet"
    try:
        documents = pd.read_parquet(path)
    except FileNotFoundError:
        raise CollectionError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise CollectionError(f"{path} is corrupt or truncated ({exc})") from None
    if TEXT_COLUMN not in documents.columns:
        raise CollectionError(f"{path} has no {TEXT_COLUMN!r} column")
    return documents


def read_shard_metadata(root: str | os.PathLike, name: str) -> pd.DataFrame:
    """A shard's metadata columns only (no ``text``): what a filter looks at."""
    path = Path(root) / SHARDS_DIR / f"{name}.parquet"
    columns = _metadata_columns(path)
    try:
        return pd.read_parquet(path, columns=columns)
    except (OSError, ValueError) as exc:
        raise CollectionError(f"{path} is corrupt or truncated ({exc})") from None


def _metadata_columns(path: Path) -> list[str]:
    """A shard's Parquet columns other than ``text`` (and pandas' index columns)."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except FileNotFoundError:
        raise CollectionError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise CollectionError(f"{path} is corrupt or truncated ({exc})") from None
    return [n for n in names if n != TEXT_COLUMN and not n.startswith("__index")]


def verify_shard(root: str | os.PathLike, shard: ShardInfo) -> None:
    """Re-hash one shard's texts and vectors; :class:`CollectionError` if they changed."""
    state = open_shard(root, shard)
    texts = read_shard_documents(root, shard.name)[TEXT_COLUMN].astype(str).tolist()
    if len(texts) != shard.count or content_hash(texts, state.vectors) != shard.content_hash:
        raise CollectionError(
            f"shard {shard.name} of {root} changed after it was written (content hash "
            "mismatch); re-create it"
        )


def read_manifest(root: str | os.PathLike) -> ShardedManifest:
    """Read ``shards.json`` (shards placed at their offsets)."""
    path = Path(root) / SHARDS_MANIFEST
    if not Path(root).is_dir():
        raise CollectionError(f"no collection at {root}: not a directory")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CollectionError(
            f"{root} is not a sharded collection ({SHARDS_MANIFEST} is missing); convert a "
            f"collection with `embedding-workbench shard {root} --rows-per-shard N`"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CollectionError(f"{path} is not valid JSON ({exc})") from None
    try:
        shards = [ShardInfo(s["name"], int(s["count"]), s["content_hash"])
                  for s in raw.pop("shards")]  # fmt: skip
        if raw.get("format") != SHARDED_FORMAT:
            raise CollectionError(f"{path}: format is {raw.get('format')!r}, not {SHARDED_FORMAT}")
        manifest = ShardedManifest(**raw)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CollectionError):
            raise
        raise CollectionError(f"{path} has unexpected or missing fields ({exc})") from None
    return manifest.with_shards(shards)


def write_manifest(root: str | os.PathLike, manifest: ShardedManifest) -> None:
    """Replace ``shards.json`` atomically (temporary file, flush, ``os.replace``)."""
    root = Path(root)
    staged = root / f".{SHARDS_MANIFEST}.{uuid.uuid4().hex[:8]}"
    staged.write_text(manifest.to_json(), encoding="utf-8")
    _fsync(staged)
    os.replace(staged, root / SHARDS_MANIFEST)


def shard_collection(
    source: str | os.PathLike | Collection,
    destination: str | os.PathLike,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
) -> ShardedCollection:
    """Convert a collection into a sharded one of ``rows_per_shard`` rows per shard (the last
    may be shorter). ``source`` is a :class:`Collection` or a path to a saved (plain or
    sharded) collection; ``destination`` must be new or empty. Shards are written one by one, so
    a conversion cut short leaves a valid, shorter collection that a rerun replaces.
    """
    if isinstance(rows_per_shard, bool) or not isinstance(rows_per_shard, int) \
            or rows_per_shard < 1:  # fmt: skip
        raise InvalidInputError(
            f"rows_per_shard must be a positive integer, got {rows_per_shard!r}"
        )
    if not isinstance(source, Collection):
        source_path = Path(source)
        if Path(destination).resolve() == source_path.resolve():
            raise InvalidInputError("the sharded copy needs a new directory, not the source itself")
        source = (ShardedCollection.open(source_path).to_collection() if is_sharded(source_path)
                  else Collection.load(source_path, mmap=True))  # fmt: skip
    target = Path(destination)
    if target.exists() and is_sharded(target) and not (target / "CURRENT").exists():
        shutil.rmtree(target)  # an earlier, cut-short conversion: start over
    m = source.manifest
    sharded = ShardedCollection.create(
        target, m.spec, m.dimension, normalized=m.normalized, extra=m.extra
    )
    documents = source.metadata
    for start in range(0, len(source), rows_per_shard):
        stop = min(start + rows_per_shard, len(source))
        sharded.append(
            source.texts[start:stop],
            source.embeddings[start:stop],
            documents.iloc[start:stop].reset_index(drop=True),
        )
    return sharded


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


__all__ = [
    "DEFAULT_ROWS_PER_SHARD",
    "ShardInfo",
    "ShardState",
    "ShardedCollection",
    "ShardedManifest",
    "is_sharded",
    "shard_collection",
]
