"""Bootstrap intervals and the paired randomisation test over queries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.eval import bootstrap_ci, paired_test


def test_bootstrap_interval_brackets_the_mean_and_matches_a_direct_resampling(rng):
    values = rng.random(40)
    mean, low, high = bootstrap_ci(values, n_resamples=500, seed=3)
    direct = np.random.default_rng(3).integers(0, 40, size=(500, 40))
    expected = np.quantile(values[direct].mean(axis=1), [0.025, 0.975])
    assert mean == pytest.approx(values.mean())
    assert (low, high) == pytest.approx(tuple(expected))
    assert low < mean < high
    assert bootstrap_ci([0.5, np.nan], n_resamples=10) == (0.5, 0.5, 0.5)
    assert all(np.isnan(bootstrap_ci([np.nan])))


def test_paired_test_p_value_agrees_with_exact_enumeration(rng):
    a = rng.random(10)
    b = a - rng.normal(0.1, 0.1, 10)
    d = a - b
    flips = np.array(list(itertools.product([-1.0, 1.0], repeat=10)))
    exact = np.mean(np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    result = paired_test(a, b, n_resamples=20_000, seed=1)
    assert result.p_value == pytest.approx(exact, abs=0.01)
    assert result.difference == pytest.approx(d.mean())
    assert result.ci_low <= result.difference <= result.ci_high
    assert result.wins + result.losses + result.ties == 10


def test_identical_configurations_are_not_significant_and_bad_input_is_named():
    same = paired_test([0.2, 0.5, 1.0], [0.2, 0.5, 1.0], n_resamples=200)
    assert same.p_value == 1.0 and same.ties == 3 and not same.significant()
    with pytest.raises(InvalidInputError, match=r"a has 2 queries and b has 3"):
        paired_test([1, 0], [1, 0, 1])
    with pytest.raises(InvalidInputError, match=r"no query has a value for both configurations"):
        paired_test([np.nan], [1.0])
    with pytest.raises(InvalidInputError, match=r"confidence must be between 0 and 1, got 1.5"):
        bootstrap_ci([1.0], confidence=1.5)
