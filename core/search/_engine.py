"""The numeric engine: validation, normalisation, scoring and exact top-k search.

Public functions validate their input (shape, dtype, finite values) and raise ``ValueError``
messages that name the actual values; private ``_`` helpers assume checked input.

Memory: every pairwise computation walks query chunks x corpus chunks sized from a memory budget
(``memory_budget_mb``), so 1,000 queries over 1M documents never build a 1,000 x 1M score matrix.
Euclidean distances come from one GEMM (``|a|^2 + |b|^2 - 2 a.b``, clamped at 0), never from an
``(n, d)`` difference temporary. Top-k is selected while scanning (``core.search._kernels``):
a score leaves its block only if it beats the query's running k-th best, and the few survivors are
merged by sorting; ties are broken by the lower index so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

import numpy as np

from core.errors import InvalidInputError
from core.search import _kernels as kernels

DEFAULT_MEMORY_BUDGET_MB = 256.0
# Queries scored per pass over the corpus: enough columns for an efficient GEMM, while a
# score block of a few hundred rows still fits in L2.
_QUERY_GROUP = 256
# Extra candidates kept per query so that final-score ties at the k-th place resolve by index.
_TIE_SLACK = 8
# Rows checked at once for NaN/inf, so the check never allocates a full-size boolean mask.
_FINITE_CHECK_ROWS = 16_384


class Metric(StrEnum):
    """Similarity measures. For every metric a higher search score is better."""

    COSINE = "cosine"
    DOT = "dot"
    EUCLIDEAN = "euclidean"

    @classmethod
    def parse(cls, method: str | Metric) -> Metric:
        """Return the metric named ``method``; the error lists the valid names."""
        if isinstance(method, Metric):
            return method
        try:
            return cls(str(method).lower())
        except ValueError:
            valid = ", ".join(repr(m.value) for m in cls)
            raise InvalidInputError(f"unknown method {method!r}; use one of {valid}") from None


# ---------------------------------------------------------------------------- validation


def as_matrix(x, name: str = "x", *, check_finite: bool = True) -> np.ndarray:
    """Return ``x`` as a float32, C-contiguous 2-D array; a 1-D vector becomes one row.

    Parameters
    ----------
    x : array_like of shape (n, d) or (d,)
        Vectors, one per row.
    name : str
        What the array is, for error messages ("corpus", "queries", ...).
    check_finite : bool
        Refuse NaN and infinity (naming the first bad row). Skip only for input already checked.

    Returns
    -------
    ndarray of shape (n, d), float32
        ``x`` itself when it already is float32 and C-contiguous, otherwise a converted copy.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise InvalidInputError(f"{name} must be a numeric array of vectors: {exc}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InvalidInputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} must be 1-D (d,) or 2-D (n, d), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise InvalidInputError(f"{name} has dimension 0 (shape {arr.shape}); vectors need d >= 1")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if check_finite:
        _refuse_row(name, arr, first_nonfinite_row(arr))
    return arr


def _refuse_row(name: str, arr: np.ndarray, bad: int | None) -> None:
    if bad is not None:
        raise InvalidInputError(
            f"{name} row {bad} contains NaN or infinity; remove or re-embed that row "
            f"(shape {arr.shape})"
        )


def _norms_checking_finite(x: np.ndarray, name: str, *, squared: bool) -> np.ndarray:
    """Row norms of ``x``, refusing NaN/inf on the way: one pass instead of a check and a norm.

    A non-finite value makes its row's norm non-finite; so can a huge but finite row (its norm
    above the float32 range), so only the rows with a non-finite norm are checked exactly.
    """
    norms = row_norms(x, squared=squared)
    suspects = np.flatnonzero(~np.isfinite(norms))
    if suspects.size:
        bad = suspects[~np.isfinite(x[suspects]).all(axis=1)]
        _refuse_row(name, x, int(bad[0]) if bad.size else None)
    return norms


def first_nonfinite_row(x: np.ndarray) -> int | None:
    """Index of the first row of a 2-D array holding NaN or inf, or ``None`` if all are finite."""
    for start in range(0, x.shape[0], _FINITE_CHECK_ROWS):
        block = x[start : start + _FINITE_CHECK_ROWS]
        # Summing is one cheap pass and propagates NaN/inf; only then look for the row. The
        # sum stays in the input's precision (SIMD, memory speed): if huge finite values
        # overflow it, the exact row check below finds nothing and the scan goes on.
        with np.errstate(over="ignore", invalid="ignore"):
            total = block.sum()
        if not np.isfinite(total):
            rows = np.flatnonzero(~np.isfinite(block).all(axis=1))
            if rows.size:
                return start + int(rows[0])
    return None


def _check_dims(corpus: np.ndarray, queries: np.ndarray) -> None:
    if corpus.shape[1] != queries.shape[1]:
        raise InvalidInputError(
            f"dimension mismatch: queries have d={queries.shape[1]} (shape {queries.shape}) "
            f"but the corpus has d={corpus.shape[1]} (shape {corpus.shape}); embed both with "
            "the same model and dimensions"
        )


def _check_budget(memory_budget_mb: float) -> int:
    if not memory_budget_mb > 0:
        raise InvalidInputError(f"memory_budget_mb must be positive, got {memory_budget_mb}")
    return int(memory_budget_mb * 2**20)


# ---------------------------------------------------------------------------- norms


# Squared norms inside this range are safe in float32: their square root and its inverse neither
# underflow nor overflow. Rows outside it (tiny or huge components) are redone in float64.
_SAFE_SQ_NORM = (1e-30, 1e30)


def _extreme_rows(sq: np.ndarray) -> np.ndarray:
    lo, hi = _SAFE_SQ_NORM
    return np.flatnonzero(~((sq > lo) & (sq < hi)) & (sq != 0) | (np.isinf(sq)))


def row_norms(x: np.ndarray, *, squared: bool = False) -> np.ndarray:
    """Euclidean norm of every row, float32 of shape (n,), without an ``(n, d)`` temporary.

    Rows whose float32 sum of squares would underflow or overflow are computed in float64.
    """
    with np.errstate(over="ignore", under="ignore"):  # such rows are redone below
        sq = np.einsum("ij,ij->i", x, x)
    norms = sq if squared else np.sqrt(sq)
    # A float32 square can underflow to 0 for a non-zero row: check every row that claims 0.
    extreme = np.union1d(_extreme_rows(sq), np.flatnonzero((sq == 0) & x.any(axis=1)))
    if extreme.size:
        exact = np.linalg.norm(x[extreme].astype(np.float64), axis=1)
        with np.errstate(over="ignore"):  # a norm beyond float32's range stays inf
            norms[extreme] = exact**2 if squared else exact
    return norms


def _safe_inverse(norms: np.ndarray) -> np.ndarray:
    """1 / norm, with 0 where the norm is 0: a zero vector scales to zero, never to NaN."""
    inv = np.zeros_like(norms)
    np.divide(1.0, norms, out=inv, where=norms > 0)
    return inv


def normalize(x) -> np.ndarray:
    """Scale every row to unit length; a zero row stays zero (never NaN).

    Parameters
    ----------
    x : array_like of shape (n, d) or (d,)
        Vectors; NaN or infinity is refused with the first bad row named.

    Returns
    -------
    ndarray of shape (n, d), float32
        A new array; a 1-D input gives shape (1, d). Rows with tiny or huge components are
        scaled in float64, so they come out unit length too instead of zero or infinite.
    """
    arr = as_matrix(x, "vectors")
    with np.errstate(over="ignore", under="ignore"):  # such rows are redone below
        sq = np.einsum("ij,ij->i", arr, arr)
    out = arr * _safe_inverse(np.sqrt(sq))[:, None]
    extreme = np.union1d(_extreme_rows(sq), np.flatnonzero((sq == 0) & arr.any(axis=1)))
    if extreme.size:
        rows = arr[extreme].astype(np.float64)
        rows /= np.max(np.abs(rows), axis=1, keepdims=True)  # scale first: no underflow
        out[extreme] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


# ---------------------------------------------------------------------------- chunking


def plan_chunks(m: int, n: int, budget_bytes: int, *, min_corpus_rows: int = 1) -> tuple[int, int]:
    """Choose (query rows, corpus rows) per block so that a float32 score block and one
    same-sized temporary fit ``budget_bytes``.

    Prefers whole query batches against long corpus slices (big GEMMs); never returns less than
    one row of either side.
    """
    cells = max(budget_bytes // 8, 1)  # 4 bytes per score, plus one temporary of the same size
    if m * n <= cells:
        return m, n
    corpus_rows = min(n, max(cells // m, min_corpus_rows, 4096))
    query_rows = max(1, min(m, cells // corpus_rows))
    return query_rows, corpus_rows


def _blocks(total: int, size: int) -> Iterator[slice]:
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


# ---------------------------------------------------------------------------- scoring


class _Scorer:
    """Turns ``queries @ corpus.T`` blocks into scores where higher is better.

    Holds what is computed once per search: query normalisation, corpus (squared) norms.
    """

    def __init__(
        self,
        corpus: np.ndarray,
        queries: np.ndarray,
        metric: Metric,
        corpus_norms=None,
        corpus_sq=None,
    ):
        self.metric = metric
        self.corpus = corpus
        if metric is Metric.COSINE:
            norms = row_norms(corpus) if corpus_norms is None else corpus_norms
            self.corpus_scale = _safe_inverse(norms)
            # The query's own norm does not change its ranking: applied to the survivors only.
            self.queries = queries
            self.query_scale = _safe_inverse(row_norms(queries))
        elif metric is Metric.EUCLIDEAN:
            if corpus_sq is None:
                corpus_sq = (
                    row_norms(corpus, squared=True) if corpus_norms is None else corpus_norms**2
                )
            self.corpus_sq = corpus_sq
            self.queries = queries
            self.query_sq = row_norms(queries, squared=True)
        else:
            self.queries = queries

    def block(self, q: slice, c: slice) -> np.ndarray:
        """Ranking scores of queries[q] against corpus[c], float32 (len(q), len(c)).

        Terms constant along a row are left to :meth:`finish`, which sees only the survivors:
        cosine ranks by ``a.b / |b|`` (times ``1 / |a|`` later); euclidean by ``2 a.b - |b|^2``.
        """
        scores = self.queries[q] @ self.corpus[c].T
        if self.metric is Metric.COSINE:
            scores *= self.corpus_scale[c]
        elif self.metric is Metric.EUCLIDEAN:
            scores *= 2.0
            scores -= self.corpus_sq[c]
        return scores

    def ranking_operand(self, q: slice) -> np.ndarray:
        """``queries[q].T`` as a C-contiguous (d, len(q)) GEMM operand (doubled for euclidean)."""
        qt = self.queries[q].T
        if self.metric is Metric.EUCLIDEAN:
            return np.ascontiguousarray(qt * np.float32(2.0))
        return np.ascontiguousarray(qt)

    def block_rows(self, lo: int, hi: int, qt: np.ndarray, scratch: dict) -> np.ndarray:
        """Ranking scores of corpus rows ``lo:hi`` against a ``ranking_operand``, float32
        (hi - lo, n_queries), written into a buffer reused across the blocks of one scan.

        Same values as :meth:`block` transposed (euclidean's factor 2 is in the operand).
        """
        out = kernels.buffer(scratch, "scores", (hi - lo, qt.shape[1]), np.float32)
        np.matmul(self.corpus[lo:hi], qt, out=out)
        if self.metric is Metric.COSINE:
            out *= self.corpus_scale[lo:hi, None]
        elif self.metric is Metric.EUCLIDEAN:
            out -= self.corpus_sq[lo:hi, None]
        return out

    def finish(self, q: slice, scores: np.ndarray) -> np.ndarray:
        """Final scores of the survivors of rows ``q``: euclidean becomes -distance."""
        if self.metric is Metric.EUCLIDEAN:
            sq_dist = self.query_sq[q, None] - scores
            np.maximum(sq_dist, 0.0, out=sq_dist)
            return -np.sqrt(sq_dist)
        if self.metric is Metric.COSINE:
            scores = scores * self.query_scale[q, None]
            np.clip(scores, -1.0, 1.0, out=scores)
        return scores


# ---------------------------------------------------------------------------- top-k


def search(
    corpus,
    queries,
    k: int = 10,
    method: str | Metric = "cosine",
    *,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    check_finite: bool = True,
    corpus_norms: np.ndarray | None = None,
    mode: str = "float32",
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k search of every query against the corpus: exact, or in a compressed memory mode.

    Parameters
    ----------
    corpus : array_like of shape (n_docs, dim)
        Document vectors (not necessarily normalised).
    queries : array_like of shape (n_queries, dim) or (dim,)
        One query per row; a 1-D query is one row.
    k : int
        Results per query; ``k > n_docs`` returns all ``n_docs``.
    method : {"cosine", "dot", "euclidean"}
        Scoring. For euclidean the score is the negative distance, so higher is always better.
    memory_budget_mb : float
        Upper bound for the score blocks built at once.
    check_finite : bool
        Refuse NaN/inf in either input. Pass False only for input validated before.
    corpus_norms : ndarray of shape (n_docs,), optional
        Precomputed row norms of the corpus (cosine, euclidean), to save one pass.
    mode : {"float32", "float16", "int8", "binary"}
        ``"float32"`` is exact. The others search a ``core.search`` index built from the corpus
        for this call; to search one corpus many times, build it once with
        ``core.search.build_index`` (or use ``Collection.search(..., mode=...)``, which keeps it).

    Returns
    -------
    ids : ndarray of shape (n_queries, min(k, n_docs)), int64
        Document indices, best first; equal scores are ordered by lower index.
    scores : ndarray of shape (n_queries, min(k, n_docs)), float32
        The matching scores.
    """
    metric = Metric.parse(method)
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise InvalidInputError(f"k must be an integer, got {k!r}")
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    # Cosine and euclidean need the corpus norms anyway: computing them checks every value too,
    # so the corpus is read once here instead of twice.
    norms_check = (
        check_finite and mode == "float32" and corpus_norms is None and metric is not Metric.DOT
    )
    corpus = as_matrix(corpus, "corpus", check_finite=check_finite and not norms_check)
    queries = as_matrix(queries, "queries", check_finite=check_finite)
    if corpus.shape[0] == 0:
        raise InvalidInputError(f"the corpus is empty (shape {corpus.shape}); add documents first")
    _check_dims(corpus, queries)
    if corpus_norms is not None and corpus_norms.shape != (corpus.shape[0],):
        raise InvalidInputError(
            f"corpus_norms must have shape ({corpus.shape[0]},), got {corpus_norms.shape}"
        )
    budget = _check_budget(memory_budget_mb)
    corpus_sq = None
    if norms_check:
        # Euclidean keeps the exact squared norms (a square root and back would round them).
        squared = metric is Metric.EUCLIDEAN
        checked = _norms_checking_finite(corpus, "corpus", squared=squared)
        corpus_sq, corpus_norms = (checked, None) if squared else (None, checked)
    if mode != "float32":
        from core.search._modes import build_index  # quant builds on this module

        index = build_index(corpus, mode)
        return index.search(queries, int(k), metric, memory_budget_mb=memory_budget_mb)
    return _search_impl(corpus, queries, int(k), metric, budget, corpus_norms, corpus_sq)


def _search_impl(corpus, queries, k, metric, budget, corpus_norms=None, corpus_sq=None):
    """Blocked scan (``core.search._kernels.scan``): each corpus block is scored against a group of
    queries by one GEMM into a reused buffer, and only scores beating the running k-th best
    leave the block; the corpus is split across the cores with single-threaded BLAS each.

    The scan ranks by the cheap ranking score and keeps ``_TIE_SLACK`` extra candidates; the
    final scores (query norm, clipping, square root) can make distinct ranking scores equal,
    so results are re-ordered by final score then index, and the rare query whose tie group
    reaches past the kept candidates is rescanned ranking by the final score itself.
    """
    m, n = queries.shape[0], corpus.shape[0]
    k = min(k, n)
    kept = min(n, k + _TIE_SLACK) if metric is not Metric.DOT else k
    scorer = _Scorer(corpus, queries, metric, corpus_norms, corpus_sq)
    out_ids = np.empty((m, k), dtype=np.int64)
    out_scores = np.empty((m, k), dtype=np.float32)
    for q in _blocks(m, _QUERY_GROUP):
        ids, rank = _scan(scorer, q, kept, budget, final=False)
        scores = scorer.finish(q, rank)
        order = np.lexsort((ids, -scores), axis=1)
        ids, scores = np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)
        if k < kept < n:
            for row in np.flatnonzero(scores[:, k - 1] == scores[:, -1]):
                one = slice(q.start + row, q.start + row + 1)
                ids[row, :k], scores[row, :k] = (a[0] for a in _scan(scorer, one, k, budget))
        out_ids[q], out_scores[q] = ids[:, :k], scores[:, :k]
    return out_ids, out_scores


def _scan(scorer, q: slice, k: int, budget: int, *, final: bool = True):
    """Top-k of queries ``q`` by ranking scores, or by final scores when ``final``."""
    qt = scorer.ranking_operand(q)
    n = scorer.corpus.shape[0]
    rows = kernels.block_rows(n, qt.shape[1], budget_bytes=budget, workers=kernels.n_workers())

    def score_block(lo, hi, scratch):
        block = scorer.block_rows(lo, hi, qt, scratch)
        return scorer.finish(q, block.T).T if final else block

    return kernels.scan(n, qt.shape[1], k, score_block, rows_per_block=rows, work=n * qt.size)
