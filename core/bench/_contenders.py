"""The search implementations compared: the tutorial's approach, this engine, FAISS exact search.

Each contender has an untimed ``prepare(x)`` (what a real application does once: FAISS copies the
vectors into its index, the engine's collection path validates the corpus and keeps its norms) and
a timed ``run(state, queries, k, method)``. ``extra_bytes`` estimates the memory a contender needs
beyond the corpus matrix so the grid can skip cells that would not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.search._engine import row_norms, search
from core.search._metrics import get_metric


@dataclass(frozen=True)
class Contender:
    name: str
    prepare: Callable[[np.ndarray, str], object]
    run: Callable[[object, np.ndarray, int, str], object]
    extra_bytes: Callable[[int, int, int, str], int]
    per_query_loop: bool = False  # time grows linearly with the number of queries


# ------------------------------------------------------------------ the tutorial's approach


def tutorial_one_query(documents: np.ndarray, query: np.ndarray, k: int, method: str):
    """As the tutorial writes it: score every document, full ``argsort``, broadcast euclidean."""
    scores = _TUTORIAL_VECTORISED[method](documents, query)
    if get_metric(method).is_distance:
        return np.argsort(scores)[:k]
    return np.argsort(scores)[::-1][:k]


# The tutorial's own formulas, per metric (it knows these three).
_TUTORIAL_VECTORISED = {
    "cosine": lambda docs, q: np.dot(docs, q) / (np.linalg.norm(docs, axis=1) * np.linalg.norm(q)),
    "dot": lambda docs, q: np.dot(docs, q),
    "euclidean": lambda docs, q: np.linalg.norm(docs - q, axis=1),
}
_TUTORIAL_LOOP = {
    "cosine": lambda doc, q, q_norm: np.dot(doc, q) / (np.linalg.norm(doc) * q_norm),
    "dot": lambda doc, q, q_norm: np.dot(doc, q),
    "euclidean": lambda doc, q, q_norm: -np.linalg.norm(doc - q),
}


def tutorial_loop_one_query(documents: np.ndarray, query: np.ndarray, k: int, method: str):
    """The tutorial's Python loop: one ``np.dot`` (or norm) per document."""
    scores = []
    query_norm = np.linalg.norm(query)
    score = _TUTORIAL_LOOP[method]
    for doc in documents:
        scores.append(score(doc, query, query_norm))
    return np.argsort(scores)[::-1][:k]


def pure_python_cosine_one_query(rows: list[list[float]], query: list[float], k: int):
    """Cosine with Python lists and arithmetic only: the loop a vectorised version replaces."""
    q_norm = sum(v * v for v in query) ** 0.5
    scores = []
    for doc in rows:
        dot = sum(a * b for a, b in zip(doc, query, strict=True))
        norm = sum(a * a for a in doc) ** 0.5
        scores.append(dot / (norm * q_norm) if norm and q_norm else 0.0)
    return sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:k]


def _per_query(fn):
    def run(x, queries, k, method):
        return [fn(x, q, k, method) for q in queries]

    return run


def _tutorial_extra(n, d, m, method):
    full = n * d * 4
    # Temporaries: a difference matrix and its square (distance), a norms pass (cosine).
    extra = (
        2 * full
        if get_metric(method).is_distance
        else full * (get_metric(method).scorer.uses_norms == "norms")
    )
    return extra + 16 * n


# ------------------------------------------------------------------ this engine


def _engine_prepare(x, method):
    return x, row_norms(x)


def _engine_run(state, queries, k, method):
    x, norms = state
    return search(x, queries, k, method, check_finite=False, corpus_norms=norms)


def _engine_one_shot(x, queries, k, method):
    return search(x, queries, k, method)


# ------------------------------------------------------------------ FAISS


def _faiss_prepare(x, method):
    import faiss

    index = faiss.IndexFlatL2(x.shape[1]) if _faiss_l2(method) else faiss.IndexFlatIP(x.shape[1])
    # The benchmark rows are unit vectors, so cosine is inner product on the stored rows.
    index.add(x)
    return index


def _faiss_run(index, queries, k, method):
    import faiss

    if get_metric(method).scorer.uses_norms == "norms":  # cosine: inner product of unit rows
        queries = queries.copy()
        faiss.normalize_L2(queries)
    scores, ids = index.search(queries, k)
    if _faiss_l2(method):
        scores = -np.sqrt(np.maximum(scores, 0))
    return ids, scores


def _faiss_l2(method: str) -> bool:
    """FAISS scores a distance metric with its L2 index (squared distances)."""
    return get_metric(method).is_distance


def faiss_index_key(method: str) -> str:
    """FAISS needs one index per metric family; cosine and dot share the inner-product one."""
    return "l2" if _faiss_l2(method) else "ip"


# ------------------------------------------------------------------ bare NumPy


def _numpy_prepare(x, method):
    """The vectors and, for the metrics that need them, norms (kept like a collection's)."""
    return x, (row_norms(x) if get_metric(method).scorer.uses_norms else None)


def _numpy_run(state, queries, k, method):
    """``Q @ D.T`` (one BLAS call, its own threads) + ``argpartition`` + a sort of the k:
    the bare floor a top-k search is measured against (no validation, no ties by index).
    Cosine divides by the kept norms; euclidean ranks by ``2 q.x - |x|^2``."""
    x, norms = state
    scores = queries @ x.T
    spec = get_metric(method)
    if spec.scorer.uses_norms == "norms":
        scores /= norms
    elif spec.scorer.uses_norms == "squared":
        scores *= 2
        scores -= norms * norms
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(scores, part, 1)
    return np.take_along_axis(part, np.argsort(-top, axis=1), 1)


CONTENDERS = {
    "engine": Contender("engine", _engine_prepare, _engine_run, lambda n, d, m, meth: 0),
    "numpy": Contender("numpy", _numpy_prepare, _numpy_run, lambda n, d, m, meth: 8 * n * m),
    "engine one-shot": Contender(
        "engine one-shot", lambda x, meth: x, _engine_one_shot, lambda n, d, m, meth: 4 * n
    ),
    "faiss": Contender(
        "faiss", _faiss_prepare, _faiss_run, lambda n, d, m, meth: n * d * 4 + 8 * n
    ),
    "tutorial": Contender(
        "tutorial",
        lambda x, meth: x,
        _per_query(tutorial_one_query),
        _tutorial_extra,
        per_query_loop=True,
    ),
    "tutorial loop": Contender(
        "tutorial loop",
        lambda x, meth: x,
        _per_query(tutorial_loop_one_query),
        lambda n, d, m, meth: 40 * n,
        per_query_loop=True,
    ),
}
