"""Retrieval evaluation: which model, dimension, memory mode and metric suit these documents.

- documents and labels: :class:`EvalCorpus` (ids, source#row, exact text),
  :class:`LabelledQueries`, :func:`parse_labels`, :func:`read_labels`, :func:`sample_labels`
- metrics (trec_eval's definitions): :func:`per_query_metrics`, :func:`mean_metrics`,
  :func:`rank_scores`, :data:`METRICS`
- statistics over queries: :func:`bootstrap_ci`, :func:`paired_test` -> :class:`PairedTest`
- the comparison: :class:`EvalConfig`, :func:`parse_config`, :func:`estimate_costs`,
  :func:`compare` -> :class:`Comparison` of :class:`ConfigResult`
- reports: :func:`summary_table`, :func:`to_records`, :func:`to_json`, :func:`group_table`,
  :func:`disagreements`,
  :func:`paired`
"""

from core.eval._corpus import EvalCorpus
from core.eval._labels import (
    LABEL_EXTENSIONS,
    LabelledQueries,
    parse_labels,
    read_labels,
    sample_labels,
)
from core.eval._metrics import METRICS, mean_metrics, per_query_metrics, rank_scores
from core.eval._report import (
    METRIC_LABELS,
    disagreements,
    group_table,
    paired,
    summary_table,
    to_json,
    to_records,
)
from core.eval._runner import (
    MATRYOSHKA_MODELS,
    Comparison,
    ConfigResult,
    EvalConfig,
    compare,
    estimate_costs,
    parse_config,
)
from core.eval._stats import PairedTest, bootstrap_ci, paired_test

__all__ = [
    "LABEL_EXTENSIONS",
    "MATRYOSHKA_MODELS",
    "METRICS",
    "METRIC_LABELS",
    "Comparison",
    "ConfigResult",
    "EvalConfig",
    "EvalCorpus",
    "LabelledQueries",
    "PairedTest",
    "bootstrap_ci",
    "compare",
    "disagreements",
    "estimate_costs",
    "group_table",
    "mean_metrics",
    "paired",
    "paired_test",
    "parse_config",
    "parse_labels",
    "per_query_metrics",
    "rank_scores",
    "read_labels",
    "sample_labels",
    "summary_table",
    "to_json",
    "to_records",
]
