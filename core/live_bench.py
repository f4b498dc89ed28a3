"""The benchmark page's computations: small, configurable, live measurements.

Each function times real work with :func:`core.timing.measure` and returns a tidy
``pandas.DataFrame`` (one row per variant or per variant x size) that the page charts and offers
for download. Sizes come from the caller; the page bounds them so a run takes seconds. Larger,
slower sweeps belong in ``benchmarks/`` and write numbers to files.

What is compared, and why it matters for the tutorial:

* **vectorised vs loop** — one matrix-vector product against a Python loop calling ``np.dot``
  per document (and a pure-Python loop on a capped subset): interpreter overhead per document.
* **float64 vs float32** — the same search in both precisions: half the memory, faster GEMM.
* **argsort vs argpartition** — full sort of every score against partition-then-sort-k.
* **scaling** — the above against corpus size, to show the slopes.
* **memory modes** — float32 / float16 / int8 / binary indexes (``core.quant``): bytes per
  vector, search time and recall@k against exact float32.

How a number is measured (:func:`timed`): BLAS is held to one thread, so a matrix product and a
Python loop compete on equal terms, and a multithreaded BLAS cannot stall spinning for a core
that another process (the Streamlit server, the browser) holds on a small machine; the call is
warmed up, then timed until the samples add up to :data:`TIME_BUDGET_S` (at least
``min_samples`` calls, at most :data:`MAX_SAMPLES`) with the garbage collector paused. Tables
report the median with its spread (minimum and quartiles) and the sample count, and
:func:`suspect_results` names any result that contradicts the expected order by a wide margin —
the sign of a busy machine, to be re-run rather than believed.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial

import numpy as np
import pandas as pd

from core.engine import as_matrix, normalize, search
from core.timing import Timing

ProgressFn = Callable[[float, str], None]

# Each measurement: untimed warm-up calls for WARMUP_S (at least one, at most MAX_WARMUP_CALLS),
# then timed calls until they add up to TIME_BUDGET_S or MAX_SAMPLES, but at least min_samples.
TIME_BUDGET_S = 0.1
MAX_SAMPLES = 500
WARMUP_S = 0.02
MAX_WARMUP_CALLS = 50
DEFAULT_MIN_SAMPLES = 5
# A result is suspect when it misses the expected speed-up by more than this factor.
SUSPECT_FACTOR = 1.5

VECTORISED = "vectorised (corpus @ query)"
NUMPY_LOOP = "Python loop of np.dot"
PURE_PYTHON = "pure-Python loop"
ARGSORT = "argsort (full sort)"
ARGPARTITION = "argpartition + sort k"
ENGINE = "engine.search float32 (cosine)"
MATMUL_PARTITION = "matmul + argpartition float32"
MATMUL_ARGSORT32 = "matmul + argsort float32"
MATMUL_ARGSORT64 = "matmul + argsort float64"

MEMORY_MODES = ("float32", "float16", "int8", "binary")
# Pure-Python inner products are ~1,000x slower than BLAS; time them on at most this many docs.
PURE_PYTHON_MAX_DOCS = 2_000


@cache
def _blas_controller():
    """A threadpoolctl controller, built once (building one scans the loaded libraries)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def _quiet_measurement() -> Iterator[None]:
    """BLAS on one thread and the garbage collector paused, restored afterwards."""
    gc_was_enabled = gc.isenabled()
    with _blas_controller().limit(limits=1, user_api="blas"):
        gc.disable()
        try:
            yield
        finally:
            if gc_was_enabled:
                gc.enable()


def timed(
    fn: Callable[[], object],
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
    max_samples: int = MAX_SAMPLES,
    warmup_s: float = WARMUP_S,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Time ``fn()`` with BLAS on one thread, after a warm-up, for about ``budget_s`` seconds.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    min_samples : int
        Timed calls at least (slow calls stop here), at least 1.
    budget_s : float
        Fast calls are timed again until their samples add up to this many seconds...
    max_samples : int
        ...or until there are this many samples, whichever comes first.
    warmup_s : float
        Untimed calls first until this much time has passed: at least one call, at most
        :data:`MAX_WARMUP_CALLS` (page faults, caches, lazily built buffers).
    clock : callable
        Seconds, monotonic; injectable for tests.

    Returns
    -------
    core.timing.Timing
        The samples in seconds; see :func:`timing_columns` for the table's summary.
    """
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, got {min_samples}")
    if max_samples < min_samples:
        raise ValueError(f"max_samples ({max_samples}) is below min_samples ({min_samples})")
    with _quiet_measurement():
        start = clock()
        for _ in range(MAX_WARMUP_CALLS):
            fn()
            if clock() - start >= warmup_s:
                break
        samples: list[float] = []
        total = 0.0
        while len(samples) < min_samples or (total < budget_s and len(samples) < max_samples):
            start = clock()
            fn()
            elapsed = clock() - start
            samples.append(elapsed)
            total += elapsed
    return Timing(tuple(samples))


def timing_columns(timing: Timing) -> dict[str, float | int]:
    """The table columns of one measurement: median, minimum, quartiles (ms) and sample count."""
    q1, q3 = np.percentile(timing.samples, [25, 75])
    return {
        "median_ms": timing.median_ms,
        "min_ms": timing.min_s * 1e3,
        "q1_ms": float(q1) * 1e3,
        "q3_ms": float(q3) * 1e3,
        "samples": len(timing.samples),
    }


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
            raise ValueError(f"{name} must be at least 1, got {value}")
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
        raise ValueError(f"sizes must be positive integers, got {list(sizes)}")
    records = []
    for step, n in enumerate(sizes, start=1):
        corpus32, queries32 = synthetic_corpus(n, dim, seed=seed)
        corpus64, query64 = corpus32.astype(np.float64), queries32.astype(np.float64)
        kk = min(k, n)
        query32, query64 = queries32[0], query64[0]
        variants: list[tuple[str, Callable[[], object]]] = [
            (ENGINE, partial(search, corpus32, queries32, kk)),
            (MATMUL_PARTITION, partial(_top_k_by_partition, corpus32, query32, kk)),
            (MATMUL_ARGSORT32, partial(_top_k_by_argsort, corpus32, query32, kk)),
            (MATMUL_ARGSORT64, partial(_top_k_by_argsort, corpus64, query64, kk)),
        ]
        if n <= loop_max_docs:
            variants.append((NUMPY_LOOP, partial(_cosine_scores_numpy_loop, corpus32, query32)))
        for name, fn in variants:
            timing = timed(fn, min_samples=min_samples, budget_s=budget_s)
            records.append({"variant": name, "n_docs": n, **timing_columns(timing)})
        if progress is not None:
            progress(step / len(sizes), f"{n:,} documents done")
    return pd.DataFrame.from_records(records)


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
    from core.quant import build_index, recall_at_k

    corpus = as_matrix(corpus, "corpus")
    queries = as_matrix(queries, "queries")
    exact_ids, _ = search(corpus, queries, k, method)
    records = []
    for mode in modes:
        index = build_index(corpus, mode)
        ids, _ = index.search(queries, k, method)
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
    records = []
    for method in ("cosine", "dot", "euclidean"):
        timing = timed(
            partial(search, corpus, queries, k, method), min_samples=min_samples, budget_s=budget_s
        )
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


# --- Is a result believable? -------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """``faster`` normally takes at most ``1 / speedup`` of the time ``slower`` takes.

    ``speedup`` is a conservative floor (the usual margin is far wider); below 1 it only says
    "not much slower". Judged only from ``min_n_docs`` documents, where fixed overheads no
    longer hide the difference.
    """

    faster: str
    slower: str
    speedup: float = 1.0
    min_n_docs: int = 0


@dataclass(frozen=True)
class Checks:
    """What a benchmark's table should show: the column that is compared, the column naming the
    rows, the expected orders, and whether time should grow with ``n_docs`` per row name."""

    label: str
    value: str = "median_ms"
    expected: tuple[Expectation, ...] = ()
    grows_with_n_docs: bool = False


# Keyed by the benchmark function's name.
CHECKS: dict[str, Checks] = {
    "vectorised_vs_loop": Checks(
        "variant",
        "us_per_doc",
        (Expectation(VECTORISED, NUMPY_LOOP, 3.0), Expectation(NUMPY_LOOP, PURE_PYTHON, 1.5)),
    ),
    "float64_vs_float32": Checks("dtype", expected=(Expectation("float32", "float64", 0.8),)),
    "argsort_vs_argpartition": Checks(
        "variant", expected=(Expectation(ARGPARTITION, ARGSORT, 0.8, min_n_docs=5_000),)
    ),
    "scaling": Checks(
        "variant",
        expected=(
            Expectation(MATMUL_PARTITION, NUMPY_LOOP, 3.0),
            Expectation(ENGINE, NUMPY_LOOP, 1.0, min_n_docs=5_000),
            Expectation(MATMUL_PARTITION, MATMUL_ARGSORT32, 0.8, min_n_docs=5_000),
            Expectation(MATMUL_ARGSORT32, MATMUL_ARGSORT64, 0.8, min_n_docs=5_000),
        ),
        grows_with_n_docs=True,
    ),
}


def suspect_results(
    benchmark: str, table: pd.DataFrame, *, factor: float = SUSPECT_FACTOR
) -> list[str]:
    """Results in ``table`` that contradict the expected order by a wide margin, in words.

    A measured speed-up below ``expectation.speedup / factor``, or a time that drops by more
    than ``factor`` as the corpus grows, is not something the code does: it is what a busy
    machine does to a measurement. An empty list means nothing looks wrong.

    Parameters
    ----------
    benchmark : str
        The function that made ``table`` (a key of :data:`CHECKS`); others are not judged.
    table : pandas.DataFrame
        As returned by that function.
    factor : float
        The margin, above 1.
    """
    checks = CHECKS.get(benchmark)
    if checks is None or table.empty:
        return []
    problems = []
    groups = table.groupby("n_docs", sort=True) if checks.grows_with_n_docs else [(None, table)]
    for n_docs, part in groups:
        values = dict(zip(part[checks.label], part[checks.value], strict=True))
        sizes = dict(
            zip(part[checks.label], part.get("n_docs", [math.inf] * len(part)), strict=True)
        )
        where = f" at {n_docs:,} documents" if n_docs is not None else ""
        for exp in checks.expected:
            if exp.faster not in values or exp.slower not in values:
                continue
            if min(sizes[exp.faster], sizes[exp.slower]) < exp.min_n_docs:
                continue
            fast, slow = values[exp.faster], values[exp.slower]
            if fast <= 0 or slow / fast >= exp.speedup / factor:
                continue
            normally = (
                f"normally at least {exp.speedup:g}x faster"
                if exp.speedup > 1
                else "normally no slower"
            )
            problems.append(
                f"{exp.faster}{where}: {_fmt(fast, checks.value)} against {exp.slower}'s "
                f"{_fmt(slow, checks.value)} ({_ratio(slow / fast)}), though it is {normally}."
            )
    if checks.grows_with_n_docs:
        for name, part in table.sort_values("n_docs").groupby(checks.label, sort=False):
            sizes, values = list(part["n_docs"]), list(part[checks.value])
            for (n0, t0), (n1, t1) in zip(
                zip(sizes, values, strict=True),
                zip(sizes[1:], values[1:], strict=True),
                strict=False,
            ):
                if t1 * factor < t0:
                    problems.append(
                        f"{name}: {_fmt(t1, checks.value)} at {n1:,} documents but "
                        f"{_fmt(t0, checks.value)} at {n0:,}; more documents never take less time."
                    )
    return problems


def _fmt(value: float, column: str) -> str:
    unit = "µs per document" if column == "us_per_doc" else "ms"
    return f"{value:.3g} {unit}"


def _ratio(speedup: float) -> str:
    return f"{speedup:.2g}x as fast" if speedup >= 1 else f"{1 / speedup:.2g}x slower"
