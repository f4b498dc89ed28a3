"""An order of rows that puts similar items next to each other (seriation), so that a heatmap
shows its structure as blocks along the diagonal instead of noise.

Average-linkage agglomerative clustering on the score matrix, in NumPy; the order is the
dendrogram's leaf order, each merge oriented so that the two most alike ends meet. Cubic in the
number of items: meant for the few hundred a heatmap can show, not a corpus.
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidInputError

MAX_ITEMS = 1_000


def seriation_order(scores: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """A permutation of ``range(n)`` that keeps similar items together.

    Parameters
    ----------
    scores : numpy.ndarray of shape (n, n)
        Symmetric similarities (``higher_is_better``) or distances; at most
        :data:`MAX_ITEMS` items. Only the upper triangle is read (ties: lower index first).
    higher_is_better : bool
        True for cosine / dot similarities, False for euclidean distances.

    Returns
    -------
    numpy.ndarray of shape (n,), int64
        Row (and column) order: ``scores[np.ix_(order, order)]`` is the reordered matrix.

    Raises
    ------
    InvalidInputError
        Not a finite square matrix, or more than :data:`MAX_ITEMS` items.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise InvalidInputError(f"seriation needs a square matrix, got shape {s.shape}")
    n = s.shape[0]
    if n > MAX_ITEMS:
        raise InvalidInputError(f"seriation orders at most {MAX_ITEMS:,} items, got {n:,}")
    if not np.isfinite(s).all():
        raise InvalidInputError("seriation needs finite scores (the matrix holds NaN or inf)")
    if n <= 2:
        return np.arange(n, dtype=np.int64)
    upper = np.triu(s, 1)
    sym = upper + upper.T  # symmetric, from the upper triangle
    dist = (sym.max() - sym) if higher_is_better else sym
    np.fill_diagonal(dist, 0.0)
    pair = dist.copy()  # item-to-item distances, for orienting merges
    d = dist.copy()
    np.fill_diagonal(d, np.inf)
    sizes = np.ones(n)
    orders: list[list[int] | None] = [[i] for i in range(n)]
    alive = np.ones(n, dtype=bool)
    for _ in range(n - 1):
        flat = int(np.argmin(d))  # first minimum: ties by index
        i, j = divmod(flat, n)
        i, j = min(i, j), max(i, j)
        a, b = orders[i], orders[j]
        # Of the four ways to join the two runs, the one whose meeting ends are closest.
        joins = [(a, b), (a, b[::-1]), (a[::-1], b), (a[::-1], b[::-1])]
        left, right = min(joins, key=lambda lr: pair[lr[0][-1], lr[1][0]])
        orders[i], orders[j] = [*left, *right], None
        # Lance-Williams update for average linkage.
        merged = (sizes[i] * d[i] + sizes[j] * d[j]) / (sizes[i] + sizes[j])
        sizes[i] += sizes[j]
        alive[j] = False
        merged[~alive] = np.inf
        merged[i] = np.inf
        d[i, :] = merged
        d[:, i] = merged
        d[j, :] = np.inf
        d[:, j] = np.inf
    return np.asarray(orders[0], dtype=np.int64)
