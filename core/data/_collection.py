"""Collections: texts + per-text metadata + embeddings + a manifest, saved as a directory.

Layout on disk::

    my-collection/
        CURRENT                 one line: the name of the live version directory
        v-<time>-<id>/
            manifest.json       provider, model, dimension, dtype, normalized, count, hash, ...
            vectors.npy         float32 (count, dimension); loadable with memory mapping
            documents.parquet   columns "text" and "_workbench_id" (the document ids), then the
                                metadata columns

Collections change by versions: :meth:`Collection.add`, :meth:`~Collection.delete` and
:meth:`~Collection.update` return a new collection (the old object is left as it was, so
nothing computed from it goes stale unnoticed) and :meth:`~Collection.save` writes it as a new
version. Every document has a stable string id, given or generated (collections saved before ids
existed get ``"0"``, ``"1"``, ... by position, kept from their next save on).

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
import html
import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.data._filters import Where, where_mask
from core.embedding._types import EmbedderSpec
from core.errors import CollectionError, InvalidInputError
from core.search._engine import Metric, as_matrix, row_norms, search
from core.search._hnsw import load_saved as load_saved_hnsw
from core.search._metrics import get_metric
from core.search._mmr import mmr as mmr_select
from core.search._modes import QuantIndex, build_index
from core.search._pairs import PairSummary, extend_strongest_pairs, strongest_pairs

FORMAT_VERSION = 1
TEXT_COLUMN = "text"
# The document ids in documents.parquet (and the one-file exports): a name no metadata uses.
ID_COLUMN = "_workbench_id"
RESERVED_COLUMNS = (TEXT_COLUMN, ID_COLUMN)
# Candidates MMR chooses from when the caller does not say (LangChain's default fetch_k).
DEFAULT_FETCH_K = 20
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


@dataclass(repr=False)
class Collection:
    """Texts, their metadata, their embeddings and their ids, kept together.

    Parameters
    ----------
    texts : list of str
        One per row of ``embeddings``.
    metadata : pandas.DataFrame
        One row per text (source file, line/row, chunk, ...); may have no columns.
    embeddings : ndarray of shape (count, dimension), float32
    manifest : Manifest
    ids : list of str, optional
        One unique id per text; default ``"0"``, ``"1"``, ... by position.
    """

    texts: list[str]
    metadata: pd.DataFrame
    embeddings: np.ndarray
    manifest: Manifest
    ids: list[str] | None = None
    _norms: np.ndarray | None = field(default=None, repr=False, compare=False)
    _indexes: dict = field(default_factory=dict, repr=False, compare=False)
    # (threshold, method, limit) -> PairSummary, or ("extend", parent, n_old) after an append.
    _pairs: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ids is None:
            self.ids = [str(i) for i in range(len(self.texts))]
        else:
            self.ids = _check_ids(self.ids, len(self.texts))

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
        ids: Sequence[str] | None = None,
        dimension: int | None = None,
    ) -> Collection:
        """Build a collection in memory, checking that the parts agree.

        ``normalized=None`` detects it (every row has norm 1 or 0). ``ids`` default to new
        random ones (32 hex digits). An empty collection needs ``dimension`` (or embeddings of
        shape (0, dimension)).
        """
        texts = [str(t) for t in texts]
        if len(texts) == 0 and dimension is not None and np.size(embeddings) == 0:
            embeddings = np.zeros((0, int(dimension)), dtype=np.float32)
        vectors = as_matrix(embeddings, "embeddings")
        if len(texts) != vectors.shape[0]:
            raise InvalidInputError(
                f"{len(texts)} texts but {vectors.shape[0]} embeddings; they must match one to one"
            )
        metadata = _as_metadata(metadata, len(texts))
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
        ids = new_ids(len(texts)) if ids is None else ids
        return cls(texts, metadata, vectors, manifest, list(ids))

    @classmethod
    def from_dataframe(
        cls,
        frame,
        text_column: str = TEXT_COLUMN,
        embedder=None,
        *,
        embedding_column: str | None = None,
        id_column: str | None = None,
        metadata_columns: Sequence[str] | None = None,
        spec: EmbedderSpec | None = None,
        cache="default",
        **embed_options,
    ) -> Collection:
        """A collection from a pandas DataFrame or a Hugging Face ``datasets.Dataset``.

        Parameters
        ----------
        frame : pandas.DataFrame or datasets.Dataset
            One row per document (a ``Dataset`` is read with ``to_pandas()``).
        text_column : str
            The column holding the text.
        embedder : embedder or LangChain ``Embeddings``, optional
            Embeds the texts (through the cache when it is one of this project's providers).
        embedding_column : str, optional
            A column of vectors already computed (lists or arrays of equal length), used instead
            of an embedder; then ``spec`` names the model (default ``unknown/unknown``).
        id_column : str, optional
            A column of unique document ids (default: new random ids).
        metadata_columns : sequence of str, optional
            The columns to keep as metadata (default: every other column).
        cache, **embed_options
            Passed to :func:`core.embedding.embed_texts` (``batch_size``, ``progress``, ...).

        Raises
        ------
        InvalidInputError
            A missing column (the message lists the columns), a row without text, neither or
            both of ``embedder`` and ``embedding_column``.
        """
        from core.data._tables import frame_documents

        texts, metadata, vectors, ids = frame_documents(
            frame, text_column, embedding_column, id_column, metadata_columns
        )
        if (vectors is None) == (embedder is None):
            raise InvalidInputError(
                "give either an embedder (to embed the texts) or embedding_column (vectors "
                "already computed), not both or neither"
            )
        if vectors is None:
            vectors, _ = embed_new_texts(texts, embedder, cache=cache, **embed_options)
            spec = spec or spec_of(embedder)
        spec = spec or EmbedderSpec("unknown", "unknown", None)
        return cls.create(texts, vectors, spec, metadata, ids=ids)

    def __len__(self) -> int:
        return self.manifest.count

    def __repr__(self) -> str:
        m = self.manifest
        columns = ", ".join(map(str, self.metadata.columns)) or "none"
        return (
            f"Collection({m.count:,} documents × {m.dimension}-d, {m.provider}/{m.model}, "
            f"metadata: {columns}, hash {m.content_hash[:12]})"
        )

    def _repr_html_(self, max_rows: int = 5) -> str:
        """A notebook summary: the manifest and the first documents, all text escaped."""
        m = self.manifest
        head = self.to_frame().head(max_rows)
        cells = [
            "<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in head.columns) + "</tr>"
        ]
        for row in head.itertuples(index=False):
            cells.append(
                "<tr>" + "".join(f"<td>{html.escape(_short(v))}</td>" for v in row) + "</tr>"
            )
        more = m.count - len(head)
        tail = f"<p>… and {more:,} more</p>" if more > 0 else ""
        return (
            f"<div><strong>Collection</strong>: {m.count:,} documents × {m.dimension}-d, "
            f"{html.escape(m.provider)}/{html.escape(m.model)}, "
            f"{'normalised' if m.normalized else 'not normalised'}, hash "
            f"<code>{html.escape(m.content_hash[:12])}</code>"
            f"<table>{''.join(cells)}</table>{tail}</div>"
        )

    @property
    def spec(self) -> EmbedderSpec:
        return self.manifest.spec

    def documents(self) -> pd.DataFrame:
        """Texts and metadata as one table (column ``text`` first)."""
        table = self.metadata.copy()
        table.insert(0, TEXT_COLUMN, self.texts)
        return table

    def to_frame(self) -> pd.DataFrame:
        """Ids, texts and metadata as one table: columns ``id``, ``text``, then the metadata
        (a metadata column called ``id`` or ``text`` gets a trailing ``_``)."""
        table = _suffixed(self.metadata.reset_index(drop=True), ("id", TEXT_COLUMN))
        table.insert(0, TEXT_COLUMN, self.texts)
        table.insert(0, "id", self.ids)
        return table

    def rows_of(self, ids: Sequence[str], *, missing: str = "error") -> np.ndarray:
        """Row positions of document ``ids``, int64 of shape (len(ids),); with
        ``missing="ignore"`` unknown ids are left out instead of raising."""
        where = self._id_rows()
        rows, unknown = [], []
        for doc_id in ids:
            row = where.get(str(doc_id))
            if row is None:
                unknown.append(str(doc_id))
            else:
                rows.append(row)
        if unknown and missing == "error":
            shown = ", ".join(repr(u) for u in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise CollectionError(
                f"{len(unknown)} id(s) not in the collection: {shown}. Collection.to_frame() "
                "lists the ids (on the command line: delete --where FILTER --dry-run)"
            )
        return np.asarray(rows, dtype=np.int64)

    def _id_rows(self) -> dict[str, int]:
        cached = self._indexes.get("_id_rows")
        if cached is None:
            cached = self._indexes["_id_rows"] = {d: i for i, d in enumerate(self.ids)}
        return cached

    # ------------------------------------------------------------------ changes

    def add(
        self,
        texts: Sequence[str],
        embedder=None,
        *,
        embeddings=None,
        metadata=None,
        ids: Sequence[str] | None = None,
        replace_existing: bool = False,
        cache="default",
        **embed_options,
    ) -> Collection:
        """A new collection with ``texts`` appended; only texts it does not hold are embedded.

        Parameters
        ----------
        texts : sequence of str
        embedder : embedder or LangChain ``Embeddings``, optional
            The collection's model (checked when it names one). A text already in the
            collection reuses its vector; the rest go through ``cache`` (this project's
            providers) or ``embed_documents`` (any other ``Embeddings``).
        embeddings : array_like of shape (len(texts), dimension), optional
            Vectors already computed, instead of ``embedder``.
        metadata : pandas.DataFrame or list of dict, optional
            One row per text; new columns are added (missing cells elsewhere).
        ids : sequence of str, optional
            Unique ids for the new documents (default: new random ids).
        replace_existing : bool
            An id already in the collection replaces that document (an upsert); by default it
            is refused.
        cache, **embed_options
            Passed to :func:`core.embedding.embed_texts`.

        Returns
        -------
        Collection
            A new version; this one is unchanged. Save it with :meth:`save`.
        """
        texts = [str(t) for t in texts]
        ids = new_ids(len(texts)) if ids is None else _check_ids(ids, len(texts))
        metadata = _as_metadata(metadata, len(texts))
        base = self
        taken = [d for d in ids if d in self._id_rows()]
        if taken:
            if not replace_existing:
                shown = ", ".join(repr(t) for t in taken[:5]) + (" ..." if len(taken) > 5 else "")
                raise CollectionError(
                    f"{len(taken)} id(s) are already in the collection: {shown}. Use update() "
                    "to change those documents, or give other ids"
                )
            base = self.delete(taken)
        vectors = self._vectors_for(texts, embedder, embeddings, cache, embed_options)
        if base.manifest.count == 0:
            new_metadata = metadata
        else:
            new_metadata = pd.concat([base.metadata, metadata], ignore_index=True)
        if not len(texts):
            return base
        all_vectors = np.concatenate([np.asarray(base.embeddings), vectors])
        norms = None
        if base._norms is not None:
            norms = np.concatenate([base._norms, row_norms(vectors)])
        source = np.concatenate([np.arange(len(base.texts)), np.full(len(texts), -1)])
        return base._version(
            base.texts + texts, new_metadata, all_vectors, base.ids + list(ids), norms,
            normalized=base.manifest.normalized and _unit_rows(vectors), source=source,
        )  # fmt: skip

    def delete(self, ids: Sequence[str], *, missing: str = "error") -> Collection:
        """A new collection without the documents ``ids``.

        ``missing="ignore"`` skips ids that are not there (LangChain's ``delete`` contract);
        by default they raise :class:`CollectionError` naming them.
        """
        if missing not in ("error", "ignore"):
            raise InvalidInputError(f"missing must be 'error' or 'ignore', got {missing!r}")
        rows = self.rows_of(ids, missing=missing)
        if rows.size == 0:
            return self
        keep = np.ones(len(self.texts), dtype=bool)
        keep[rows] = False
        return self.take(np.flatnonzero(keep))

    def take(self, rows) -> Collection:
        """A new collection of the documents at positions ``rows`` (int array), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        norms = None if self._norms is None else self._norms[rows]
        vectors = np.ascontiguousarray(np.asarray(self.embeddings)[rows], dtype=np.float32)
        return self._version(
            [self.texts[i] for i in rows],
            self.metadata.iloc[rows].reset_index(drop=True),
            vectors,
            [self.ids[i] for i in rows],
            norms,
            normalized=self.manifest.normalized,
            source=rows,
        )

    def update(
        self,
        ids: Sequence[str],
        *,
        texts: Sequence[str] | None = None,
        metadata: Sequence[Mapping] | pd.DataFrame | None = None,
        embedder=None,
        embeddings=None,
        cache="default",
        **embed_options,
    ) -> Collection:
        """A new collection where the documents ``ids`` have new texts and/or metadata.

        Changed texts are re-embedded (``embedder`` or ``embeddings``, as in :meth:`add`);
        unchanged ones keep their vectors. ``metadata`` rows are merged into the existing ones
        (a key given replaces that cell; a new key adds a column). Ids and positions stay.
        """
        rows = self.rows_of(ids)
        if texts is None and metadata is None:
            raise InvalidInputError("update() needs texts, metadata or both")
        new_texts = list(self.texts)
        source = np.arange(len(self.texts))
        vectors = np.array(self.embeddings, dtype=np.float32, copy=True)
        norms = None if self._norms is None else self._norms.copy()
        normalized = self.manifest.normalized
        if texts is not None:
            texts = [str(t) for t in texts]
            if len(texts) != len(rows):
                raise InvalidInputError(f"{len(texts)} texts for {len(rows)} ids; give one per id")
            changed = [
                i for i, (r, t) in enumerate(zip(rows, texts, strict=True)) if self.texts[r] != t
            ]
            given = None if embeddings is None else as_matrix(embeddings, "embeddings")
            if given is not None and given.shape[0] != len(rows):
                raise InvalidInputError(
                    f"{given.shape[0]} embeddings for {len(rows)} ids; give one per id"
                )
            if changed:
                todo = [texts[i] for i in changed]
                fresh = (
                    given[changed]
                    if given is not None
                    else self._vectors_for(todo, embedder, None, cache, embed_options)
                )
                self._check_dimension(fresh)
                for j, i in enumerate(changed):
                    new_texts[rows[i]] = todo[j]
                    vectors[rows[i]] = fresh[j]
                    source[rows[i]] = -1
                if norms is not None:
                    norms[rows[changed]] = row_norms(fresh)
                normalized = normalized and _unit_rows(fresh)
        new_metadata = self.metadata.copy()
        if metadata is not None:
            records = (
                metadata.to_dict(orient="records")
                if isinstance(metadata, pd.DataFrame)
                else list(metadata)
            )
            if len(records) != len(rows):
                raise InvalidInputError(
                    f"{len(records)} metadata rows for {len(rows)} ids; give one per id"
                )
            for row, record in zip(rows, records, strict=True):
                if not isinstance(record, Mapping):
                    raise InvalidInputError(f"metadata rows must be dicts, got {record!r}")
                for key, value in record.items():
                    _check_column_name(key)
                    if key not in new_metadata.columns:
                        new_metadata[key] = pd.Series([None] * len(new_metadata), dtype=object)
                    if new_metadata[key].dtype != object and not _fits(new_metadata[key], value):
                        new_metadata[key] = new_metadata[key].astype(object)
                    new_metadata.at[int(row), key] = value
        return self._version(
            new_texts, new_metadata, vectors, list(self.ids), norms, normalized, source
        )

    def _vectors_for(self, texts, embedder, embeddings, cache, embed_options) -> np.ndarray:
        if embeddings is not None:
            if embedder is not None:
                raise InvalidInputError("give an embedder or embeddings, not both")
            vectors = as_matrix(embeddings, "embeddings")
            if vectors.shape[0] != len(texts):
                raise InvalidInputError(
                    f"{len(texts)} texts but {vectors.shape[0]} embeddings; they must match"
                )
        elif not texts:
            vectors = np.zeros((0, self.manifest.dimension), dtype=np.float32)
        else:
            if embedder is None:
                raise InvalidInputError(
                    "new texts need an embedder (the collection's model: "
                    f"{self.manifest.provider} / {self.manifest.model}) or their embeddings"
                )
            theirs = spec_of(embedder)
            if theirs is not None and theirs != self.spec and self.manifest.provider != "unknown":
                raise CollectionError(
                    f"the collection was embedded with {describe_spec(self.spec)}, the "
                    f"embedder is {describe_spec(theirs)}: vectors of two models cannot be "
                    "searched together. Use the collection's model"
                )
            vectors, _ = embed_new_texts(
                texts, embedder, cache=cache, reuse=self.text_vectors(), **embed_options
            )
        self._check_dimension(vectors)
        return vectors

    def text_vectors(self) -> tuple[dict[str, int], np.ndarray]:
        """``({text: row}, embeddings)``: what :func:`embed_new_texts` may reuse."""
        return {t: i for i, t in enumerate(self.texts)}, self.embeddings

    def _check_dimension(self, vectors: np.ndarray) -> None:
        if vectors.shape[1] != self.manifest.dimension:
            raise CollectionError(
                f"new vectors have dimension {vectors.shape[1]} but the collection has "
                f"{self.manifest.dimension}; embed them with the collection's model"
            )

    def _version(self, texts, metadata, vectors, ids, norms, normalized, source) -> Collection:
        """The next version: same model, new content and hash. What was derived from this one
        follows without a rebuild where it can: the row norms, and every memory-mode index
        built so far (``source[i]`` is the old row of new row ``i``, -1 for a new vector; see
        :meth:`core.search.QuantIndex.updated`)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        manifest = replace(
            self.manifest,
            count=len(texts),
            content_hash=content_hash(texts, vectors),
            normalized=bool(normalized),
            extra={
                **self.manifest.extra,
                "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        new = type(self)(list(texts), metadata.reset_index(drop=True), vectors, manifest, ids)
        new._norms = norms
        for mode, index in self._indexes.items():
            if isinstance(index, QuantIndex):
                carried = index.updated(source, vectors)
                if carried is not None:
                    new._indexes[mode] = carried
        new._pairs = _carried_pairs(self._pairs, source, len(self.texts))
        return new

    # ------------------------------------------------------------------ search

    def select(self, where: Where) -> np.ndarray:
        """Row positions passing the metadata filter ``where`` (see :mod:`core.data._filters`):
        int64 of shape (n_passing,)."""
        mask = where_mask(where, self.metadata)
        return np.arange(len(self.texts)) if mask is None else np.flatnonzero(mask)

    def search(
        self,
        query_vectors,
        k: int = 10,
        method: str | Metric = "cosine",
        *,
        mode: str = "float32",
        client=None,
        where: Where = None,
        mmr: float | None = None,
        fetch_k: int | None = None,
        **options,
    ) -> SearchResults:
        """Top-k search of query vectors against this collection; see :func:`core.search.search`.

        The corpus was checked when the collection was made or loaded, and its norms are kept,
        so each search reads the vectors only once. ``mode`` other than ``"float32"`` (exact)
        searches a ``core.search`` index ("float16", "int8", "binary"), built on first use.

        Parameters
        ----------
        query_vectors : array_like of shape (n_queries, dim) or (dim,)
        k : int
        method : {"cosine", "dot", "euclidean"}
        mode : {"float32", "float16", "int8", "binary"}
        where : dict, str or callable, optional
            Metadata filter applied before top-k: ``k`` results come back whenever ``k``
            documents pass it (see :mod:`core.data._filters`).
        client : distributed.Client, optional
            Search on that Dask cluster instead (same results; no ``where`` or ``mmr`` there).
        mmr : float in [0, 1], optional
            Re-rank by maximal marginal relevance with this lambda (1: relevance only): the
            ``k`` results are chosen among the top ``fetch_k`` (default ``max(20, 4k)``).

        Returns
        -------
        SearchResults
            Unpacks as ``ids, scores`` (int64 / float32 of shape (n_queries, k')), and
            ``.to_frame()`` gives a table with texts and metadata. ``k'`` is ``k`` or the
            number of documents passing the filter, when fewer.
        """
        if client is not None:  # the Dask backend; see core.distributed
            if where is not None or mmr is not None:
                raise InvalidInputError(
                    "metadata filters and MMR are not available on a Dask cluster yet: search "
                    "without client= to use them"
                )
            from core.search import search as search_on

            return search_on(
                self, query_vectors, k, method, mode=mode, backend="dask", client=client, **options
            )
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        queries = as_matrix(query_vectors, "queries")
        metric = get_metric(method).name  # any registered metric
        if queries.shape[1] != self.manifest.dimension:
            raise InvalidInputError(
                f"dimension mismatch: queries have d={queries.shape[1]} but the collection has "
                f"d={self.manifest.dimension}; embed the queries with {describe_spec(self.spec)}"
            )
        rows = None if where is None else self.select(where)
        n_pool = len(self.texts) if rows is None else rows.size
        if n_pool == 0:
            empty = np.zeros((queries.shape[0], 0))
            return SearchResults(empty.astype(np.int64), empty.astype(np.float32), self, metric)
        if mmr is None:
            ids, scores = self._top(queries, int(k), metric, mode, rows, options)
        else:
            ids, scores = self._mmr(queries, int(k), metric, mode, rows, mmr, fetch_k, options)
        return SearchResults(ids, scores, self, metric)

    def _top(self, queries, k, metric, mode, rows, options):
        if mode != "float32":
            index = self.index(mode)
            if rows is None:
                return index.search(queries, k, metric, **options)
            return filtered_index_search(index, queries, k, metric, rows, options)
        norms = self._kept_norms()
        if rows is None:
            options.setdefault("corpus_norms", norms)
            return search(self.embeddings, queries, k, metric, check_finite=False, **options)
        if rows.size == len(self.texts):
            options.setdefault("corpus_norms", norms)
            return search(self.embeddings, queries, k, metric, check_finite=False, **options)
        # Only the passing rows are scored: the filter comes before top-k.
        subset = np.asarray(self.embeddings[rows], dtype=np.float32)
        options.setdefault("corpus_norms", norms[rows])
        ids, scores = search(subset, queries, k, metric, check_finite=False, **options)
        return rows[ids], scores

    def _mmr(self, queries, k, metric, mode, rows, lambda_mult, fetch_k, options):
        fetch_k = max(DEFAULT_FETCH_K, 4 * k) if fetch_k is None else int(fetch_k)
        if fetch_k < k:
            raise InvalidInputError(f"fetch_k ({fetch_k}) must be at least k ({k})")
        cand_ids, cand_scores = self._top(queries, fetch_k, metric, mode, rows, options)
        width = min(k, cand_ids.shape[1])
        out_ids = np.empty((queries.shape[0], width), dtype=np.int64)
        out_scores = np.empty((queries.shape[0], width), dtype=np.float32)
        for q in range(queries.shape[0]):
            pool = cand_ids[q]
            picked, _ = mmr_select(queries[q], self.embeddings[pool], width, lambda_mult)
            out_ids[q], out_scores[q] = pool[picked], cand_scores[q][picked]
        return out_ids, out_scores

    def _kept_norms(self) -> np.ndarray:
        if self._norms is None:
            self._norms = row_norms(self.embeddings)
        return self._norms

    def strongest_pairs(
        self, threshold: float, method: str | Metric = "cosine", *, limit: int = 500, **options
    ) -> PairSummary:
        """The most alike pairs of documents passing ``threshold``, their count and the closest
        pair overall; see :func:`core.search._pairs.strongest_pairs`.

        The vectors were checked when the collection was made or loaded, so they are not checked
        again; cosine reuses the kept row norms.
        """
        metric = get_metric(method)
        # A metric scored through norms (cosine) reuses the kept ones; euclidean needs exact
        # squared norms (computed there).
        norms = self._kept_norms() if metric.scorer.uses_norms == "norms" else None
        key = (float(threshold), metric.name, int(limit))
        held = self._pairs.get(key)
        if isinstance(held, PairSummary):
            return held
        if held is not None:  # an earlier version's pairs, and rows appended since
            found = self._resolve_pairs(held, key, norms, options)
        else:
            found = strongest_pairs(
                self.embeddings,
                threshold,
                metric,
                limit=limit,
                check_finite=False,
                norms=norms,
                **options,
            )
        self._pairs[key] = found
        return found

    def _resolve_pairs(self, held, key, norms, options) -> PairSummary:
        _, parent, n_old = held
        threshold, method, limit = key
        if not isinstance(parent, PairSummary):
            parent_norms = None if norms is None else norms[:n_old]
            view = Collection.__new__(Collection)
            view.embeddings = self.embeddings[:n_old]
            parent = Collection._resolve_pairs(view, parent, key, parent_norms, options)
        return extend_strongest_pairs(
            parent, self.embeddings, n_old, threshold, method, limit=limit, norms=norms, **options
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
            _write_documents(self, staging / _DOCUMENTS)
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


def _write_documents(collection: Collection, path: Path) -> None:
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


class SearchResults(tuple):
    """``(ids, scores)`` of a :meth:`Collection.search`, which also makes a table.

    Unpacks like the pair it is (``ids, scores = collection.search(...)``); ``ids`` are int64
    row positions of shape (n_queries, k'), ``scores`` float32 of the same shape.
    """

    def __new__(cls, ids, scores, collection=None, method="cosine"):
        self = super().__new__(cls, (ids, scores))
        self.collection = collection
        self.method = get_metric(method).name
        return self

    def __getnewargs__(self):
        return (self[0], self[1], self.collection, self.method)

    @property
    def ids(self) -> np.ndarray:
        return self[0]

    @property
    def scores(self) -> np.ndarray:
        return self[1]

    def to_frame(self, queries: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per result: ``query`` (the query's text, or its number), ``rank`` (from 1),
        ``score``, ``id`` (the document id), ``row``, ``text``, then the metadata columns (a
        metadata column named like one of these gets a trailing ``_``)."""
        ids, scores = self
        if queries is not None and len(queries) != ids.shape[0]:
            raise InvalidInputError(f"{len(queries)} query texts for {ids.shape[0]} queries")
        if self.collection is None:
            raise InvalidInputError("these results have no collection to read texts from")
        c = self.collection
        flat = ids.reshape(-1)
        reserved = ("query", "rank", "score", "id", "row", TEXT_COLUMN)
        meta = _suffixed(c.metadata.iloc[flat].reset_index(drop=True), reserved)
        labels = list(queries) if queries is not None else list(range(ids.shape[0]))
        head = pd.DataFrame(
            {
                "query": np.repeat(np.asarray(labels, dtype=object), ids.shape[1]),
                "rank": np.tile(np.arange(1, ids.shape[1] + 1), ids.shape[0]),
                "score": scores.reshape(-1),
                "id": [c.ids[i] for i in flat],
                "row": flat,
                TEXT_COLUMN: [c.texts[i] for i in flat],
            }
        )
        return pd.concat([head, meta], axis=1)


def _carried_pairs(held: dict, source: np.ndarray, n_old: int) -> dict:
    """Near-duplicate summaries for the next version, where that needs no full pass: after an
    append, a pending extension (resolved on first use, scoring only the new rows); after
    deletions, an untruncated list without the removed rows. Anything else is recomputed."""
    source = np.asarray(source, dtype=np.int64)
    appended = (
        source.size >= n_old
        and np.array_equal(source[:n_old], np.arange(n_old))
        and bool(np.all(source[n_old:] < 0))
    )
    out: dict = {}
    for key, value in held.items():
        if appended:
            out[key] = value if source.size == n_old else ("extend", value, n_old)
        elif isinstance(value, PairSummary) and not value.truncated and np.all(source >= 0):
            where = np.full(n_old, -1, dtype=np.int64)
            where[source] = np.arange(source.size)
            pairs = []
            for i, j, score in value.pairs:
                a, b = int(where[i]), int(where[j])
                if a >= 0 and b >= 0:
                    pairs.append((min(a, b), max(a, b), score))
            if pairs:  # the best pair overall is the first passing one
                pairs.sort(key=lambda p: (-p[2] if key[1] != "euclidean" else p[2], p[0], p[1]))
                out[key] = PairSummary(pairs, len(pairs), pairs[0])
    return out


def new_ids(n: int) -> list[str]:
    """``n`` new random document ids (32 hex digits each)."""
    return [uuid.uuid4().hex for _ in range(n)]


def _check_ids(ids, n: int) -> list[str]:
    if isinstance(ids, str):
        raise InvalidInputError("ids must be a list of strings, not one string")
    ids = [str(i) for i in ids]
    if len(ids) != n:
        raise InvalidInputError(f"{len(ids)} ids for {n} documents; give one id per document")
    if any(not i for i in ids):
        raise InvalidInputError("a document id is empty; ids must be non-empty strings")
    if len(set(ids)) != len(ids):
        seen, twice = set(), []
        for i in ids:
            if i in seen:
                twice.append(i)
            seen.add(i)
        raise InvalidInputError(f"duplicate document id(s): {', '.join(map(repr, twice[:5]))}")
    return ids


def _check_column_name(name) -> None:
    if name in RESERVED_COLUMNS:
        raise InvalidInputError(f"metadata may not have a {name!r} column; rename it")


def _as_metadata(metadata, n: int) -> pd.DataFrame:
    if metadata is None:
        return pd.DataFrame(index=range(n))
    if not isinstance(metadata, pd.DataFrame):
        records = list(metadata)
        if any(not isinstance(r, Mapping) for r in records):
            raise InvalidInputError("metadata must be a DataFrame or a list of dicts")
        metadata = pd.DataFrame.from_records(records, index=range(len(records)))
    metadata = metadata.reset_index(drop=True)
    if len(metadata) != n:
        raise InvalidInputError(f"{len(metadata)} metadata rows for {n} texts")
    for column in metadata.columns:
        _check_column_name(column)
    return metadata


def _fits(series: pd.Series, value) -> bool:
    try:
        return np.can_cast(np.asarray(value).dtype, series.dtype, casting="same_kind")
    except TypeError:
        return False


def _unit_rows(vectors: np.ndarray) -> bool:
    norms = row_norms(vectors)
    return bool(np.all((np.abs(norms - 1) < 1e-3) | (norms == 0)))


def _short(value, limit: int = 120) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _suffixed(frame: pd.DataFrame, names) -> pd.DataFrame:
    clash = {c: f"{c}_" for c in frame.columns if c in names}
    return frame.rename(columns=clash) if clash else frame


def describe_spec(spec: EmbedderSpec) -> str:
    """``openai / text-embedding-3-small (256 dimensions)``: a model as messages name it."""
    dims = f" ({spec.dimensions} dimensions)" if spec.dimensions else ""
    return f"{spec.provider} / {spec.model}{dims}"


def spec_of(embedder) -> EmbedderSpec | None:
    """The :class:`EmbedderSpec` of one of this project's embedders, else a spec naming the
    LangChain ``Embeddings`` class (``langchain/ClassName``)."""
    spec = getattr(embedder, "spec", None)
    if isinstance(spec, EmbedderSpec):
        return spec
    if embedder is None:
        return None
    return EmbedderSpec("langchain", type(embedder).__name__, None)


def embed_new_texts(
    texts: Sequence[str],
    embedder,
    *,
    cache="default",
    reuse: tuple[dict, np.ndarray] | None = None,
    **embed_options,
):
    """Vectors for ``texts``: reused from ``reuse`` (``({text: row}, vectors)``) when a text is
    there, the rest embedded once each — through the batch engine and ``cache`` for this
    project's providers, through ``embed_documents`` for any other LangChain ``Embeddings``.

    Returns
    -------
    vectors : ndarray of shape (len(texts), dimension), float32
    result : EmbeddingResult or None
        The batch engine's report on the texts it embedded (None for other ``Embeddings``).
    """
    texts = list(texts)
    known, old = reuse if reuse is not None else ({}, None)
    todo = list(dict.fromkeys(t for t in texts if t not in known))
    fresh, result = None, None
    if hasattr(embedder, "embed_batch") and hasattr(embedder, "limits"):
        from core.embedding._batching import embed_texts

        result = embed_texts(todo, embedder, cache=cache, **embed_options)
        fresh = result.vectors
    elif todo:
        fresh = as_matrix(embedder.embed_documents(todo), "embeddings")
    dimension = fresh.shape[1] if fresh is not None else old.shape[1]
    out = np.empty((len(texts), dimension), dtype=np.float32)
    position = {t: i for i, t in enumerate(todo)}
    for row, text in enumerate(texts):
        if text in position:
            out[row] = fresh[position[text]]
        else:
            out[row] = old[known[text]]
    return out, result


def filtered_index_search(index: QuantIndex, queries, k, metric, rows, options):
    """Top-k among ``rows`` from a compressed index: fetch more candidates until ``k`` of each
    query's pass (or every row has been ranked), so the filter still comes before top-k."""
    allowed = np.zeros(index.n, dtype=bool)
    allowed[rows] = True
    width = min(k, rows.size)
    fetch = min(index.n, max(4 * k, k + 16))
    while True:
        ids, scores = index.search(queries, fetch, metric, **options)
        passing = allowed[ids]
        if fetch >= index.n or np.all(passing.sum(axis=1) >= width):
            break
        fetch = min(index.n, fetch * 4)
    out_ids = np.empty((queries.shape[0], width), dtype=np.int64)
    out_scores = np.empty((queries.shape[0], width), dtype=np.float32)
    for q in range(queries.shape[0]):
        keep = np.flatnonzero(passing[q])[:width]
        out_ids[q], out_scores[q] = ids[q, keep], scores[q, keep]
    return out_ids, out_scores
