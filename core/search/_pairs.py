"""Pairwise comparisons: full similarity matrices for heatmaps, near-duplicate pairs and the
strongest pairs of a collection, and row-by-row cosines.

Built on the engine's scoring (:mod:`core.search`): the same validation, the same
``a.b / |b|`` and ``|a|^2 + |b|^2 - 2 a.b`` blocks, and the same memory budget, so pairs over
a large collection are found block by block, never through an ``n x n`` matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError
from core.search._engine import DEFAULT_MEMORY_BUDGET_MB, Metric
from core.search._metrics import MetricSpec, Scorer, get_metric
from core.search._validation import (
    _check_budget,
    _check_dims,
    as_matrix,
    normalize,
    row_blocks,
    row_norms,
)

MAX_MATRIX_CELLS = 50_000_000  # 200 MB of float32: beyond that, use search or near_duplicates


def similarity_matrix(a, b=None, method: str | Metric | MetricSpec = "cosine") -> np.ndarray:
    """Full pairwise matrix, for heatmaps and small comparisons.

    Parameters
    ----------
    a : array_like of shape (m, dim) or (dim,)
    b : array_like of shape (n, dim) or (dim,), optional
        Defaults to ``a`` (all pairs within ``a``).
    method : {"cosine", "dot", "euclidean"}
        Cosine and dot give similarities; euclidean gives distances (>= 0, lower is closer).

    Returns
    -------
    ndarray of shape (m, n), float32
    """
    spec = get_metric(method)
    a = as_matrix(a, "a")
    b = a if b is None else as_matrix(b, "b")
    _check_dims(b, a)
    if a.shape[0] * b.shape[0] > MAX_MATRIX_CELLS:
        raise InvalidInputError(
            f"a {a.shape[0]} x {b.shape[0]} matrix is too large to build at once (over "
            f"{MAX_MATRIX_CELLS:,} cells); use search() for top-k or near_duplicates() for pairs"
        )
    scorer = _scorer(spec, b, a)
    rows, cols = slice(0, a.shape[0]), slice(0, b.shape[0])
    return np.asarray(spec.shown(scorer.finish(rows, scorer.block(rows, cols))), np.float32)


def near_duplicates(
    x,
    threshold: float = 0.95,
    method: str | Metric | MetricSpec = "cosine",
    *,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    max_pairs: int = 1_000_000,
) -> list[tuple[int, int, float]]:
    """Pairs of rows that are at least ``threshold`` alike, computed in chunks.

    Parameters
    ----------
    x : array_like of shape (n, dim)
    threshold : float
        Cosine/dot: keep pairs with similarity >= threshold. Euclidean: keep pairs with
        distance <= threshold.
    method : {"cosine", "dot", "euclidean"}
    memory_budget_mb : float
        Upper bound for the blocks built at once (no n x n matrix for large n).
    max_pairs : int
        Refuse to collect more pairs than this (a threshold too loose for the data).

    Returns
    -------
    list of (i, j, score)
        ``i < j``, most alike first (highest similarity or smallest distance), ties by (i, j).
    """
    spec = get_metric(method)
    if not np.isfinite(threshold):
        raise InvalidInputError(f"threshold must be a finite number, got {threshold}")
    x = as_matrix(x, "vectors")
    budget = _check_budget(memory_budget_mb)
    n = x.shape[0]
    cut = np.float32(spec.engine_score(threshold))
    found_i, found_j, found_s = [], [], []
    total = 0
    for offset, scores in _upper_triangle(_scorer(spec, x, x), n, budget):
        rows_local, cols_local = np.nonzero(scores >= cut)
        total += rows_local.size
        if total > max_pairs:
            raise InvalidInputError(
                f"more than {max_pairs:,} pairs pass threshold {threshold} ({spec.name}); "
                "use a stricter threshold"
            )
        found_i.append(rows_local + offset)
        found_j.append(cols_local + offset)
        found_s.append(scores[rows_local, cols_local])
    if not found_i:
        return []
    i, j, s = (np.concatenate(v) for v in (found_i, found_j, found_s))
    order = np.lexsort((j, i, -s))
    return [(int(i[o]), int(j[o]), float(spec.shown(s[o]))) for o in order]


@dataclass(frozen=True)
class PairSummary:
    """What :func:`strongest_pairs` found.

    Attributes
    ----------
    pairs : list of (i, j, score)
        The most alike pairs passing the threshold, at most ``limit``, ordered like
        :func:`near_duplicates` (``i < j``; euclidean scores are distances).
    n_passing : int
        How many pairs pass the threshold in all (``len(pairs)`` when within the limit).
    best : (i, j, score) or None
        The most alike pair of the whole matrix, passing or not; ``None`` for fewer than 2 rows.
    """

    pairs: list[tuple[int, int, float]]
    n_passing: int
    best: tuple[int, int, float] | None

    @property
    def truncated(self) -> bool:
        """Whether more pairs passed than ``pairs`` holds."""
        return self.n_passing > len(self.pairs)


def strongest_pairs(
    x,
    threshold: float = 0.95,
    method: str | Metric | MetricSpec = "cosine",
    *,
    limit: int = 500,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    check_finite: bool = True,
    norms: np.ndarray | None = None,
) -> PairSummary:
    """The ``limit`` most alike pairs passing ``threshold``, their total count and the best pair.

    One chunked pass over the upper triangle, like :func:`near_duplicates`, and the same pairs
    in the same order (``pairs == near_duplicates(...)[:limit]``); but a loose threshold is not
    an error: only the strongest ``limit`` pairs are kept (memory stays bounded) and the rest
    are counted. The most alike pair is tracked in the same pass, so "nothing passes, the
    closest pair is ..." needs no second scan.

    Parameters
    ----------
    x : array_like of shape (n, dim)
    threshold : float
        Cosine/dot: similarity >= threshold passes. Euclidean: distance <= threshold passes.
    method : {"cosine", "dot", "euclidean"}
    limit : int
        Pairs returned at most (>= 1).
    memory_budget_mb : float
        Upper bound for the blocks built at once.
    check_finite : bool
        Refuse NaN/inf. Pass False only for vectors validated before (a collection's).
    norms : ndarray of shape (n,), optional
        Precomputed row norms of ``x`` (cosine, euclidean), to save one pass.

    Returns
    -------
    PairSummary
    """
    spec = get_metric(method)
    if not np.isfinite(threshold):
        raise InvalidInputError(f"threshold must be a finite number, got {threshold}")
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1:
        raise InvalidInputError(f"limit must be a positive integer, got {limit!r}")
    x = as_matrix(x, "vectors", check_finite=check_finite)
    n = x.shape[0]
    if norms is not None and np.shape(norms) != (n,):
        raise InvalidInputError(f"norms must have shape ({n},), got {np.shape(norms)}")
    budget = _check_budget(memory_budget_mb)
    scorer = _scorer(spec, x, x, norms)
    # Work in "higher is better" (a distance as -distance); negating is exact, so the pairs
    # that pass are exactly near_duplicates'.
    cut = np.float32(spec.engine_score(threshold))
    kept_i = np.empty(0, np.int64)
    kept_j = np.empty(0, np.int64)
    kept_s = np.empty(0, np.float32)
    n_passing = 0
    best: tuple[int, int, float] | None = None
    for offset, scores in _upper_triangle(scorer, n, budget):
        flat = int(np.argmax(scores))
        r, c = divmod(flat, scores.shape[1])
        if np.isfinite(scores[r, c]) and (best is None or scores[r, c] > best[2]):
            best = (offset + r, offset + c, float(scores[r, c]))
        rows_local, cols_local = np.nonzero(scores >= cut)
        n_passing += rows_local.size
        kept_i = np.concatenate([kept_i, rows_local + offset])
        kept_j = np.concatenate([kept_j, cols_local + offset])
        kept_s = np.concatenate([kept_s, scores[rows_local, cols_local]])
        kept_i, kept_j, kept_s = _strongest(kept_i, kept_j, kept_s, limit)
    order = np.lexsort((kept_j, kept_i, -kept_s))
    pairs = [(int(kept_i[o]), int(kept_j[o]), float(spec.shown(kept_s[o]))) for o in order[:limit]]
    if best is not None:
        best = (best[0], best[1], float(spec.shown(best[2])))
    return PairSummary(pairs, n_passing, best)


def _scorer(spec: MetricSpec, corpus, queries, norms=None) -> Scorer:
    """The metric's scorer with the corpus norms computed once (never per block)."""
    if norms is not None or spec.scorer.uses_norms is None:
        return spec.scorer(corpus, queries, corpus_norms=norms)
    if spec.scorer.uses_norms == "squared":  # exact squares: a root and back would round them
        return spec.scorer(corpus, queries, corpus_sq=row_norms(corpus, squared=True))
    return spec.scorer(corpus, queries, corpus_norms=row_norms(corpus))


def extend_strongest_pairs(
    summary: PairSummary,
    x,
    n_old: int,
    threshold: float,
    method: str | Metric | MetricSpec = "cosine",
    *,
    limit: int = 500,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    norms: np.ndarray | None = None,
) -> PairSummary:
    """:func:`strongest_pairs` of ``x`` from the summary of its first ``n_old`` rows: only the
    pairs involving the appended rows are scored (``(n - n_old) x n`` instead of ``n x n / 2``).

    ``summary`` must be ``strongest_pairs(x[:n_old], threshold, method, limit=limit)``. The
    result has the same pairs, count and best pair as a full pass (a pair left out of a
    truncated old list is beaten by every listed one, so it cannot enter the new list).

    Parameters
    ----------
    summary : PairSummary
    x : array_like of shape (n, dim), checked vectors (``n >= n_old``)
    n_old : int
    threshold, method, limit, memory_budget_mb, norms
        As for :func:`strongest_pairs`.

    Returns
    -------
    PairSummary
    """
    spec = get_metric(method)
    x = as_matrix(x, "vectors", check_finite=False)
    n = x.shape[0]
    if not 0 <= n_old <= n:
        raise InvalidInputError(f"n_old must be in [0, {n}], got {n_old}")
    if n_old < 2:
        return strongest_pairs(
            x, threshold, spec, limit=limit, memory_budget_mb=memory_budget_mb,
            check_finite=False, norms=norms,
        )  # fmt: skip
    # Work in "higher is better", as strongest_pairs does (a distance as -distance).
    cut = np.float32(spec.engine_score(threshold))
    kept_i = np.array([p[0] for p in summary.pairs], dtype=np.int64)
    kept_j = np.array([p[1] for p in summary.pairs], dtype=np.int64)
    kept_s = np.array([spec.engine_score(p[2]) for p in summary.pairs], dtype=np.float32)
    n_passing = summary.n_passing
    best = None
    if summary.best is not None:
        best = (*summary.best[:2], float(spec.engine_score(summary.best[2])))
    budget = _check_budget(memory_budget_mb)
    scorer = _scorer(spec, x, x, norms)
    rows_per_block = max(1, min(n, budget // (12 * max(n, 1))))
    for q in row_blocks(n - n_old, rows_per_block):
        rows = slice(n_old + q.start, n_old + q.stop)
        # New row a against every row b < a: pairs (b, a); the rest is -inf.
        scores = scorer.finish(rows, scorer.block(rows, slice(0, n)))
        scores[
            np.arange(scores.shape[1])[None, :] >= np.arange(rows.start, rows.stop)[:, None]
        ] = -np.inf
        flat = int(np.argmax(scores))
        r, c = divmod(flat, scores.shape[1])
        if np.isfinite(scores[r, c]) and (best is None or scores[r, c] > best[2]):
            best = (int(c), rows.start + int(r), float(scores[r, c]))
        rows_local, cols_local = np.nonzero(scores >= cut)
        n_passing += rows_local.size
        kept_i = np.concatenate([kept_i, cols_local])
        kept_j = np.concatenate([kept_j, rows_local + rows.start])
        kept_s = np.concatenate([kept_s, scores[rows_local, cols_local]])
        kept_i, kept_j, kept_s = _strongest(kept_i, kept_j, kept_s, limit)
    order = np.lexsort((kept_j, kept_i, -kept_s))
    pairs = [(int(kept_i[o]), int(kept_j[o]), float(spec.shown(kept_s[o]))) for o in order[:limit]]
    if best is not None:
        best = (int(best[0]), int(best[1]), float(spec.shown(best[2])))
    return PairSummary(pairs, n_passing, best)


def _upper_triangle(scorer: Scorer, n: int, budget: int) -> Iterator[tuple[int, np.ndarray]]:
    """Blocks of the pairwise scores above the diagonal, higher is better (euclidean:
    -distance): ``(offset, scores)`` where ``scores[r, c]`` compares rows ``offset + r`` and
    ``offset + c``, and the diagonal and everything below it are -inf. Rows per block are sized
    so a block (scores, a temporary and two masks: about 12 bytes a cell) fits ``budget``.
    """
    rows_per_block = max(1, min(n, budget // (12 * max(n, 1))))
    for q in row_blocks(n, rows_per_block):
        scores = scorer.finish(q, scorer.block(q, slice(q.start, n)))
        scores[np.tri(*scores.shape, dtype=bool)] = -np.inf
        yield q.start, scores


def _strongest(i: np.ndarray, j: np.ndarray, s: np.ndarray, limit: int):
    """The ``limit`` highest scores (ties by lower (i, j)) of candidate pairs."""
    if s.size <= limit:
        return i, j, s
    # Everything at least as good as the limit-th score, then an exact order of those few.
    kth = np.partition(-s, limit - 1)[limit - 1]
    keep = np.flatnonzero(-s <= kth)
    order = keep[np.lexsort((j[keep], i[keep], -s[keep]))[:limit]]
    return i[order], j[order], s[order]


def row_cosines(a, b) -> np.ndarray:
    """Cosine of each row of ``a`` with the same row of ``b``; a zero row gives 0 (never NaN).

    Parameters
    ----------
    a, b : array_like of shape (n, dim) or (dim,)

    Returns
    -------
    ndarray of shape (n,), float32, within [-1, 1]
    """
    a, b = normalize(a), normalize(b)
    if a.shape != b.shape:
        raise InvalidInputError(f"a has shape {a.shape} but b has shape {b.shape}; they must match")
    cosines = np.einsum("ij,ij->i", a, b)
    return np.clip(cosines, -1.0, 1.0, out=cosines)
