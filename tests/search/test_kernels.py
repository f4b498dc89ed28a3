"""core.search._kernels: the running top-k and its packed sort keys, against a plain sort."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.search._kernels import MAX_ROWS, TopK, order_keys, scan, topk_of_blocks
from core.search._merge import merge_topk

# Few distinct values, signed zeros and infinities: ties and sign handling are the risk.
SCORES = st.sampled_from([-np.inf, -2.5, -1.0, -0.0, 0.0, 1e-30, 0.5, 1.0, 3.0, np.inf])


def reference_topk(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query (column): ids of the k best rows, score descending then id ascending."""
    ids = np.array(
        [
            sorted(range(block.shape[0]), key=lambda r, c=c: (-block[r, c], r))[:k]
            for c in range(block.shape[1])
        ]
    )
    return ids, np.take_along_axis(block.T, ids, axis=1)


@given(
    scores=arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 5)), elements=SCORES),
    k=st.integers(1, 8),
    rows_per_push=st.integers(1, 13),
)
@settings(max_examples=300, deadline=None)
def test_topk_over_blocks_equals_a_full_stable_sort(scores, k, rows_per_push):
    n, m = scores.shape
    k = min(k, n)
    acc = TopK(m, k)
    for lo in range(0, n, rows_per_push):
        acc.push(scores[lo : lo + rows_per_push], lo)
    want_ids, want_scores = reference_topk(scores, k)
    np.testing.assert_array_equal(acc.ids, want_ids)
    np.testing.assert_array_equal(acc.scores, want_scores)


@given(
    scores=arrays(np.float32, st.integers(1, 60), elements=SCORES),
    seed=st.integers(0, 2**32 - 1),
)
def test_order_keys_sort_like_score_descending_then_id(scores, seed):
    ids = np.random.default_rng(seed).permutation(scores.size).astype(np.int64)
    got = np.argsort(order_keys(scores, ids), kind="stable")
    want = sorted(range(scores.size), key=lambda i: (-scores[i], ids[i]))
    assert got.tolist() == want


def test_empty_slots_sort_after_every_real_candidate():
    keys = order_keys(
        np.array([-np.inf, -np.inf], dtype=np.float32),
        np.array([np.iinfo(np.int64).max, MAX_ROWS - 1], dtype=np.int64),
    )
    assert keys[0] == keys[1]  # an empty slot ties with the last possible row, never before it


def test_scan_split_across_workers_merges_to_the_single_worker_result(rng):
    block = rng.standard_normal((5_000, 7)).astype(np.float32)
    block[100:120] = block[99]  # a run of tied rows

    def score_block(lo, hi, scratch):
        return block[lo:hi]

    one = scan(5_000, 7, 10, score_block, rows_per_block=300, workers=1)
    two = scan(5_000, 7, 10, score_block, rows_per_block=300, workers=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[0], reference_topk(block, 10)[0])


def test_scan_refuses_more_rows_than_the_keys_can_hold():
    with pytest.raises(ValueError, match="fewer than 4,294,967,296 rows"):
        scan(MAX_ROWS, 1, 1, lambda lo, hi, s: np.zeros((hi - lo, 1)), rows_per_block=64)


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 39), max_size=4, unique=True),
    k=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_the_kernel_and_merge_topk_agree_exactly_with_ties_and_signed_zeros(cuts, k, seed):
    rng = np.random.default_rng(seed)
    # Few distinct values, both zeros among them: ties everywhere, -0.0 == +0.0.
    values = np.array([-1.0, -0.0, 0.0, 0.5, 1.0], dtype=np.float32)
    scores = values[rng.integers(0, values.size, size=(40, 3))]
    whole = topk_of_blocks([(0, scores)], 3, k)
    bounds = [0, *sorted(cuts), 40]
    parts = [
        topk_of_blocks([(lo, scores[lo:hi])], 3, min(k, hi - lo))
        for lo, hi in itertools.pairwise(bounds)
    ]
    merged = merge_topk(parts, k)
    np.testing.assert_array_equal(merged[0], whole[0])
    np.testing.assert_array_equal(merged[1], whole[1])
    # And both equal a full stable sort by (score descending, index ascending).
    expected = np.argsort(-(scores.T + np.float32(0.0)), axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(whole[0], expected)


def test_scan_maps_the_kernel_over_given_shards_in_a_given_executor():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((500, 4)).astype(np.float32)
    seen = []

    def score_block(lo, hi, scratch):
        seen.append((lo, hi))
        return scores[lo:hi]

    shards = [slice(0, 130), slice(130, 131), slice(131, 500)]
    with ThreadPoolExecutor(2) as pool:
        ids, _ = scan(500, 4, 5, score_block, rows_per_block=64, executor=pool, shards=shards)
    expected = np.argsort(-scores.T, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(ids, expected)
    assert (130, 131) in seen and all(hi - lo <= 64 for lo, hi in seen)
