import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.search import mmr, normalize


def brute_mmr(query, candidates, k, lam):
    """Reference: the textbook greedy loop, written out plainly in float64."""
    unit = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-30)
    q = query / np.linalg.norm(query)
    rel = unit @ q
    chosen = []
    for _ in range(min(k, len(candidates))):
        best, best_score = None, -np.inf
        for i in range(len(candidates)):
            if i in chosen:
                continue
            red = max((unit[i] @ unit[j] for j in chosen), default=0.0)
            score = rel[i] if not chosen else lam * rel[i] - (1 - lam) * red
            if score > best_score + 1e-9:
                best, best_score = i, score
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 1.0])
def test_mmr_matches_the_greedy_definition(rng, lam):
    candidates = rng.standard_normal((30, 8)).astype(np.float32)
    query = rng.standard_normal(8).astype(np.float32)
    picked, relevance = mmr(query, candidates, 7, lam)
    assert picked.tolist() == brute_mmr(
        query.astype(np.float64), candidates.astype(np.float64), 7, lam
    )
    assert_allclose(relevance, (normalize(candidates) @ normalize(query)[0])[picked], atol=1e-6)


def test_lambda_one_is_relevance_order_and_zero_avoids_near_copies():
    base = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]], dtype=np.float32)
    query = np.array([1.0, 0.0], dtype=np.float32)
    assert mmr(query, base, 2, 1.0)[0].tolist() == [0, 1]
    assert mmr(query, base, 2, 0.0)[0].tolist()[1] == 2  # the near copy of the first is skipped


def test_k_larger_than_candidates_and_empty():
    assert mmr(np.ones(3), np.eye(3), 10, 0.5)[0].shape == (3,)
    assert mmr(np.ones(3), np.zeros((0, 3)), 2, 0.5)[0].shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lambda_mult": 1.5}, r"lambda_mult must be in \[0, 1\], got 1.5"),
        ({"lambda_mult": "x"}, r"lambda_mult must be a number in \[0, 1\], got 'x'"),
        ({"k": 0}, "k must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mmr(np.ones(3), np.eye(3), **{"k": 2, "lambda_mult": 0.5, **kwargs})


def test_dimension_mismatch_is_named():
    with pytest.raises(ValueError, match="the query has d=2 but the candidates have d=3"):
        mmr(np.ones(2), np.eye(3), 2)
