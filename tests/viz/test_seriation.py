"""Seriation: similar items end up next to each other; a permutation; bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from core.viz import seriation_order


def clustered(rng, n_groups=4, per_group=6, dim=24, noise=0.25):
    centres = rng.normal(size=(n_groups, dim))
    x = np.repeat(centres, per_group, axis=0) + noise * rng.normal(size=(n_groups * per_group, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.repeat(np.arange(n_groups), per_group)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_groups_become_contiguous_runs(seed, metric):
    rng = np.random.default_rng(seed)
    x, groups = clustered(rng)
    shuffle = rng.permutation(len(x))
    x, groups = x[shuffle], groups[shuffle]
    if metric == "cosine":
        scores, better = x @ x.T, True
    else:
        scores = np.sqrt(np.maximum(((x[:, None] - x[None]) ** 2).sum(-1), 0))
        better = False
    order = seriation_order(scores, higher_is_better=better)
    assert sorted(order.tolist()) == list(range(len(x)))
    assert order.dtype == np.int64
    runs = 1 + int(np.count_nonzero(np.diff(groups[order])))
    assert runs == 4  # each group is one block along the diagonal


def test_tiny_inputs_keep_their_order():
    assert seriation_order(np.ones((1, 1))).tolist() == [0]
    assert seriation_order(np.eye(2)).tolist() == [0, 1]


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        (np.zeros((2, 3)), r"square matrix, got shape \(2, 3\)"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "finite scores"),
        (np.zeros((1_001, 1_001), dtype=np.float32), "at most 1,000 items, got 1,001"),
    ],
)
def test_bad_input_is_refused(matrix, match):
    with pytest.raises(ValueError, match=match):
        seriation_order(matrix)
