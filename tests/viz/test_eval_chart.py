"""The evaluation bar chart: one trace per configuration, error bars from the interval."""

from __future__ import annotations

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from core.errors import InvalidInputError
from core.viz import metric_bars_figure


def test_bars_carry_the_interval_as_asymmetric_error_bars():
    table = pd.DataFrame(
        {
            "config": ["a", "b"],
            "ndcg@k": [0.9, 0.3],
            "ndcg@k low": [0.8, 0.1],
            "ndcg@k high": [0.95, 0.5],
            "mrr@k": [0.85, 0.25],
            "mrr@k low": [0.7, 0.1],
            "mrr@k high": [0.9, 0.4],
        }
    )
    fig = metric_bars_figure(table, ["ndcg@k", "mrr@k"], k=5)
    assert [t.name for t in fig.data] == ["a", "b"]
    first = fig.data[0]
    assert list(first.x) == ["nDCG@5", "MRR@5"]
    assert_allclose(first.error_y.array, [0.05, 0.05], atol=1e-12)
    assert_allclose(first.error_y.arrayminus, [0.1, 0.15], atol=1e-12)
    assert "95% bootstrap interval" in fig.layout.title.text
    with pytest.raises(InvalidInputError, match=r"the table has no column\(s\) map@k, map@k low"):
        metric_bars_figure(table, ["map@k"], k=5)
