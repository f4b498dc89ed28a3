"""Two-dimensional projections of embedding matrices for plotting (NumPy only).

PCA through a thin SVD of the centred corpus (for large corpora, through the eigenvectors of its
scatter matrix — the same right singular vectors — built in row blocks, so memory stays
``dim x dim``): the corpus defines the plane, and queries are
projected into the *same* plane with :meth:`Projection.transform`, so a query lands next to the
documents it resembles. Signs are fixed (largest loading of each component positive, as
scikit-learn's ``svd_flip`` does) so the picture does not mirror between runs.

A random Gaussian projection is offered as a second, cheaper method: no fitting, distances are
only roughly preserved (Johnson-Lindenstrauss), useful to show that PCA's structure is real.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError
from core.search._engine import as_matrix
from core.search._validation import row_blocks

METHODS = ("pca", "random")
# Up to this many cells (n_docs * dim) PCA takes the SVD of the centred float64 copy (~16 MB).
SVD_MAX_CELLS = 2_000_000
MAX_FIT_ROWS = 20_000


@dataclass(frozen=True)
class Projection:
    """A fitted linear projection ``y = (x - mean) @ components.T``.

    Attributes
    ----------
    method : str
        ``"pca"`` or ``"random"``.
    mean : numpy.ndarray
        float32 of shape (dim,), subtracted before projecting.
    components : numpy.ndarray
        float32 of shape (n_components, dim), one direction per row.
    explained_variance_ratio : numpy.ndarray
        float32 of shape (n_components,), share of the corpus variance each component keeps
        (for ``"random"``, the variance actually captured, which is usually small).
    """

    method: str
    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def axis_titles(self) -> tuple[str, ...]:
        """One axis title per component with the share of variance it keeps.

        ``("PCA 1 (5.2% of variance)", "PCA 2 (4.5% of variance)")``, or ``"Random axis 1
        (0.2% of variance)"``: small shares keep a significant digit (see :func:`format_share`).
        """
        name = "PCA" if self.method == "pca" else "Random axis"
        return tuple(
            f"{name} {i + 1} ({format_share(float(r))} of variance)"
            for i, r in enumerate(self.explained_variance_ratio)
        )

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Project rows of ``x`` into the fitted plane.

        Parameters
        ----------
        x : array_like of shape (n, dim) or (dim,)

        Returns
        -------
        numpy.ndarray
            float32 of shape (n, n_components).
        """
        x = as_matrix(x, "x")
        if x.shape[1] != self.mean.shape[0]:
            raise InvalidInputError(
                f"x has dimension {x.shape[1]} but the projection was fitted on dimension "
                f"{self.mean.shape[0]}; embed the queries with the same model as the corpus"
            )
        return np.ascontiguousarray((x - self.mean) @ self.components.T, dtype=np.float32)


def fit_projection(
    x: np.ndarray,
    method: str = "pca",
    *,
    n_components: int = 2,
    seed: int = 0,
    max_fit_rows: int | None = MAX_FIT_ROWS,
) -> Projection:
    """Fit a linear projection of the rows of ``x``.

    Parameters
    ----------
    x : array_like of shape (n_docs, dim)
        The corpus embeddings. One row works (it projects to the origin).
    method : {"pca", "random"}
        PCA via SVD, or a seeded random Gaussian projection with orthonormal rows.
    n_components : int
        Output dimension, at least 1. Components beyond ``min(n_docs, dim)`` are zero.
    seed : int
        Seed for ``"random"`` and for the row sample.
    max_fit_rows : int or None
        Fit on a seeded random sample of this many rows when the corpus is larger (a plot does
        not need more, and it keeps a 1M-document fit to seconds); ``None`` fits on every row.

    Returns
    -------
    Projection
    """
    if method not in METHODS:
        raise InvalidInputError(
            f"unknown projection method {method!r}; choose one of {list(METHODS)}"
        )
    if n_components < 1:
        raise InvalidInputError(f"n_components must be at least 1, got {n_components}")
    x = as_matrix(x, "x")
    n, dim = x.shape
    if n == 0:
        raise InvalidInputError(
            "cannot fit a projection on an empty matrix (0 rows); embed documents first"
        )
    if max_fit_rows is not None and n > max_fit_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=max_fit_rows, replace=False))
        x, n = x[rows], max_fit_rows
    # float64 for the decomposition: float32 sums over many rows lose the small components.
    mean = x.mean(axis=0, dtype=np.float64)
    components = np.zeros((n_components, dim), dtype=np.float64)
    captured = np.zeros(n_components)
    # A direct SVD only where rows are fewer than dimensions (then it is the cheaper one and
    # the scatter matrix would be rank-deficient); else the (dim, dim) scatter's eigh, which
    # costs one pass over the rows plus a small decomposition (0.2 s against up to several
    # seconds of SVD for 2,000 x 512 on a busy machine).
    if method == "pca" and n * dim <= SVD_MAX_CELLS and n < dim:
        centred = x.astype(np.float64) - mean
        total_var = float(np.einsum("ij,ij->", centred, centred))
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        kept = min(n_components, vt.shape[0])
        components[:kept] = vt[:kept]
        captured[:kept] = singular[:kept] ** 2
    else:
        scatter = _scatter_matrix(x, mean)  # (dim, dim), built in row blocks
        total_var = float(np.trace(scatter))
        if method == "pca":
            # Its eigenvectors are the centred data's right singular vectors; memory stays
            # dim x dim however many documents there are.
            values, vectors = np.linalg.eigh(scatter)
            order = np.argsort(values)[::-1][: min(n_components, dim, n)]
            components[: order.size] = vectors[:, order].T
        else:
            rng = np.random.default_rng(seed)
            q, _ = np.linalg.qr(rng.standard_normal((dim, n_components)))
            kept = min(n_components, q.shape[1])
            components[:kept] = q[:, :kept].T
        # Variance captured along each (unit or zero) component: c . S . c
        captured = np.clip(np.einsum("ij,jk,ik->i", components, scatter, components), 0.0, None)
    _fix_signs(components)
    ratio = captured / total_var if total_var > 0 else np.zeros(n_components)
    return Projection(
        method=method,
        mean=mean.astype(np.float32),
        components=np.ascontiguousarray(components, dtype=np.float32),
        explained_variance_ratio=ratio.astype(np.float32),
    )


_BLOCK_ROWS = 8_192


def _scatter_matrix(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``(x - mean).T @ (x - mean)`` in float64, one block of rows at a time: (dim, dim)."""
    dim = x.shape[1]
    scatter = np.zeros((dim, dim), dtype=np.float64)
    for rows in row_blocks(x.shape[0], _BLOCK_ROWS):
        block = x[rows].astype(np.float64) - mean
        scatter += block.T @ block
    return scatter


def format_share(ratio: float) -> str:
    """A fraction in [0, 1] as a percentage that never rounds a real share down to "0%".

    Whole percents from 10% (``"45%"``), one decimal from 1% (``"5.2%"``), one significant
    digit below that (``"0.2%"``, ``"0.04%"``), ``"<0.01%"`` under a ten-thousandth and ``"0%"``
    only for exactly nothing.
    """
    if not np.isfinite(ratio) or ratio < 0:
        raise InvalidInputError(f"a share of variance is a finite number >= 0, got {ratio}")
    percent = ratio * 100
    if percent == 0:
        return "0%"
    if percent < 0.01:
        return "<0.01%"
    if percent < 1:
        return f"{float(f'{percent:.1g}'):g}%"
    if percent < 10:
        return f"{percent:.1f}%"
    return f"{percent:.0f}%"


def _fix_signs(components: np.ndarray) -> None:
    """Make the largest-magnitude loading of every component positive (in place)."""
    for row in components:
        if not row.any():
            continue
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1.0
