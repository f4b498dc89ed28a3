"""Validation and norms: one ``as_matrix``, one finite check, one ``normalize``, and the one
generator every blocked loop of ``core.search`` walks (:func:`row_blocks`).

Public functions validate their input (shape, dtype, finite values) and raise
``InvalidInputError`` messages that name the actual values; private ``_`` helpers assume
checked input.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from core.errors import InvalidInputError

# Rows checked at once for NaN/inf, so the check never allocates a full-size boolean mask.
_FINITE_CHECK_ROWS = 16_384


def row_blocks(total: int, size: int, start: int = 0) -> Iterator[slice]:
    """Consecutive slices ``start:start+size``, ... covering ``start:total`` (the last shorter).

    Parameters
    ----------
    total : int
        End of the range (exclusive).
    size : int
        Rows per block, at least 1.
    start : int
        First row.
    """
    size = max(1, int(size))
    for lo in range(start, total, size):
        yield slice(lo, min(lo + size, total))


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
    for rows in row_blocks(x.shape[0], _FINITE_CHECK_ROWS):
        block = x[rows]
        # Summing is one cheap pass and propagates NaN/inf; only then look for the row. The
        # sum stays in the input's precision (SIMD, memory speed): if huge finite values
        # overflow it, the exact row check below finds nothing and the scan goes on.
        with np.errstate(over="ignore", invalid="ignore"):
            total = block.sum()
        if not np.isfinite(total):
            bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
            if bad.size:
                return rows.start + int(bad[0])
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


def _underflowed_rows(x: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """Rows whose float32 sum of squares is 0 although a value is not (only those rows read)."""
    zero = np.flatnonzero(sq == 0)
    return zero[x[zero].any(axis=1)] if zero.size else zero


def row_norms(x: np.ndarray, *, squared: bool = False) -> np.ndarray:
    """Euclidean norm of every row, float32 of shape (n,), without an ``(n, d)`` temporary.

    Rows whose float32 sum of squares would underflow or overflow are computed in float64.
    """
    with np.errstate(over="ignore", under="ignore"):  # such rows are redone below
        sq = np.vecdot(x, x)  # one SIMD pass, about 2x einsum
    norms = sq if squared else np.sqrt(sq)
    # A float32 square can underflow to 0 for a non-zero row: check every row that claims 0.
    extreme = np.union1d(_extreme_rows(sq), _underflowed_rows(x, sq))
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
        sq = np.vecdot(arr, arr)
    out = arr * _safe_inverse(np.sqrt(sq))[:, None]
    extreme = np.union1d(_extreme_rows(sq), _underflowed_rows(arr, sq))
    if extreme.size:
        rows = arr[extreme].astype(np.float64)
        rows /= np.max(np.abs(rows), axis=1, keepdims=True)  # scale first: no underflow
        out[extreme] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out
