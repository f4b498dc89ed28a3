"""Exact and compressed vector search: arrays in, ``(ids, scores)`` out.

Knows no texts, files or providers. The package is also callable: ``core.search(corpus,
queries, k)`` is :func:`search`.

- validation and norms: :func:`as_matrix`, :func:`normalize`, :func:`row_norms`,
  :func:`first_nonfinite_row`
- exact top-k search: :func:`search` (here, or ``backend="dask"`` on a cluster), :class:`Metric`;
  :func:`merge_topk` merges partial results (the reduce step of a blocked or sharded search);
  :func:`row_blocks`, the one block generator
- the metrics registry: :class:`MetricSpec` (name, similarity or distance, scorer, modes),
  :func:`get_metric`, :func:`metric_names`, :func:`register_metric`,
  :func:`unregister_metric`; scorers :class:`Scorer`, :class:`LinearScorer`
- memory modes (float32 / float16 / int8 / binary): :func:`build_index`, :data:`MODES`,
  :func:`recall_at_k`, :class:`QuantIndex`
- diversity: :func:`mmr` (maximal marginal relevance over candidates)
- pairs: :func:`similarity_matrix`, :func:`near_duplicates`, :func:`strongest_pairs` (and
  :func:`extend_strongest_pairs` after rows are appended),
  :func:`row_cosines`, :class:`PairSummary`
- memory tables: :func:`bytes_per_vector`, :func:`matrix_nbytes`, :func:`memory_table`
"""

import sys
import types

from core.search._backends import search  # local, or backend="dask"
from core.search._engine import (
    Metric,
    as_matrix,
    first_nonfinite_row,
    normalize,
    row_norms,
)
from core.search._memory import STORAGE_TYPES, bytes_per_vector, matrix_nbytes, memory_table
from core.search._merge import merge_topk
from core.search._metrics import (
    LinearScorer,
    MetricSpec,
    Scorer,
    get_metric,
    metric_names,
    register_metric,
    unregister_metric,
)
from core.search._mmr import mmr
from core.search._modes import MODES, QuantIndex, build_index, recall_at_k
from core.search._pairs import (
    PairSummary,
    extend_strongest_pairs,
    near_duplicates,
    row_cosines,
    similarity_matrix,
    strongest_pairs,
)
from core.search._validation import row_blocks

__all__ = [
    "MODES",
    "STORAGE_TYPES",
    "LinearScorer",
    "Metric",
    "MetricSpec",
    "PairSummary",
    "QuantIndex",
    "Scorer",
    "as_matrix",
    "build_index",
    "bytes_per_vector",
    "extend_strongest_pairs",
    "first_nonfinite_row",
    "get_metric",
    "matrix_nbytes",
    "memory_table",
    "merge_topk",
    "metric_names",
    "mmr",
    "near_duplicates",
    "normalize",
    "recall_at_k",
    "register_metric",
    "row_blocks",
    "row_cosines",
    "row_norms",
    "search",
    "similarity_matrix",
    "strongest_pairs",
    "unregister_metric",
]


class _CallableModule(types.ModuleType):
    """Lets ``core.search`` be both this package and the search function."""

    def __call__(self, *args, **kwargs):
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
