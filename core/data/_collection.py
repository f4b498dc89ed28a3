"""Collections: texts + per-text metadata + embeddings + a manifest, saved as a directory.

Collections change by versions: :meth:`Collection.add`, :meth:`~Collection.delete` and
:meth:`~Collection.update` return a new collection (the old object is left as it was, so
nothing computed from it goes stale unnoticed) and :meth:`~Collection.save` writes it as a new
version. Every document has a stable string id, given or generated (collections saved before ids
existed get ``"0"``, ``"1"``, ... by position, kept from their next save on).

The directory layout, the atomic save and the locked load are in :mod:`core.data._versions`;
the edits (add, upsert, update, near-duplicate summaries carried over) in
:mod:`core.data._edits`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.data._collection_search import (
    DEFAULT_FETCH_K,
    _suffixed,
    check_search_arguments,
    filtered_index_search,
    mmr_top_k,
    results_frame,
    top_k,
)
from core.data._edits import (
    RESERVED_COLUMNS,
    _as_metadata,
    _check_ids,
    _unit_rows,
    add_documents,
    describe_spec,
    embed_new_texts,
    new_ids,
    next_version,
    pairs_of,
    spec_of,
    update_documents,
)
from core.data._filters import Where, where_mask
from core.data._versions import (
    AUTO_VERIFY_BYTES,
    FORMAT_VERSION,
    ID_COLUMN,
    TEXT_COLUMN,
    check_save_target,
    content_hash,
    load_collection,
    save_collection,
)
from core.embedding._types import EmbedderSpec
from core.errors import CollectionError, InvalidInputError
from core.search._engine import Metric, as_matrix, row_norms
from core.search._metrics import get_metric
from core.search._modes import QuantIndex, build_index
from core.search._pairs import PairSummary

# What other modules import from here: the classes defined below, and (re-exported, so their
# imports keep working) names that moved to _versions, _edits and _collection_search.
__all__ = [
    "AUTO_VERIFY_BYTES",
    "DEFAULT_FETCH_K",
    "FORMAT_VERSION",
    "ID_COLUMN",
    "RESERVED_COLUMNS",
    "TEXT_COLUMN",
    "Collection",
    "CollectionError",
    "Manifest",
    "SearchResults",
    "check_save_target",
    "content_hash",
    "describe_spec",
    "embed_new_texts",
    "filtered_index_search",
    "new_ids",
    "spec_of",
]


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
            normalized = _unit_rows(vectors)
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
        return add_documents(
            self, texts, embedder, embeddings, metadata, ids, replace_existing, cache,
            embed_options,
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
        return next_version(
            self,
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
        return update_documents(
            self, ids, texts, metadata, embedder, embeddings, cache, embed_options
        )

    def text_vectors(self) -> tuple[dict[str, int], np.ndarray]:
        """``({text: row}, embeddings)``: what :func:`embed_new_texts` may reuse."""
        return {t: i for i, t in enumerate(self.texts)}, self.embeddings

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
            Search on that Dask cluster instead (same results, filters and MMR included).
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
        if client is not None:  # the Dask backend (filters and MMR too); see core.distributed
            from core.search import search as search_on

            ids, scores = search_on(
                self,
                query_vectors,
                k,
                method,
                mode=mode,
                backend="dask",
                client=client,
                where=where,
                mmr=mmr,
                fetch_k=fetch_k,
                **options,
            )
            return SearchResults(ids, scores, self, method)  # as the local path: a table too
        queries, k, metric = check_search_arguments(
            query_vectors, k, method, self.manifest.dimension, describe_spec(self.spec)
        )
        rows = None if where is None else self.select(where)
        n_pool = len(self.texts) if rows is None else rows.size
        if n_pool == 0:
            empty = np.zeros((queries.shape[0], 0))
            return SearchResults(empty.astype(np.int64), empty.astype(np.float32), self, metric)
        if mmr is None:
            ids, scores = top_k(self, queries, k, metric, mode, rows, options)
        else:
            ids, scores = mmr_top_k(self, queries, k, metric, mode, rows, mmr, fetch_k, options)
        return SearchResults(ids, scores, self, metric)

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
        return pairs_of(self, threshold, method, limit, options)

    def index(self, mode: str) -> QuantIndex:
        """This collection's ``core.search`` index in ``mode`` (built once, then kept)."""
        if mode not in self._indexes:
            self._indexes[mode] = build_index(self.embeddings, mode)
        return self._indexes[mode]

    # ------------------------------------------------------------------ disk

    def save(self, path: str | os.PathLike) -> Path:
        """Write the collection to directory ``path`` atomically (see :mod:`core.data._versions`).

        ``path`` must be new, an empty directory or a collection (which is replaced); anything
        else raises :class:`CollectionError` before a byte is written (see
        :func:`check_save_target`).
        """
        return save_collection(self, path)

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
        return load_collection(cls, path, mmap=mmap, verify=verify)


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
        return results_frame(self, queries)


def _short(value, limit: int = 120) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
