"""Exact top-k search: arrays in, ``(ids, scores)`` out.

Validation and norms live in ``core.search._validation``, the metrics (names, scorers, which
values are distances) in the registry ``core.search._metrics``; the blocked top-k kernel in
``core.search._kernels``. This module wires them together: check the input once, pick the
scorer, scan the corpus block by block (blocks from one generator, workers from an executor),
merge the partial top-k with :func:`core.search.merge_topk`.

One pass per block: the corpus is not checked for NaN/inf, nor its norms computed, in passes of
their own. Each block's norms are computed while the block is in cache, and a NaN or inf in a
row shows as a non-finite score of that row for every query, so only the rows of a block whose
scores are not finite are checked exactly. Finite input whose products overflow float32 is
searched again with a power-of-two scale (exact), or refused when even its result is out of
range: no unfilled slot or invalid id ever leaves the search.
"""

from __future__ import annotations

from concurrent.futures import Executor
from enum import StrEnum

import numpy as np

from core.errors import InvalidInputError
from core.search import _kernels as kernels
from core.search._metrics import MetricSpec, ScoreOverflow, get_metric, safe_scale
from core.search._validation import (  # noqa: F401  (re-exported: the engine's public names)
    _FINITE_CHECK_ROWS,
    _check_budget,
    _check_dims,
    _refuse_row,
    _safe_inverse,
    as_matrix,
    first_nonfinite_row,
    normalize,
    row_blocks,
    row_norms,
)

DEFAULT_MEMORY_BUDGET_MB = 256.0
# Queries scored per pass over the corpus: enough columns for an efficient GEMM, while a
# score block of a few hundred rows still fits in L2.
_QUERY_GROUP = 256
# Extra candidates kept per query so that final-score ties at the k-th place resolve by index.
_TIE_SLACK = 8


class Metric(StrEnum):
    """The built-in similarity measures (names of entries of the metrics registry).

    Any registered metric name works wherever a ``Metric`` does; see
    :func:`core.search.get_metric`.
    """

    COSINE = "cosine"
    DOT = "dot"
    EUCLIDEAN = "euclidean"

    @classmethod
    def parse(cls, method: str | Metric) -> Metric:
        """Return the built-in metric named ``method``; the error lists the valid names."""
        if isinstance(method, Metric):
            return method
        try:
            return cls(str(getattr(method, "name", method)).lower())
        except ValueError:
            get_metric(method)  # unknown: the registry's message lists every name
            raise InvalidInputError(f"{method!r} is not a built-in metric") from None


# ---------------------------------------------------------------------------- top-k


def search(
    corpus,
    queries,
    k: int = 10,
    method: str | Metric | MetricSpec = "cosine",
    *,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    check_finite: bool = True,
    corpus_norms: np.ndarray | None = None,
    mode: str = "float32",
    executor: Executor | None = None,
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
    method : str, Metric or MetricSpec
        A registered metric (``core.search.metric_names()``: "cosine", "dot", "euclidean", ...).
        The score is higher-is-better; a distance is scored as its negative.
    memory_budget_mb : float
        Upper bound for the score blocks built at once.
    check_finite : bool
        Refuse NaN/inf in the queries. The corpus is always checked (its scores show a bad
        row at no extra cost); pass False only for queries validated before.
    corpus_norms : ndarray of shape (n_docs,), optional
        Precomputed row norms of the corpus (cosine, euclidean), to save computing them.
    mode : {"float32", "float16", "int8", "binary", "hnsw"}
        ``"float32"`` is exact; ``"hnsw"`` approximate (measure its recall). The others search
        a ``core.search`` index built from the corpus for this call; to search one corpus many
        times, build it once with ``core.search.build_index`` (or use
        ``Collection.search(..., mode=...)``, which keeps it).
    executor : concurrent.futures.Executor, optional
        Runs the workers that scan parts of the corpus; default a process-wide thread pool.

    Returns
    -------
    ids : ndarray of shape (n_queries, min(k, n_docs)), int64
        Document indices, best first; equal scores are ordered by lower index.
    scores : ndarray of shape (n_queries, min(k, n_docs)), float32
        The matching scores.
    """
    spec = get_metric(method)
    spec.check_mode(mode)
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise InvalidInputError(f"k must be an integer, got {k!r}")
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    corpus = as_matrix(corpus, "corpus", check_finite=check_finite and mode != "float32")
    queries = as_matrix(queries, "queries", check_finite=check_finite)
    if corpus.shape[0] == 0:
        raise InvalidInputError(f"the corpus is empty (shape {corpus.shape}); add documents first")
    _check_dims(corpus, queries)
    if corpus_norms is not None and np.shape(corpus_norms) != (corpus.shape[0],):
        raise InvalidInputError(
            f"corpus_norms must have shape ({corpus.shape[0]},), got {np.shape(corpus_norms)}"
        )
    budget = _check_budget(memory_budget_mb)
    if mode != "float32":
        from core.search._modes import build_index  # the modes build on this module

        index = build_index(corpus, mode)
        return index.search(queries, int(k), spec, memory_budget_mb=memory_budget_mb)
    return exact_search(corpus, queries, int(k), spec, budget, corpus_norms, executor=executor)


def exact_search(
    corpus, queries, k, spec, budget, corpus_norms=None, corpus_sq=None, *, executor=None
):
    """Exact float32 top-k of checked input (the one implementation; the memory modes' float32
    path calls it too). Finite input whose products overflow float32 is searched again with a
    power-of-two scale; results out of float32's range are refused."""
    try:
        return _search_impl(corpus, queries, k, spec, budget, corpus_norms, corpus_sq, executor)
    except ScoreOverflow:
        pass
    # The careful path (rare): every value checked, norms in float64 where float32's overflow.
    _refuse_row("corpus", corpus, first_nonfinite_row(corpus))
    _refuse_row("queries", queries, first_nonfinite_row(queries))
    norms = _norms64(corpus, row_norms(corpus) if corpus_norms is None else corpus_norms)
    q_max = float(_norms64(queries, row_norms(queries)).max(initial=0.0))
    c_max = float(norms.max(initial=0.0))
    bound = c_max * max(q_max, c_max)
    scale = safe_scale(bound, spec.scorer.scale_power)
    try:
        return _search_impl(corpus, queries, k, spec, budget, norms, None, executor, scale=scale)
    except ScoreOverflow:
        raise InvalidInputError(
            f"{spec.label} scores of these vectors overflow float32 even when rescaled (norms "
            f"up to {c_max:.3g} and {q_max:.3g}); scale the vectors down before searching"
        ) from None


def _norms64(x: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """``norms`` in float64, those beyond float32's range recomputed exactly."""
    out = np.asarray(norms, dtype=np.float64).copy()
    big = np.flatnonzero(~np.isfinite(out))
    if big.size:
        rows = np.asarray(x[big], dtype=np.float64)
        peak = np.abs(rows).max(axis=1, keepdims=True)
        out[big] = peak[:, 0] * np.linalg.norm(rows / peak, axis=1)
    return out


def _search_impl(
    corpus, queries, k, spec, budget, corpus_norms=None, corpus_sq=None, executor=None, scale=1.0
):
    """Blocked scan (``core.search._kernels.scan``): each corpus block is scored against a group of
    queries by one GEMM into a reused buffer, and only scores beating the running k-th best
    leave the block; the corpus is split across workers with single-threaded BLAS each.

    The scan ranks by the cheap ranking score and keeps ``_TIE_SLACK`` extra candidates; the
    final scores (query norm, clipping, square root) can make distinct ranking scores equal,
    so results are re-ordered by final score then index, and the rare query whose tie group
    reaches past the kept candidates is rescanned ranking by the final score itself.
    """
    m, n = queries.shape[0], corpus.shape[0]
    k = min(k, n)
    scorer = spec.scorer(
        corpus, queries, corpus_norms=corpus_norms, corpus_sq=corpus_sq, scale=scale
    )
    kept = k if spec.scorer.ranking_is_final else min(n, k + _TIE_SLACK)
    out_ids = np.empty((m, k), dtype=np.int64)
    out_scores = np.empty((m, k), dtype=np.float32)
    for q in row_blocks(m, _QUERY_GROUP):
        ids, rank = _scan(scorer, q, kept, budget, executor, final=False)
        scores = scorer.finish(q, rank)
        order = np.lexsort((ids, -scores), axis=1)
        ids, scores = np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)
        if k < kept < n:
            for row in np.flatnonzero(scores[:, k - 1] == scores[:, -1]):
                one = slice(q.start + row, q.start + row + 1)
                ids[row, :k], scores[row, :k] = (
                    a[0] for a in _scan(scorer, one, k, budget, executor)
                )
        out_ids[q], out_scores[q] = ids[:, :k], scores[:, :k]
    _refuse_nonfinite_results(out_ids, out_scores, spec)
    return out_ids, out_scores


def _refuse_nonfinite_results(ids, scores, spec) -> None:
    bad = ~np.isfinite(scores)
    if bad.any():
        q, j = (int(v[0]) for v in np.nonzero(bad))
        raise InvalidInputError(
            f"the {spec.label} of query {q} and document {int(ids[q, j])} is beyond float32's "
            "range (about 3.4e38); scale the vectors down before searching"
        )


def _scan(scorer, q: slice, k: int, budget: int, executor=None, *, final: bool = True):
    """Top-k of queries ``q`` by ranking scores, or by final scores when ``final``."""
    qt = scorer.ranking_operand(q)
    corpus = scorer.corpus
    n = corpus.shape[0]
    fused = getattr(scorer, "fused", False)
    rows = kernels.block_rows(
        n,
        qt.shape[1],
        # A block whose norms are computed on the fly should stay in cache for its GEMM.
        row_bytes=4 * corpus.shape[1] if fused else 0,
        budget_bytes=budget,
        workers=kernels.n_workers(),
    )

    def score_block(lo, hi, scratch):
        with np.errstate(all="ignore"):  # a bad value or an overflow: check_scores names it
            block = scorer.block_rows(lo, hi, qt, scratch)
        check_scores(block, corpus, scorer.queries[q], lo)
        return scorer.finish(q, block.T).T if final else block

    return kernels.scan(
        n, qt.shape[1], k, score_block, rows_per_block=rows, work=n * qt.size, executor=executor
    )


def check_scores(block: np.ndarray, corpus, queries, lo: int) -> None:
    """Refuse a score block of shape (rows, m) (rows ``lo:`` of the corpus) holding NaN/inf.

    A NaN or inf in a corpus row makes that row's scores non-finite for every query, so the
    sum of the block (one pass over the scores, not over the vectors) finds it; only then are
    the rows checked. Finite rows with non-finite scores overflowed: :class:`ScoreOverflow`.
    """
    with np.errstate(all="ignore"):
        total = np.add.reduce(block, axis=None)
    if np.isfinite(total):
        return
    rows = np.flatnonzero(~np.isfinite(block).all(axis=1))
    if not rows.size:  # the sum overflowed, the scores did not
        return
    bad = rows[~np.isfinite(corpus[lo + rows]).all(axis=1)]
    if bad.size:
        _refuse_row("corpus", corpus, lo + int(bad[0]))
    _refuse_row("queries", queries, first_nonfinite_row(np.asarray(queries)))
    raise ScoreOverflow("scores overflow float32")
