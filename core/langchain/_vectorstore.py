"""A LangChain ``VectorStore`` over a :class:`~core.data.Collection`.

``WorkbenchVectorStore(embedding=E)`` is an empty store in memory, as
``InMemoryVectorStore(embedding=E)`` is; ``WorkbenchVectorStore(embedding=E, path=DIR)`` is
the collection saved at ``DIR`` (created on the first add), and every change is written there as
a new atomic version. ``E`` is any LangChain ``Embeddings``; with one of this project's
embedders (:func:`core.embedding.providers.get_embedder`) texts go through the batch engine and
its cache, and the collection records the model, so the CLI and the dashboard can open it.

Search is exact (or in a memory mode), filters run before top-k, MMR is
:func:`core.search.mmr`. Scores are the collection's: cosine similarity by default (higher is
better); relevance scores map them to [0, 1].

Metadata lives in the collection's table: a key a document does not have is a missing cell,
and a missing cell is not returned (so a ``None`` value is not kept). Keys ``text`` and
``_workbench_id`` are the collection's own and cannot be metadata keys.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from core.data._collection import (
    Collection,
    describe_spec,
    embed_new_texts,
    new_ids,
    spec_of,
)
from core.errors import CollectionError, InvalidInputError
from core.search import get_metric
from core.search._engine import Metric

__all__ = ["WorkbenchVectorStore"]


class WorkbenchVectorStore(VectorStore):
    """A LangChain vector store kept as an Embedding Workbench collection.

    Parameters
    ----------
    embedding : langchain_core.embeddings.Embeddings
        Embeds added texts and queries.
    path : path-like, optional
        A collection directory: loaded when it holds one, created on the first add otherwise;
        each change is saved there as a new version.
    collection : Collection, optional
        Start from this collection (in memory; with ``path``, the first change saves it there).
    method : {"cosine", "dot", "euclidean"}
        The similarity used by every search.
    mode : {"float32", "float16", "int8", "binary"}
        Memory mode of the search (``"float32"`` is exact).
    cache : "default", EmbeddingCache or None, optional
        Embedding cache for this project's embedders; default: the embedder's own setting.
    """

    def __init__(
        self,
        embedding: Embeddings,
        *,
        path: str | os.PathLike | None = None,
        collection: Collection | None = None,
        method: str = "cosine",
        mode: str = "float32",
        cache: Any = "embedder",
    ) -> None:
        self.embedding = embedding
        self.method = str(Metric.parse(method))
        self.mode = mode
        self.path = None if path is None else Path(path)
        self._cache = getattr(embedding, "cache", None) if cache == "embedder" else cache
        self._lock = threading.RLock()
        self._collection = None
        if collection is None and self.path is not None and (self.path / "CURRENT").exists():
            collection = Collection.load(self.path)
        if collection is not None:
            self._check_model(collection)
        self._collection = collection if collection is not None and len(collection) else None
        self._dimension = None if collection is None else collection.manifest.dimension
        self._spec = None if collection is None else collection.spec

    # ------------------------------------------------------------------ properties

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    @property
    def collection(self) -> Collection | None:
        """The current collection (None while the store is empty)."""
        return self._collection

    def __len__(self) -> int:
        return 0 if self._collection is None else len(self._collection)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        return f"WorkbenchVectorStore({len(self):,} documents, {self.method}{where})"

    def _check_model(self, collection: Collection) -> None:
        theirs = spec_of(self.embedding)
        ours = collection.spec
        known = theirs.provider != "langchain" and ours.provider not in ("langchain", "unknown")
        if known and theirs != ours:
            raise CollectionError(
                f"the collection was embedded with {describe_spec(ours)} but the embedding "
                f"is {describe_spec(theirs)}; open it with the same model"
            )

    # ------------------------------------------------------------------ writes

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and add ``texts``; an id already in the store replaces that document.

        Returns the ids, in order (generated where ``ids`` is missing or holds None).
        """
        texts = [str(t) for t in texts]
        if metadatas is not None and len(metadatas) != len(texts):
            raise InvalidInputError(f"{len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise InvalidInputError(f"{len(ids)} ids for {len(texts)} texts")
        generated = iter(new_ids(len(texts)))
        ids = [str(i) if i is not None else next(generated) for i in (ids or [None] * len(texts))]
        records = [dict(m or {}) for m in (metadatas or [{}] * len(texts))]
        # The same id twice in one call: the last one wins, as two calls would do.
        last = {doc_id: position for position, doc_id in enumerate(ids)}
        keep = sorted(last.values())
        if not texts:
            return []
        with self._lock:
            current = self._collection
            reuse = None
            if current is not None:
                reuse = ({t: i for i, t in enumerate(current.texts)}, current.embeddings)
            vectors, _ = embed_new_texts(
                [texts[i] for i in keep], self.embedding, cache=self._cache, reuse=reuse
            )
            if self._dimension is not None and vectors.shape[1] != self._dimension:
                raise CollectionError(
                    f"the embedding gives {vectors.shape[1]}-d vectors but the store holds "
                    f"{self._dimension}-d ones; use the model the store was made with"
                )
            new_texts = [texts[i] for i in keep]
            new_meta = [records[i] for i in keep]
            new_doc_ids = [ids[i] for i in keep]
            if current is None:
                spec = self._spec or spec_of(self.embedding)
                updated = Collection.create(
                    new_texts, vectors, spec, _metadata_frame(new_meta), ids=new_doc_ids
                )
            else:
                updated = current.add(
                    new_texts,
                    embeddings=vectors,
                    metadata=_metadata_frame(new_meta),
                    ids=new_doc_ids,
                    replace_existing=True,
                )
            self._commit(updated)
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete the documents ``ids`` (unknown ids are ignored); ``None`` deletes all."""
        with self._lock:
            current = self._collection
            if current is None:
                return True
            if ids is None:
                updated = current.take(np.zeros(0, dtype=np.int64))
            else:
                updated = current.delete([str(i) for i in ids], missing="ignore")
            if updated is not current:
                self._commit(updated)
        return True

    def _commit(self, collection: Collection) -> None:
        """Make ``collection`` current; with a path, save it first (an atomic new version)."""
        if self.path is not None:
            collection.save(self.path)
        self._dimension = collection.manifest.dimension
        self._spec = collection.spec
        self._collection = collection if len(collection) else None

    # ------------------------------------------------------------------ reads

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids, in the order given; unknown ids are skipped."""
        current = self._collection
        if current is None:
            return []
        rows = current.rows_of([str(i) for i in ids], missing="ignore")
        return [_document(current, int(r)) for r in rows]

    def similarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to ``query`` (``filter`` applied first)."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, score)`` pairs, best first; the score is the store's similarity."""
        if self._collection is None:
            return []
        vector = self.embedding.embed_query(query)
        return self.similarity_search_with_score_by_vector(vector, k, filter, **kwargs)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to the vector ``embedding``."""
        pairs = self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)
        return [doc for doc, _ in pairs]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, score)`` pairs for a query vector, best first."""
        current = self._collection
        if current is None:
            return []
        where = _where(current, filter)
        ids, scores = current.search(
            np.asarray(embedding, dtype=np.float32), int(k), self.method, mode=self.mode,
            where=where,
        )  # fmt: skip
        return [
            (_document(current, int(i)), float(s)) for i, s in zip(ids[0], scores[0], strict=True)
        ]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Scores to [0, 1]: cosine ``(1 + s) / 2``; euclidean ``1 / (1 + distance)``; dot a
        logistic squash (dot products of unnormalised vectors have no fixed range)."""
        metric = get_metric(self.method)
        if metric is get_metric("cosine"):
            return lambda s: max(0.0, min(1.0, (1.0 + s) / 2.0))
        if metric.is_distance:
            return lambda s: 1.0 / (1.0 - s)  # the score is -distance
        return lambda s: 1.0 / (1.0 + math.exp(-s))

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents chosen by maximal marginal relevance among the top ``fetch_k``."""
        if self._collection is None:
            return []
        vector = self.embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(
            vector, k, fetch_k, lambda_mult, filter, **kwargs
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR for a query vector (see :func:`core.search.mmr`)."""
        current = self._collection
        if current is None:
            return []
        ids, _ = current.search(
            np.asarray(embedding, dtype=np.float32), int(k), self.method, mode=self.mode,
            where=_where(current, filter), mmr=lambda_mult, fetch_k=max(int(fetch_k), int(k)),
        )  # fmt: skip
        return [_document(current, int(i)) for i in ids[0]]

    # ------------------------------------------------------------------ construction, disk

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        path: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> WorkbenchVectorStore:
        """A new store holding ``texts`` (saved at ``path`` when given)."""
        store = cls(embedding=embedding, path=path, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def save(self, path: str | os.PathLike) -> Path:
        """Save the store as a collection at ``path`` (atomic); later changes also go there."""
        with self._lock:
            current = self._collection
            if current is None:
                if self._dimension is None:
                    raise CollectionError(
                        "the store is empty and has never embedded anything, so its dimension "
                        "is unknown; add documents before saving"
                    )
                current = Collection.create(
                    [], np.zeros((0, self._dimension)), self._spec, dimension=self._dimension
                )
            root = current.save(path)
            self.path = root
        return root

    @classmethod
    def load(
        cls, path: str | os.PathLike, embedding: Embeddings, **kwargs: Any
    ) -> WorkbenchVectorStore:
        """The store saved at ``path``."""
        if not (Path(path) / "CURRENT").exists():
            raise CollectionError(f"no collection at {path}; save a store there first")
        return cls(embedding=embedding, path=path, **kwargs)


def _metadata_frame(records: list[dict]):
    import pandas as pd

    for record in records:
        for key in record:
            if key in ("text", "_workbench_id"):
                raise InvalidInputError(
                    f"metadata key {key!r} is reserved by the collection; rename it"
                )
    return pd.DataFrame.from_records(records, index=range(len(records)))


def _plain(value):
    """A metadata cell as a plain Python value (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _missing(value) -> bool:
    """An empty cell: None, NaN, pandas' NA or NaT (a key the document does not have)."""
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def _document(collection: Collection, row: int) -> Document:
    record = collection.metadata.iloc[row].to_dict() if len(collection.metadata.columns) else {}
    metadata = {k: _plain(v) for k, v in record.items() if not _missing(v)}
    return Document(id=collection.ids[row], page_content=collection.texts[row], metadata=metadata)


def _where(collection: Collection, filter: Any):
    """A LangChain filter as a collection filter: dicts and strings as they are; a callable
    gets each :class:`Document` (as ``InMemoryVectorStore`` does) and becomes a row mask."""
    if filter is None or isinstance(filter, dict | str):
        return filter
    if callable(filter):
        return np.fromiter(
            (bool(filter(_document(collection, r))) for r in range(len(collection))),
            dtype=bool,
            count=len(collection),
        )
    raise InvalidInputError(
        f"filter must be a dict, a string or a callable taking a Document, got "
        f"{type(filter).__name__}"
    )
