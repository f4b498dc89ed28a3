"""The metric functions against trec_eval (through pytrec_eval) on the same random runs.

The runs have many tied scores (small integer scores) and some queries with no relevant document.
trec_eval breaks ties by document name, descending; naming document ``i`` so that lower indices
sort last-to-first (``d{n - i}``) makes its order the one ``core`` uses (ties by lower index), so
both sides rank exactly the same documents.
"""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval
from numpy.testing import assert_allclose

from core.errors import InvalidInputError
from core.eval import METRICS, mean_metrics, per_query_metrics, rank_scores

TOL = 1e-12
TREC_MEASURES = {
    "recall@k": "recall_{k}",
    "precision@k": "P_{k}",
    "hit_rate@k": "success_{k}",
    "ndcg@k": "ndcg_cut_{k}",
    "map@k": "map_cut_{k}",
}


def doc_name(i: int, n: int) -> str:
    return f"d{n - i:05d}"


def random_run(rng, n_queries: int, n_docs: int, graded: bool):
    scores = rng.integers(0, 6, size=(n_queries, n_docs)).astype(np.float64)  # many ties
    relevance = []
    for q in range(n_queries):
        if q % 5 == 4:
            relevance.append({})  # no relevant document
            continue
        n_rel = int(rng.integers(1, 6))
        docs = rng.choice(n_docs, size=n_rel, replace=False)
        grades = rng.integers(1, 4, size=n_rel) if graded else np.ones(n_rel, int)
        judged = {int(d): int(g) for d, g in zip(docs, grades, strict=True)}
        # A judged non-relevant document (grade 0) counts for nothing.
        judged.setdefault(int(rng.integers(0, n_docs)), 0)
        relevance.append(judged)
    return scores, relevance


def trec_eval(scores, relevance, k: int) -> dict[str, np.ndarray]:
    n = scores.shape[1]
    qrels = {
        f"q{q}": {doc_name(d, n): g for d, g in rel.items()}
        for q, rel in enumerate(relevance)
        if any(g > 0 for g in rel.values())
    }
    run = {
        f"q{q}": {doc_name(d, n): float(s) for d, s in enumerate(row)}
        for q, row in enumerate(scores)
    }
    measures = {m.format(k=k) for m in TREC_MEASURES.values()}
    full = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    # trec_eval's recip_rank has no cut-off: give it the run cut to the top k.
    top = rank_scores(scores, k)
    cut = {
        f"q{q}": {doc_name(int(d), n): float(k - r) for r, d in enumerate(row)}
        for q, row in enumerate(top)
    }
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    out = {}
    for name, measure in TREC_MEASURES.items():
        out[name] = np.array(
            [
                full[f"q{q}"][measure.format(k=k)] if f"q{q}" in full else np.nan
                for q in range(len(relevance))
            ]
        )
    out["mrr@k"] = np.array(
        [rr[f"q{q}"]["recip_rank"] if f"q{q}" in rr else np.nan for q in range(len(relevance))]
    )
    return out


@pytest.mark.parametrize("k", [1, 3, 10, 40])
@pytest.mark.parametrize("graded", [False, True])
def test_every_metric_matches_trec_eval_with_ties_and_unjudged_queries(rng, k, graded):
    scores, relevance = random_run(rng, n_queries=25, n_docs=30, graded=graded)
    ours = per_query_metrics(rank_scores(scores, k), relevance, k)
    reference = trec_eval(scores, relevance, k)
    assert set(ours) == set(METRICS)
    for name in METRICS:
        assert_allclose(ours[name], reference[name], rtol=0, atol=TOL, equal_nan=True, err_msg=name)
    # Averages leave the unjudged queries out, like trec_eval's "all" line.
    means = mean_metrics(ours)
    for name in METRICS:
        assert means[name] == pytest.approx(np.nanmean(reference[name]), abs=TOL)
    assert np.isnan(ours["ndcg@k"][4]) and not np.isnan(ours["ndcg@k"][0])


def test_ties_rank_the_lower_index_first():
    scores = np.array([[1.0, 2.0, 2.0, 0.5, 2.0]])
    assert rank_scores(scores, 4).tolist() == [[1, 2, 4, 0]]
    ours = per_query_metrics(rank_scores(scores, 2), [{4: 1}], 2)
    assert ours["mrr@k"][0] == 0.0  # doc 4 ties with 1 and 2 but ranks third
    assert per_query_metrics(rank_scores(scores, 3), [{4: 1}], 3)["mrr@k"][0] == pytest.approx(
        1 / 3
    )


def test_padded_rankings_and_bad_arguments():
    padded = per_query_metrics(np.array([[2, -1, -1]]), [{2: 1, 5: 1}], 3)
    assert padded["recall@k"][0] == 0.5 and padded["precision@k"][0] == pytest.approx(1 / 3)
    with pytest.raises(InvalidInputError, match=r"k must be a positive integer, got 0"):
        per_query_metrics(np.zeros((1, 3), int), [{}], 0)
    with pytest.raises(InvalidInputError, match=r"2 rankings but relevance for 1 queries"):
        per_query_metrics(np.zeros((2, 3), int), [{}], 3)
    with pytest.raises(
        InvalidInputError, match=r"scores must be \(n_queries, n_docs\), got shape \(3,\)"
    ):
        rank_scores(np.zeros(3), 2)
