"""Benchmark vectors: the real recall corpus, and large synthetic sets drawn to match it.

Speed does not depend on the text, but recall does, so recall is measured on real embeddings
(``core/bench/_recall_corpus.py``: docstrings of installed packages, embedded once by the project's
offline model and cached) and speed at 1M rows on Gaussian draws with that corpus's mean and
covariance, normalised to unit rows like the model's outputs. For a dimension other than the
corpus's 512, the draws use the leading ``d`` dimensions' marginal (d < 512) or independent
copies of the 512-d distribution side by side (block-diagonal covariance, d > 512).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.search._validation import row_blocks

_GEN_ROWS = 1 << 15


@dataclass(frozen=True)
class Moments:
    """Mean (d,) and Cholesky factor (d, d) of a corpus's covariance, float64."""

    mean: np.ndarray
    chol: np.ndarray
    source: str

    @classmethod
    def of(cls, x: np.ndarray, source: str) -> Moments:
        x64 = np.asarray(x, dtype=np.float64)
        cov = np.cov(x64, rowvar=False) + 1e-9 * np.eye(x64.shape[1])
        return cls(x64.mean(axis=0), np.linalg.cholesky(cov), source)

    def for_dim(self, d: int) -> Moments:
        """Moments of the ``d``-dimensional distribution described in the module docstring."""
        base = self.mean.size
        if d <= base:
            cov = self.chol @ self.chol.T
            return Moments(self.mean[:d], np.linalg.cholesky(cov[:d, :d]), self.source)
        copies = -(-d // base)
        mean = np.tile(self.mean, copies)[:d]
        chol = np.zeros((d, d))
        for i in range(copies):
            lo, hi = i * base, min(d, (i + 1) * base)
            chol[lo:hi, lo:hi] = self.chol[: hi - lo, : hi - lo]
        return Moments(mean, chol, self.source)


def draw(moments: Moments, n: int, d: int, *, seed: int = 0) -> np.ndarray:
    """``n`` unit float32 rows drawn from ``N(mean, cov)`` (then normalised), in blocks.

    Above the corpus's dimension the covariance is block-diagonal, so each copy is drawn with
    its own small factor instead of one dense (d, d) product.
    """
    m = moments.for_dim(d)
    base = min(d, moments.mean.size)
    spans = [(lo, min(d, lo + base)) for lo in range(0, d, base)]
    factors = [m.chol[lo:hi, lo:hi].T.astype(np.float32) for lo, hi in spans]
    mean = m.mean.astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, d), dtype=np.float32)
    for rows in row_blocks(n, _GEN_ROWS):
        z = rng.standard_normal((rows.stop - rows.start, d), dtype=np.float32)
        block = out[rows]
        for (a, b), factor in zip(spans, factors, strict=True):
            np.matmul(z[:, a:b], factor, out=block[:, a:b])
        block += mean
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return out


def synthetic_recall_set(n: int, n_queries: int, d: int = 512, *, seed: int = 1) -> dict:
    """A clustered stand-in for the real corpus (used only with ``--recall-source synthetic``)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, d))
    x = centres[rng.integers(0, 64, n + n_queries)] + 0.8 * rng.standard_normal((n + n_queries, d))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    meta = {"source": "synthetic clustered vectors (NOT real text)", "n_corpus": n}
    return {"corpus": x[n_queries:], "queries": x[:n_queries], "meta": meta}


def recall_set(source: str) -> dict:
    """``{"corpus", "queries", "meta"}`` from the cached real corpus or a synthetic stand-in."""
    if source == "synthetic":
        return synthetic_recall_set(4_000, 200)
    from core.bench import _recall_corpus as recall_corpus

    data = recall_corpus.load_or_build()
    data["meta"] = {**data["meta"], "source": "docstrings of installed packages (real text)"}
    return data
