"""core.search._metrics: the registry is the only place a metric is defined."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.errors import InvalidInputError
from core.search import (
    MetricSpec,
    Scorer,
    build_index,
    get_metric,
    merge_topk,
    metric_names,
    register_metric,
    search,
    similarity_matrix,
    unregister_metric,
)


class ManhattanScorer(Scorer):
    """A throwaway metric: minus the L1 distance, scored block by block."""

    def block_rows(self, lo, hi, qt, scratch):
        rows = np.asarray(self.corpus[lo:hi], dtype=np.float32)
        return -np.abs(rows[:, None, :] - qt.T[None, :, :]).sum(axis=2, dtype=np.float32)

    ranking_is_final = True


@pytest.fixture
def manhattan():
    spec = register_metric(MetricSpec("manhattan", False, ManhattanScorer, description="L1"))
    yield spec
    unregister_metric("manhattan")


def test_a_registered_metric_is_searchable_everywhere_a_name_is_taken(manhattan, rng):
    corpus = rng.integers(-3, 4, size=(300, 5)).astype(np.float32)  # integer: exact ties
    queries = rng.integers(-3, 4, size=(4, 5)).astype(np.float32)
    distances = np.abs(corpus[None, :, :] - queries[:, None, :]).sum(axis=2)
    expected = np.argsort(distances, axis=1, kind="stable")[:, :7]
    ids, scores = search(corpus, queries, 7, "manhattan")
    assert_array_equal(ids, expected)
    assert_allclose(scores, -np.take_along_axis(distances, expected, 1))
    # The same metric through the float32 index, a merge of two halves and a full matrix.
    assert_array_equal(build_index(corpus, "float32").search(queries, 7, manhattan)[0], expected)
    halves = [
        search(corpus[:150], queries, 7, "manhattan"),
        search(corpus[150:], queries, 7, "manhattan"),
    ]
    merged = merge_topk([halves[0], (halves[1][0] + 150, halves[1][1])], 7)
    assert_array_equal(merged[0], expected)
    assert_allclose(similarity_matrix(queries, corpus, "manhattan"), distances)
    assert "manhattan" in metric_names()
    assert manhattan.label == "manhattan distance" and manhattan.shown(-2.0) == 2.0


def test_a_metric_refuses_modes_it_has_no_kernel_for(manhattan, rng):
    corpus = rng.standard_normal((50, 4)).astype(np.float32)
    with pytest.raises(
        InvalidInputError,
        match=r"'manhattan' is not available in mode 'int8'; it supports: float32",
    ):
        search(corpus, corpus[0], 3, "manhattan", mode="int8")
    with pytest.raises(InvalidInputError, match=r"'manhattan' is not available in mode 'binary'"):
        build_index(corpus, "binary").search(corpus[0], 3, "manhattan")


def test_unregistering_removes_the_name(rng):
    register_metric(MetricSpec("manhattan", False, ManhattanScorer))
    unregister_metric("manhattan")
    with pytest.raises(
        InvalidInputError,
        match=r"unknown method 'manhattan'; use one of 'cosine', 'dot', 'euclidean'",
    ):
        search(np.ones((3, 2)), np.ones(2), 1, "manhattan")


def test_registry_errors_name_the_problem(manhattan):
    with pytest.raises(InvalidInputError, match="already registered"):
        register_metric(MetricSpec("manhattan", False, ManhattanScorer))
    with pytest.raises(InvalidInputError, match="built-in metric and cannot be removed"):
        unregister_metric("cosine")
    with pytest.raises(InvalidInputError, match="no metric named 'chebyshev'"):
        unregister_metric("chebyshev")
    with pytest.raises(InvalidInputError, match="lower-case identifiers"):
        register_metric(MetricSpec("Big Metric", True, ManhattanScorer))
    with pytest.raises(InvalidInputError, match="must support mode 'float32'"):
        register_metric(MetricSpec("half", True, ManhattanScorer, frozenset({"float16"})))


def test_builtin_specs_say_how_values_read():
    assert [get_metric(n).is_distance for n in ("cosine", "dot", "euclidean")] == [
        False,
        False,
        True,
    ]
    assert get_metric("euclidean").label == "euclidean distance"
    assert get_metric("cosine").passes(0.95, 0.9) and get_metric("euclidean").passes(0.2, 0.3)
    assert get_metric(get_metric("DOT")) is get_metric("dot")


def test_cli_method_choices_come_from_the_registry():
    out = subprocess.run(
        [sys.executable, "-m", "core", "search", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "{cosine,dot,euclidean}" in out
