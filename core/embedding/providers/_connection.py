""" "Test connection": one two-text request to an endpoint, and what came back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

CONNECTION_TEXTS = ("The cat sleeps in the warm sun.", "我明天要坐火车去上海。")


@dataclass(frozen=True)
class ConnectionReport:
    """What one two-text request to an endpoint showed.

    Attributes
    ----------
    endpoint, model : str
    dimension : int
        Length of the vectors returned.
    latency_ms : float
        Wall-clock time of the request.
    cosine : float
        Cosine similarity of the two texts' vectors (unrelated texts: well below 1).
    answer : dict
        The shape of the server's answer: ``model`` it named, ``n_vectors``, whether items had
        an ``index``, the ``usage`` it reported (None when absent), the ``encoding`` of the
        vectors, and the ``x-ratelimit`` limits it stated.
    notes : tuple of str
        What was learnt (float-only server, batch limit, base URL moved to/from ``/v1``).
    """

    endpoint: str
    model: str
    dimension: int
    latency_ms: float
    cosine: float
    answer: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def check_connection(embedder, texts=CONNECTION_TEXTS) -> ConnectionReport:
    """Send ``texts`` (with the document prefix) in one request; report what came back.

    Parameters
    ----------
    embedder : OpenAIEmbedder
        Built as for embedding (its key, base URL, HTTP client and limits).
    texts : sequence of str
        Two short texts by default (English and Chinese).

    Returns
    -------
    ConnectionReport

    Raises
    ------
    core.errors.ProviderError, core.errors.RetryableEmbeddingError
        The server refused or failed the request (the message says why and what to check).
    """
    prefix = embedder.spec.document_prefix
    started = time.perf_counter()
    out = embedder.embed_batch([prefix + t for t in texts])
    latency_ms = (time.perf_counter() - started) * 1000
    vectors = np.asarray(out.vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    cosine = float(vectors[0] @ vectors[1] / (norms[0] * norms[1])) if norms.all() else 0.0
    answer = dict(getattr(embedder, "last_answer", {}) or {})
    limits = getattr(embedder, "last_rate_limits", None)
    if limits is not None:
        answer["rate_limits"] = {
            "requests_per_minute": limits.limit_requests,
            "tokens_per_minute": limits.limit_tokens,
        }
    notes = []
    if getattr(embedder, "encoding_learnt", False):
        notes.append("the server refuses base64: vectors are asked for as float arrays")
    if getattr(embedder, "_moved", False):
        notes.append(f"the API answered at {embedder.base_url} (/v1 added or removed)")
    if getattr(embedder, "dimension_source", "") == "server":
        notes.append(f"dimension {vectors.shape[1]} learnt from the server")
    return ConnectionReport(
        embedder.endpoint, embedder.model, int(vectors.shape[1]), latency_ms, cosine, answer,
        tuple(notes),
    )  # fmt: skip
