"""The benchmark page's computations: small, configurable, live measurements.

Each function times real work with :func:`core.bench._timing.measure` and returns a tidy
``pandas.DataFrame`` (one row per variant or per variant x size) that the page charts and offers
for download. Sizes come from the caller; the page bounds them so a run takes seconds. Larger,
slower sweeps belong in ``benchmarks/`` and write numbers to files.

What is compared, and why it matters for the tutorial:

* **vectorised vs loop** — one matrix-vector product against a Python loop calling ``np.dot``
  per document (and a pure-Python loop on a capped subset): interpreter overhead per document.
* **float64 vs float32** — the same search in both precisions: half the memory, faster GEMM.
* **argsort vs argpartition** — full sort of every score against partition-then-sort-k.
* **scaling** — the above against corpus size, to show the slopes.
* **memory modes** — float32 / float16 / int8 / binary indexes (``core.search``): bytes per
  vector, search time and recall@k against exact float32.

How a number is measured (:func:`core.bench._timing.timed`): BLAS is held to one thread, so a matrix
product and a Python loop compete on equal terms, and a multithreaded BLAS cannot stall
spinning for a core that another process (the Streamlit server, the browser) holds on a small
machine; garbage is collected first, the call is warmed up, then timed until the samples add up
to a small budget. Tables report the median with its spread (minimum and quartiles) and
the sample count, and :func:`core.bench._live_checks.suspect_results` names any result that
contradicts the expected order by a wide margin — the sign of a busy machine, to be re-run
rather than believed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd

from core.bench._env import faiss_available
from core.bench._timing import DEFAULT_MIN_SAMPLES, TIME_BUDGET_S, timed, timing_columns
from core.errors import InvalidInputError
from core.search._engine import as_matrix, normalize, row_norms, search
from core.search._metrics import metric_names

ProgressFn = Callable[[float, str], None]


VECTORISED = "vectorised (corpus @ query)"
NUMPY_LOOP = "Python loop of np.dot"
PURE_PYTHON = "pure-Python loop"
ARGSORT = "argsort (full sort)"
ARGPARTITION = "argpartition + sort k"
ENGINE = "engine float32, prepared (cosine)"
ENGINE_ONE_SHOT = "engine float32, one-shot (cosine)"
FAISS_FLAT = "FAISS IndexFlatIP float32"
MATMUL_PARTITION = "matmul + argpartition float32"
MATMUL_ARGSORT32 = "matmul + argsort float32"
MATMUL_ARGSORT64 = "matmul + argsort float64"

MEMORY_MODES = ("float32", "float16", "int8", "binary")
# What each line of the scaling chart measures (the page shows these words under the chart).
SCALING_LINES = {
    ENGINE: "core.search as a collection calls it: vectors checked and row norms computed once "
    "when the collection was made, so a search is one pass (GEMM + running top-k) split "
    "across the engine's worker threads.",
    ENGINE_ONE_SHOT: "search(corpus, query) on raw arrays: the same pass, also checking every "
    "value and computing the norms block by block on the way.",
    FAISS_FLAT: "FAISS's exact inner-product index (unit rows: cosine), with its own threads "
    "(shown when faiss-cpu is installed).",
    MATMUL_PARTITION: "the bare floor: corpus @ query on one BLAS thread, then argpartition "
    "and a sort of the k; no validation, no ties by index.",
    MATMUL_ARGSORT32: "the tutorial's way: corpus @ query, then a full argsort.",
    MATMUL_ARGSORT64: "the same in float64: twice the bytes to read.",
    NUMPY_LOOP: "a Python loop calling np.dot per document (only up to 20,000 documents).",
}
# Pure-Python inner products are ~1,000x slower than BLAS; time them on at most this many docs.
PURE_PYTHON_MAX_DOCS = 2_000


def synthetic_corpus(
    n_docs: int, dim: int, *, n_queries: int = 1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random unit vectors with some cluster structure, so top-k is not arbitrary.

    Parameters
    ----------
    n_docs, dim : int
        Corpus shape, both at least 1.
    n_queries : int
        Query rows, at least 1.
    seed : int

    Returns
    -------
    corpus : numpy.ndarray, float32 of shape (n_docs, dim), unit rows
    queries : numpy.ndarray, float32 of shape (n_queries, dim), unit rows
    """
    for name, value in (("n_docs", n_docs), ("dim", dim), ("n_queries", n_queries)):
        if value < 1:
            raise InvalidInputError(f"{name} must be at least 1, got {value}")
    rng = np.random.default_rng(seed)
    n_clusters = max(1, min(32, n_docs // 50))
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    labels = rng.integers(0, n_clusters, size=n_docs)
    corpus = centres[labels] + rng.standard_normal((n_docs, dim), dtype=np.float32)
    query_labels = rng.integers(0, n_clusters, size=n_queries)
    queries = centres[query_labels] + rng.standard_normal((n_queries, dim), dtype=np.float32)
    return normalize(corpus), normalize(queries)


def _cosine_scores_vectorised(corpus: np.ndarray, query: np.ndarray) -> np.ndarray:
    return corpus @ query


def _cosine_scores_numpy_loop(corpus: np.ndarray, query: np.ndarray) -> list[float]:
    return [float(np.dot(row, query)) for row in corpus]


def _cosine_scores_pure_python(rows: list[list[float]], query: list[float]) -> list[float]:
    return [sum(a * b for a, b in zip(row, query, strict=True)) for row in rows]


def _top_k_by_argsort(corpus: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(corpus @ query))[:k]


def _top_k_by_partition(corpus: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    scores = corpus @ query
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def vectorised_vs_loop(
    n_docs: int,
    dim: int,
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
    seed: int = 0,
) -> pd.DataFrame:
    """Score one query against ``n_docs`` unit vectors three ways.

    ``min_samples`` and ``budget_s`` (here and in the other benchmarks) are passed to
    :func:`timed`.

    Returns
    -------
    pandas.DataFrame
        Columns ``variant``, ``n_docs`` (documents actually scored: the pure-Python loop runs on
        at most :data:`PURE_PYTHON_MAX_DOCS`), the :func:`timing_columns`, ``us_per_doc``
        (median) and ``slowdown_vs_vectorised`` (per document).
    """
    corpus, queries = synthetic_corpus(n_docs, dim, seed=seed)
    query = queries[0]
    small = min(n_docs, PURE_PYTHON_MAX_DOCS)
    rows_py = corpus[:small].tolist()
    query_py = query.tolist()
    variants = [
        (VECTORISED, n_docs, partial(_cosine_scores_vectorised, corpus, query)),
        (NUMPY_LOOP, n_docs, partial(_cosine_scores_numpy_loop, corpus, query)),
        (PURE_PYTHON, small, partial(_cosine_scores_pure_python, rows_py, query_py)),
    ]
    records = []
    for name, scored, fn in variants:
        timing = timed(fn, min_samples=min_samples, budget_s=budget_s)
        records.append(
            {
                "variant": name,
                "n_docs": scored,
                **timing_columns(timing),
                "us_per_doc": timing.median_s * 1e6 / scored,
            }
        )
    table = pd.DataFrame.from_records(records)
    table["slowdown_vs_vectorised"] = table["us_per_doc"] / table["us_per_doc"].iloc[0]
    return table


def float64_vs_float32(
    n_docs: int,
    dim: int,
    *,
    k: int = 10,
    n_queries: int = 16,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
    seed: int = 0,
) -> pd.DataFrame:
    """Top-k search of ``n_queries`` queries in float64 and in float32.

    Returns
    -------
    pandas.DataFrame
        Columns ``dtype``, ``n_docs``, the :func:`timing_columns`, ``memory_mb`` (the corpus
        matrix), ``top_k_agreement`` (share of float32 top-k ids equal to the float64 ones).
    """
    corpus32, queries32 = synthetic_corpus(n_docs, dim, n_queries=n_queries, seed=seed)
    corpus64, queries64 = corpus32.astype(np.float64), queries32.astype(np.float64)
    k = min(k, n_docs)

    def top_k(corpus: np.ndarray, queries: np.ndarray) -> np.ndarray:
        scores = queries @ corpus.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
        return np.take_along_axis(part, order, 1)

    ids64 = top_k(corpus64, queries64)
    ids32 = top_k(corpus32, queries32)
    agreement = float(
        np.mean([len(set(a) & set(b)) / k for a, b in zip(ids64, ids32, strict=True)])
    )
    records = []
    for dtype, corpus, queries in (
        ("float64", corpus64, queries64),
        ("float32", corpus32, queries32),
    ):
        timing = timed(partial(top_k, corpus, queries), min_samples=min_samples, budget_s=budget_s)
        records.append(
            {
                "dtype": dtype,
                "n_docs": n_docs,
                **timing_columns(timing),
                "memory_mb": corpus.nbytes / 2**20,
                "top_k_agreement": 1.0 if dtype == "float64" else agreement,
            }
        )
    return pd.DataFrame.from_records(records)


def argsort_vs_argpartition(
    n_docs: int,
    *,
    k: int = 10,
    n_queries: int = 16,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
    seed: int = 0,
) -> pd.DataFrame:
    """Select the top ``k`` of ``n_queries`` score rows of length ``n_docs``.

    Returns
    -------
    pandas.DataFrame
        Columns ``variant``, ``n_docs``, the :func:`timing_columns`, ``same_result`` (both
        return the same ids in the same order; scores are distinct random floats, so ties do not
        arise).
    """
    rng = np.random.default_rng(seed)
    scores = rng.random((n_queries, n_docs), dtype=np.float32)
    k = min(k, n_docs)

    def full_sort() -> np.ndarray:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]

    def partition() -> np.ndarray:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
        return np.take_along_axis(part, order, 1)

    same = bool(np.array_equal(full_sort(), partition()))
    records = []
    for name, fn in ((ARGSORT, full_sort), (ARGPARTITION, partition)):
        timing = timed(fn, min_samples=min_samples, budget_s=budget_s)
        records.append(
            {"variant": name, "n_docs": n_docs, **timing_columns(timing), "same_result": same}
        )
    return pd.DataFrame.from_records(records)


def scaling(
    sizes: Sequence[int],
    dim: int,
    *,
    k: int = 10,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
    loop_max_docs: int = 20_000,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> pd.DataFrame:
    """Search time against corpus size for several implementations.

    Parameters
    ----------
    sizes : sequence of int
        Corpus sizes, each at least 1.
    dim, k, min_samples, seed : int
    budget_s : float
    loop_max_docs : int
        The ``np.dot`` loop is only timed up to this size (it is linear and slow).
    progress : callable(fraction, message), optional
        Called after each size; an exception raised from it stops the sweep.

    Returns
    -------
    pandas.DataFrame
        Columns ``variant``, ``n_docs`` and the :func:`timing_columns`.
    """
    sizes = sorted({int(s) for s in sizes})
    if not sizes or sizes[0] < 1:
        raise InvalidInputError(f"sizes must be positive integers, got {list(sizes)}")
    records = []
    for step, n in enumerate(sizes, start=1):
        corpus32, queries32 = synthetic_corpus(n, dim, seed=seed)
        corpus64, query64 = corpus32.astype(np.float64), queries32.astype(np.float64)
        kk = min(k, n)
        query32, query64 = queries32[0], query64[0]
        norms = row_norms(corpus32)  # a collection keeps them: not part of its search
        prepared = partial(search, corpus32, queries32, kk, check_finite=False, corpus_norms=norms)
        variants: list[tuple[str, Callable[[], object]]] = [
            (ENGINE, prepared),
            (ENGINE_ONE_SHOT, partial(search, corpus32, queries32, kk)),
            (MATMUL_PARTITION, partial(_top_k_by_partition, corpus32, query32, kk)),
            (MATMUL_ARGSORT32, partial(_top_k_by_argsort, corpus32, query32, kk)),
            (MATMUL_ARGSORT64, partial(_top_k_by_argsort, corpus64, query64, kk)),
        ]
        if faiss_available():
            variants.append((FAISS_FLAT, partial(_faiss_flat(corpus32).search, queries32, kk)))
        if n <= loop_max_docs:
            variants.append((NUMPY_LOOP, partial(_cosine_scores_numpy_loop, corpus32, query32)))
        for name, fn in variants:
            timing = timed(fn, min_samples=min_samples, budget_s=budget_s)
            records.append({"variant": name, "n_docs": n, **timing_columns(timing)})
        if progress is not None:
            progress(step / len(sizes), f"{n:,} documents done")
    return pd.DataFrame.from_records(records)


def _faiss_flat(corpus: np.ndarray):
    """FAISS's exact inner-product index over (unit) rows, built outside the timing."""
    import faiss

    index = faiss.IndexFlatIP(corpus.shape[1])
    index.add(corpus)
    return index


def memory_modes(
    corpus: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 10,
    method: str = "cosine",
    modes: Sequence[str] = MEMORY_MODES,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
) -> pd.DataFrame:
    """Build each memory mode's index over ``corpus`` and compare it with exact float32 search.

    Parameters
    ----------
    corpus : array_like of shape (n_docs, dim)
    queries : array_like of shape (n_queries, dim)
    k : int
        Results per query; recall is recall@k against exact float32 ``engine.search``.
    method : {"cosine", "dot", "euclidean"}
    modes : sequence of str
        Any of :data:`MEMORY_MODES`.
    min_samples, budget_s
        Passed to :func:`timed`.

    Returns
    -------
    pandas.DataFrame
        Columns ``mode``, ``bytes_per_vector``, ``memory_mb``, the :func:`timing_columns`
        (search of all queries), ``recall_at_k``.
    """
    from core.search._modes import build_index, recall_at_k

    corpus = as_matrix(corpus, "corpus")
    queries = as_matrix(queries, "queries")
    exact_ids, _ = search(corpus, queries, k, method)
    records = []
    for mode in modes:
        start = time.perf_counter()
        index = build_index(corpus, mode)
        ids, _ = index.search(queries, k, method)  # builds an HNSW graph on first use
        build_s = time.perf_counter() - start
        timing = timed(
            partial(index.search, queries, k, method), min_samples=min_samples, budget_s=budget_s
        )
        records.append(
            {
                "mode": mode,
                "bytes_per_vector": float(index.bytes_per_vector),
                "memory_mb": index.nbytes / 2**20,
                **timing_columns(timing),
                "recall_at_k": float(recall_at_k(ids, exact_ids)),
                "build_s": build_s,
            }
        )
    return pd.DataFrame.from_records(records)


def collection_search_times(
    corpus: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 10,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
) -> pd.DataFrame:
    """Exact search time of ``queries`` against a real collection, per method.

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``n_docs``, ``n_queries``, the :func:`timing_columns`,
        ``ms_per_query`` (median).
    """
    corpus = as_matrix(corpus, "corpus")
    queries = as_matrix(queries, "queries")
    norms = row_norms(corpus)  # as a collection keeps them
    records = []
    for method in metric_names():
        search_collection = partial(
            search, corpus, queries, k, method, check_finite=False, corpus_norms=norms
        )
        timing = timed(search_collection, min_samples=min_samples, budget_s=budget_s)
        records.append(
            {
                "method": method,
                "n_docs": corpus.shape[0],
                "n_queries": queries.shape[0],
                **timing_columns(timing),
                "ms_per_query": timing.median_ms / queries.shape[0],
            }
        )
    return pd.DataFrame.from_records(records)


def sample_queries(corpus: np.ndarray, n_queries: int, *, seed: int = 0) -> np.ndarray:
    """Queries for benchmarking a real collection: perturbed copies of random corpus rows.

    Returns
    -------
    numpy.ndarray
        float32 of shape (min(n_queries, n_docs), dim), unit rows.
    """
    corpus = as_matrix(corpus, "corpus")
    rng = np.random.default_rng(seed)
    n = min(n_queries, corpus.shape[0])
    rows = rng.choice(corpus.shape[0], size=n, replace=False)
    noise = rng.standard_normal((n, corpus.shape[1]), dtype=np.float32) * 0.02
    return normalize(corpus[rows] + noise)
