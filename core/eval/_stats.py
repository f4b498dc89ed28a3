"""How much to trust a difference: bootstrap confidence intervals and a paired test over queries.

Both treat the queries as the sample: a mean over 30 queries is an estimate, and two models
scored on the *same* queries are compared query by query (paired), which is far more sensitive
than comparing two independent intervals.

* :func:`bootstrap_ci` — percentile bootstrap of the mean: resample the queries with replacement
  ``n_resamples`` times. With the same ``seed`` and query count every configuration gets the same
  resamples.
* :func:`paired_test` — a two-sided paired randomisation (sign-flip) test of the mean per-query
  difference: under "no difference" each query's difference is as likely to have either sign.
  ``p = (1 + #{|mean of flipped| >= |observed|}) / (1 + n_resamples)``, never 0. The confidence
  interval of the difference is a paired bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError

DEFAULT_RESAMPLES = 1000
DEFAULT_TEST_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95

__all__ = ["PairedTest", "bootstrap_ci", "paired_test"]


def _defined(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise InvalidInputError(f"{name} must be one value per query, got shape {values.shape}")
    return values


def _check(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise InvalidInputError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must be between 0 and 1, got {confidence}")


def bootstrap_ci(
    values,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile-bootstrap confidence interval.

    Parameters
    ----------
    values : array_like of shape (n_queries,)
        One value per query; NaN (a query without a relevant document) is left out.
    n_resamples : int
        Bootstrap resamples of the queries.
    confidence : float
        Coverage of the interval, e.g. 0.95.
    seed : int
        Seed of the resampling (same seed, same resamples).

    Returns
    -------
    (mean, low, high) : tuple of float
        NaN when no value is defined; ``low == high == mean`` for a single query.
    """
    _check(n_resamples, confidence)
    values = _defined(values, "values")
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_resamples, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(values.mean()), float(low), float(high)


@dataclass(frozen=True)
class PairedTest:
    """The outcome of :func:`paired_test` for configurations A and B on one metric.

    Attributes
    ----------
    mean_a, mean_b : float
        Means over the queries both have a value for.
    difference : float
        ``mean_a - mean_b``.
    ci_low, ci_high : float
        Paired-bootstrap confidence interval of the difference.
    p_value : float
        Two-sided randomisation-test p-value (small: the difference is unlikely to be chance).
    wins, losses, ties : int
        Queries where A scores higher, lower, the same as B.
    n_queries : int
    confidence : float
    method : str
        How the p-value was computed, for display.
    """

    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    wins: int
    losses: int
    ties: int
    n_queries: int
    confidence: float
    method: str = "paired randomisation (sign-flip) test"

    def significant(self, alpha: float = 0.05) -> bool:
        """True when ``p_value < alpha``."""
        return bool(self.p_value < alpha)


def paired_test(
    a,
    b,
    *,
    n_resamples: int = DEFAULT_TEST_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> PairedTest:
    """Paired randomisation test and bootstrap interval of ``mean(a - b)`` over queries.

    Parameters
    ----------
    a, b : array_like of shape (n_queries,)
        Per-query values of the same metric for two configurations on the same queries; queries
        where either is NaN are left out.
    n_resamples : int
        Sign flips for the p-value (and bootstrap resamples for the interval).
    confidence : float
    seed : int

    Returns
    -------
    PairedTest

    Raises
    ------
    InvalidInputError
        Different lengths, or no query with a value on both sides.
    """
    _check(n_resamples, confidence)
    a, b = _defined(a, "a"), _defined(b, "b")
    if a.shape != b.shape:
        raise InvalidInputError(
            f"a has {a.size} queries and b has {b.size}; a paired test needs the same queries"
        )
    both = ~(np.isnan(a) | np.isnan(b))
    if not both.any():
        raise InvalidInputError("no query has a value for both configurations; nothing to compare")
    a, b = a[both], b[both]
    d = a - b
    observed = float(d.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_resamples, d.size))
    null = np.abs((signs * d).mean(axis=1))
    # A small tolerance so that float noise in the flipped sums does not undercount equal ones.
    extreme = int(np.count_nonzero(null >= abs(observed) - 1e-12))
    p_value = (1 + extreme) / (1 + n_resamples)
    _, low, high = bootstrap_ci(d, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return PairedTest(
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        difference=observed,
        ci_low=low,
        ci_high=high,
        p_value=float(min(p_value, 1.0)),
        wins=int(np.count_nonzero(d > 0)),
        losses=int(np.count_nonzero(d < 0)),
        ties=int(np.count_nonzero(d == 0)),
        n_queries=int(d.size),
        confidence=confidence,
    )
