"""Maximal marginal relevance: pick results that are relevant to the query and unlike each other.

Greedy selection (Carbonell & Goldstein, 1998): at each step take the candidate maximising
``lambda * sim(query, c) - (1 - lambda) * max(sim(c, s) for s already selected)``. Similarities
are cosines, as in LangChain's ``maximal_marginal_relevance``; ``lambda = 1`` is plain relevance
order, ``lambda = 0`` is maximal diversity. Arrays in, positions out: the caller picks the
candidates (usually the top ``fetch_k`` of an exact search).
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidInputError
from core.search._engine import as_matrix, normalize


def mmr(
    query,
    candidates,
    k: int = 4,
    lambda_mult: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Select ``k`` of ``candidates`` by maximal marginal relevance to ``query``.

    Parameters
    ----------
    query : array_like of shape (dim,) or (1, dim)
        One query vector.
    candidates : array_like of shape (n_candidates, dim)
        The vectors to choose from (for example the top ``fetch_k`` search hits).
    k : int
        How many to select; more than ``n_candidates`` selects them all.
    lambda_mult : float in [0, 1]
        Weight of relevance against diversity (1: relevance only, 0: diversity only).

    Returns
    -------
    positions : ndarray of shape (min(k, n_candidates),), int64
        Rows of ``candidates`` in selection order; ties go to the lower row.
    relevance : ndarray of shape (min(k, n_candidates),), float32
        Cosine of the query with each selected candidate.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    try:
        lam = float(lambda_mult)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"lambda_mult must be a number in [0, 1], got {lambda_mult!r}"
        ) from None
    if not 0.0 <= lam <= 1.0:
        raise InvalidInputError(f"lambda_mult must be in [0, 1], got {lambda_mult!r}")
    q = as_matrix(query, "query")
    if q.shape[0] != 1:
        raise InvalidInputError(f"mmr takes one query vector, got shape {q.shape}")
    c = as_matrix(candidates, "candidates")
    if c.shape[1] != q.shape[1]:
        raise InvalidInputError(
            f"dimension mismatch: the query has d={q.shape[1]} but the candidates have "
            f"d={c.shape[1]} (shape {c.shape})"
        )
    n = c.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    unit = normalize(c)
    relevance = np.clip(unit @ normalize(q)[0], -1.0, 1.0)
    k = min(int(k), n)
    chosen = np.empty(k, dtype=np.int64)
    # Highest similarity of each candidate to anything selected so far.
    redundancy = np.full(n, -np.inf, dtype=np.float32)
    available = np.ones(n, dtype=bool)
    for step in range(k):
        # The first pick is the most relevant; then relevance is traded against redundancy.
        score = relevance.copy() if step == 0 else lam * relevance - (1.0 - lam) * redundancy
        score[~available] = -np.inf
        pick = int(np.argmax(score))  # argmax returns the first maximum: ties by lower row
        chosen[step] = pick
        available[pick] = False
        np.maximum(redundancy, unit @ unit[pick], out=redundancy)
    return chosen, relevance[chosen].astype(np.float32)
