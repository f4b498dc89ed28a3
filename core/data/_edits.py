"""Changing a collection: add (with upsert), update and the near-duplicate summaries carried
to the next version; the checks of ids and metadata; embedding only the texts not held yet.

:class:`core.data.Collection` delegates to :func:`add_documents` and :func:`update_documents`;
each returns a new version (``Collection._version``), leaving the old one as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from core.data._versions import ID_COLUMN, TEXT_COLUMN, content_hash
from core.embedding._types import EmbedderSpec
from core.errors import CollectionError, InvalidInputError
from core.search._engine import as_matrix, row_norms
from core.search._metrics import get_metric
from core.search._modes import QuantIndex
from core.search._pairs import PairSummary, extend_strongest_pairs, strongest_pairs

RESERVED_COLUMNS = (TEXT_COLUMN, ID_COLUMN)


def add_documents(
    collection, texts, embedder, embeddings, metadata, ids, replace_existing, cache, embed_options
):
    """:meth:`Collection.add` (documented there): the next version with ``texts`` appended."""
    texts = [str(t) for t in texts]
    ids = new_ids(len(texts)) if ids is None else _check_ids(ids, len(texts))
    metadata = _as_metadata(metadata, len(texts))
    base = collection
    taken = [d for d in ids if d in collection._id_rows()]
    if taken:
        if not replace_existing:
            shown = ", ".join(repr(t) for t in taken[:5]) + (" ..." if len(taken) > 5 else "")
            raise CollectionError(
                f"{len(taken)} id(s) are already in the collection: {shown}. Use update() "
                "to change those documents, or give other ids"
            )
        base = collection.delete(taken)
    vectors = vectors_for(collection, texts, embedder, embeddings, cache, embed_options)
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
    return next_version(
        base,
        base.texts + texts, new_metadata, all_vectors, base.ids + list(ids), norms,
        normalized=base.manifest.normalized and _unit_rows(vectors), source=source,
    )  # fmt: skip


def update_documents(collection, ids, texts, metadata, embedder, embeddings, cache, embed_options):
    """:meth:`Collection.update` (documented there): the next version, those documents changed."""
    rows = collection.rows_of(ids)
    if texts is None and metadata is None:
        raise InvalidInputError("update() needs texts, metadata or both")
    new_texts = list(collection.texts)
    source = np.arange(len(collection.texts))
    vectors = np.array(collection.embeddings, dtype=np.float32, copy=True)
    norms = None if collection._norms is None else collection._norms.copy()
    normalized = collection.manifest.normalized
    if texts is not None:
        texts = [str(t) for t in texts]
        if len(texts) != len(rows):
            raise InvalidInputError(f"{len(texts)} texts for {len(rows)} ids; give one per id")
        changed = [
            i for i, (r, t) in enumerate(zip(rows, texts, strict=True)) if collection.texts[r] != t
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
                else vectors_for(collection, todo, embedder, None, cache, embed_options)
            )
            check_dimension(collection, fresh)
            for j, i in enumerate(changed):
                new_texts[rows[i]] = todo[j]
                vectors[rows[i]] = fresh[j]
                source[rows[i]] = -1
            if norms is not None:
                norms[rows[changed]] = row_norms(fresh)
            normalized = normalized and _unit_rows(fresh)
    new_metadata = collection.metadata.copy()
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
    return next_version(
        collection,
        new_texts,
        new_metadata,
        vectors,
        list(collection.ids),
        norms,
        normalized,
        source,
    )


def vectors_for(collection, texts, embedder, embeddings, cache, embed_options) -> np.ndarray:
    """Vectors for new ``texts``: the ``embeddings`` given, or embedded by its model."""
    m = collection.manifest
    if embeddings is not None:
        if embedder is not None:
            raise InvalidInputError("give an embedder or embeddings, not both")
        vectors = as_matrix(embeddings, "embeddings")
        if vectors.shape[0] != len(texts):
            raise InvalidInputError(
                f"{len(texts)} texts but {vectors.shape[0]} embeddings; they must match"
            )
    elif not texts:
        vectors = np.zeros((0, m.dimension), dtype=np.float32)
    else:
        if embedder is None:
            raise InvalidInputError(
                "new texts need an embedder (the collection's model: "
                f"{m.provider} / {m.model}) or their embeddings"
            )
        theirs = spec_of(embedder)
        if theirs is not None and theirs != collection.spec and m.provider != "unknown":
            raise CollectionError(
                f"the collection was embedded with {describe_spec(collection.spec)}, the "
                f"embedder is {describe_spec(theirs)}: vectors of two models cannot be "
                "searched together. Use the collection's model"
            )
        vectors, _ = embed_new_texts(
            texts, embedder, cache=cache, reuse=collection.text_vectors(), **embed_options
        )
    check_dimension(collection, vectors)
    return vectors


def check_dimension(collection, vectors: np.ndarray) -> None:
    """Refuse new vectors whose dimension is not the collection's."""
    if vectors.shape[1] != collection.manifest.dimension:
        raise CollectionError(
            f"new vectors have dimension {vectors.shape[1]} but the collection has "
            f"{collection.manifest.dimension}; embed them with the collection's model"
        )


def next_version(collection, texts, metadata, vectors, ids, norms, normalized, source):
    """The next version of ``collection``: same model, new content and hash. What was derived
    from it follows without a rebuild where it can: the row norms, every memory-mode index
    built so far (``source[i]`` is the old row of new row ``i``, -1 for a new vector; see
    :meth:`core.search.QuantIndex.updated`) and the near-duplicate summaries."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    manifest = replace(
        collection.manifest,
        count=len(texts),
        content_hash=content_hash(texts, vectors),
        normalized=bool(normalized),
        extra={
            **collection.manifest.extra,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    new = type(collection)(list(texts), metadata.reset_index(drop=True), vectors, manifest, ids)
    new._norms = norms
    for mode, index in collection._indexes.items():
        if isinstance(index, QuantIndex):
            carried = index.updated(source, vectors)
            if carried is not None:
                new._indexes[mode] = carried
    new._pairs = carried_pairs(collection._pairs, source, len(collection.texts))
    return new


def pairs_of(collection, threshold, method, limit, options) -> PairSummary:
    """:meth:`Collection.strongest_pairs`: kept per version and ``(threshold, metric, limit)``;
    after an append, the earlier version's pairs extended by the new rows only."""
    metric = get_metric(method)
    # A metric scored through norms (cosine) reuses the kept ones; euclidean needs exact
    # squared norms (computed there).
    norms = collection._kept_norms() if metric.scorer.uses_norms == "norms" else None
    key = (float(threshold), metric.name, int(limit))
    held = collection._pairs.get(key)
    if isinstance(held, PairSummary):
        return held
    if held is not None:  # an earlier version's pairs, and rows appended since
        found = resolve_pairs(collection.embeddings, held, key, norms, options)
    else:
        found = strongest_pairs(
            collection.embeddings,
            threshold,
            metric,
            limit=limit,
            check_finite=False,
            norms=norms,
            **options,
        )
    collection._pairs[key] = found
    return found


def resolve_pairs(embeddings: np.ndarray, held: tuple, key: tuple, norms, options) -> PairSummary:
    """A pending near-duplicate extension ``("extend", parent, n_old)`` made a summary: the
    parent's pairs (resolved first when it is pending too) extended by the rows appended."""
    _, parent, n_old = held
    threshold, method, limit = key
    if not isinstance(parent, PairSummary):
        parent_norms = None if norms is None else norms[:n_old]
        parent = resolve_pairs(embeddings[:n_old], parent, key, parent_norms, options)
    return extend_strongest_pairs(
        parent, embeddings, n_old, threshold, method, limit=limit, norms=norms, **options
    )


def carried_pairs(held: dict, source: np.ndarray, n_old: int) -> dict:
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
