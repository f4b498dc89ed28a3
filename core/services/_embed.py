"""The embedding workflow the dashboard and the CLI share: what a job will send and cost, the job
itself (progress, stop through the callback, resume through the cache), and its summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data import Collection
from core.data._collection import embed_new_texts
from core.embedding import CostEstimate, EmbeddingResult, Progress, embed_texts, estimate_cost
from core.embedding import language_warning as _language_warning
from core.search import row_norms


@dataclass(frozen=True)
class EmbedPlan:
    """What a job will do before anything is sent.

    Attributes
    ----------
    n_documents : int
        Texts in the job (blanks included; they are never sent).
    n_files : int or None
        Source files, when known.
    provider, model : str
    remote : bool
        Whether texts leave the machine (and may cost money).
    estimate : CostEstimate
        Tokens and dollars for the texts not cached yet.
    language_warning : str or None
        Set when the model cannot read much of the corpus (e.g. Chinese for an English model).
    """

    n_documents: int
    n_files: int | None
    provider: str
    model: str
    remote: bool
    estimate: CostEstimate
    language_warning: str | None

    def describe(self) -> str:
        """One line: documents, model, texts still to send, cost."""
        if self.remote:
            rough = " (upper bound)" if self.estimate.pricing == "paid" else " (estimate)"
            bound = "" if self.estimate.exact else rough
            price = self.estimate.price_text  # "$…", "price unknown (…)" or "local, free"
            about = "about " if price.startswith("$") else ""
            cost = f"{self.estimate.tokens:,} tokens{bound}, {about}{price}"
        else:
            cost = "local model, no cost"
        files = "" if self.n_files is None else f" from {self.n_files} file(s)"
        return (
            f"{self.n_documents:,} documents{files} for {self.provider} / {self.model}; "
            f"not cached: {self.estimate.n_texts:,} distinct texts; {cost}"
        )


@dataclass(frozen=True)
class EmbedSummary:
    """What a finished job produced: counts, shape, time, throughput, norms, tokens."""

    count: int
    shape: tuple[int, ...]
    dtype: str
    memory_mb: float
    seconds: float
    texts_per_s: float
    norm_min: float
    norm_max: float
    normalized: bool
    zero_rows: int
    tokens: int
    requests: int
    cached: int
    provider: str
    model: str


@dataclass(frozen=True)
class EmbedOutcome:
    """A finished job: the new collection, the engine's result and the summary."""

    collection: Collection
    result: EmbeddingResult
    summary: EmbedSummary


def plan_embedding(
    texts: Sequence[str],
    embedder,
    *,
    cache="default",
    n_files: int | None = None,
    batch_api: bool = False,
) -> EmbedPlan:
    """What embedding ``texts`` with ``embedder`` will send and cost (nothing is sent)."""
    spec = embedder.spec
    return EmbedPlan(
        n_documents=len(texts),
        n_files=n_files,
        provider=spec.provider,
        model=spec.model,
        remote=bool(embedder.limits.remote),
        estimate=estimate_cost(list(texts), embedder, cache=cache, batch_api=batch_api),
        language_warning=_language_warning(list(texts), embedder),
    )


def summarise(result: EmbeddingResult, collection: Collection) -> EmbedSummary:
    """The summary of a finished job (plain numbers)."""
    vectors = collection.embeddings
    norms = row_norms(vectors)
    nonzero = norms[norms > 0]
    return EmbedSummary(
        count=int(vectors.shape[0]),
        shape=tuple(int(s) for s in vectors.shape),
        dtype=str(vectors.dtype),
        memory_mb=vectors.nbytes / 2**20,
        seconds=float(result.elapsed_s),
        texts_per_s=float(result.texts_per_s),
        norm_min=float(nonzero.min()) if nonzero.size else 0.0,
        norm_max=float(nonzero.max()) if nonzero.size else 0.0,
        normalized=bool(collection.manifest.normalized),
        zero_rows=int(np.count_nonzero(norms == 0)),
        tokens=int(result.tokens_used),
        requests=int(result.n_requests),
        cached=int(result.n_cached),
        provider=collection.manifest.provider,
        model=collection.manifest.model,
    )


def embed_collection(
    texts: Sequence[str],
    metadata: pd.DataFrame | None,
    embedder,
    *,
    cache="default",
    batch_size: int | None = None,
    concurrency: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    add_to: Collection | None = None,
) -> EmbedOutcome:
    """Embed ``texts`` in batches and make them a collection (with ``metadata`` per text), or
    with ``add_to`` a new version of that collection holding them too: only texts it does not
    hold already are embedded.

    Every finished request lands in ``cache`` first, so an interrupted job (an exception from
    ``progress`` — the dashboard's Stop —, Ctrl-C, a provider error) loses nothing: the same
    call resumes and sends only what is missing.

    Raises
    ------
    core.errors.EmbeddingJobError
        The provider failed; the message says what is already cached.
    """
    texts = list(texts)
    options = {"batch_size": batch_size, "concurrency": concurrency, "progress": progress}
    if add_to is None:
        result = embed_texts(texts, embedder, cache=cache, **options)
        collection = Collection.create(texts, result.vectors, embedder.spec, metadata)
    else:
        vectors, result = embed_new_texts(
            texts, embedder, cache=cache, reuse=add_to.text_vectors(), **options
        )
        collection = add_to.add(texts, embeddings=vectors, metadata=metadata)
    return EmbedOutcome(collection, result, summarise(result, collection))
