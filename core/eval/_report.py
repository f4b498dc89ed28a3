"""A comparison as tables and JSON: the summary, per query, where two configurations disagree.

* :func:`summary_table` — one row per configuration: each metric with its confidence interval,
  embedding time, search latency, index memory and cost (the CSV download).
* :func:`to_records` — the same, one JSON-ready object per configuration with ``per_query``
  (the ``--json`` output and the JSON download). Metric keys are written ``recall@k`` etc.;
  the cut-off is the ``k`` key.
* :func:`disagreements` and :func:`paired` — query by query, configuration A against B.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from core.errors import InvalidInputError
from core.eval._metrics import METRICS
from core.eval._runner import Comparison, ConfigResult
from core.eval._stats import PairedTest, paired_test

__all__ = [
    "METRIC_LABELS",
    "disagreements",
    "group_table",
    "paired",
    "summary_table",
    "to_json",
    "to_records",
]

METRIC_LABELS = {
    "recall@k": "Recall@k",
    "precision@k": "Precision@k",
    "hit_rate@k": "Hit rate@k",
    "mrr@k": "MRR@k",
    "ndcg@k": "nDCG@k",
    "map@k": "MAP@k",
}


def _num(value: float) -> float | None:
    """JSON has no NaN: an undefined value is null."""
    return None if value is None or math.isnan(value) else float(value)


def _config_fields(r: ConfigResult) -> dict:
    """What the configuration is: the first columns of the table and keys of each record."""
    return {
        "config": r.label,
        "provider": r.config.provider,
        "model": r.model,
        "dimension": r.dimension,
        "mode": r.config.mode,
        "metric": r.config.metric,
    }


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def summary_table(comparison: Comparison) -> pd.DataFrame:
    """One row per configuration.

    Columns: ``config``, ``provider``, ``model``, ``dimension``, ``mode``, ``metric``; per metric
    ``<metric>``, ``<metric> low`` and ``<metric> high`` (the confidence interval); then
    ``embed s``, ``cached texts``, ``search ms/query``, ``index MB``, ``$ per 1M tokens``,
    ``corpus tokens`` and ``corpus $``.
    """
    rows = []
    for r in comparison.results:
        row = _config_fields(r)
        for name in METRICS:
            row[name] = r.means[name]
            row[f"{name} low"], row[f"{name} high"] = r.ci[name]
        row.update(
            {
                "embed s": r.embed_s,
                "cached texts": r.n_cached,
                "search ms/query": r.search_ms_per_query,
                "index MB": r.index_bytes / 2**20,
                "$ per 1M tokens": r.usd_per_million_tokens,
                "corpus tokens": r.corpus_tokens,
                "corpus $": r.corpus_usd,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_defined(values: np.ndarray) -> float | None:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else None


def _group_means(comparison: Comparison, r: ConfigResult) -> dict[str, dict[str, float | None]]:
    groups = comparison.queries.groups
    out = {}
    for group in dict.fromkeys(g for g in groups if g):
        rows = comparison.queries.subset(group)
        out[group] = {name: _mean_defined(r.per_query[name][rows]) for name in METRICS}
    return out


def group_table(comparison: Comparison, metric: str = "ndcg@k") -> pd.DataFrame:
    """Mean ``metric`` per configuration (rows) and query group (columns, e.g.
    ``cross-lingual``); empty when the queries have no groups."""
    rows = []
    for r in comparison.results:
        means = _group_means(comparison, r)
        if means:
            rows.append({"config": r.label, **{g: m[metric] for g, m in means.items()}})
    return pd.DataFrame(rows)


def _per_query(comparison: Comparison, r: ConfigResult) -> list[dict]:
    corpus, queries = comparison.corpus, comparison.queries
    out = []
    for q, text in enumerate(queries.texts):
        item = {"query": text, "relevant": queries.relevant_ids(corpus, q)}
        if queries.groups[q]:
            item["group"] = queries.groups[q]
        item.update({name: _num(r.per_query[name][q]) for name in METRICS})
        item["ranked"] = [corpus.label(int(i)) for i in r.ranked[q] if i >= 0]
        out.append(item)
    return out


def to_records(comparison: Comparison) -> list[dict]:
    """One JSON-ready object per configuration.

    Keys: ``config``, ``provider``, ``model``, ``dimension``, ``mode``, ``metric``, ``k``,
    ``n_queries``, ``n_documents``; each metric (``recall@k``, ``precision@k``, ``hit_rate@k``,
    ``mrr@k``, ``ndcg@k``, ``map@k``; averaged over queries) and ``ci`` (metric -> [low, high]);
    ``embed_s``, ``cached_texts``, ``search_ms_per_query``, ``index_bytes``,
    ``usd_per_million_tokens``, ``corpus_tokens``, ``corpus_usd``; ``groups`` (query group ->
    metric -> mean, e.g. ``cross-lingual``; empty without groups); and ``per_query`` (per query:
    ``query``, ``relevant``, each metric, ``ranked`` — the top-k document ids).
    """
    records = []
    for r in comparison.results:
        record = _config_fields(r)
        record.update(
            k=comparison.k, n_queries=len(comparison.queries), n_documents=len(comparison.corpus)
        )
        record.update({name: _num(r.means[name]) for name in METRICS})
        record["ci"] = {name: [_num(v) for v in r.ci[name]] for name in METRICS}
        record["confidence"] = comparison.confidence
        record.update(
            {
                "embed_s": r.embed_s,
                "cached_texts": r.n_cached,
                "search_ms_per_query": r.search_ms_per_query,
                "index_bytes": r.index_bytes,
                "usd_per_million_tokens": r.usd_per_million_tokens,
                "corpus_tokens": r.corpus_tokens,
                "corpus_usd": r.corpus_usd,
                "groups": _group_means(comparison, r),
                "per_query": _per_query(comparison, r),
            }
        )
        records.append(record)
    return records


def to_json(comparison: Comparison, *, indent: int | None = 2) -> str:
    """:func:`to_records` as a JSON array (UTF-8 text, non-ASCII kept)."""
    return json.dumps(to_records(comparison), ensure_ascii=False, indent=indent)


def paired(comparison: Comparison, a: str, b: str, metric: str = "ndcg@k", **options) -> PairedTest:
    """Paired test of configuration ``a`` against ``b`` on ``metric``
    (:func:`core.eval.paired_test`; ``options`` go to it)."""
    _check_metric(metric)
    return paired_test(
        comparison.result(a).per_query[metric], comparison.result(b).per_query[metric], **options
    )


def disagreements(
    comparison: Comparison, a: str, b: str, metric: str = "ndcg@k", *, only_different: bool = True
) -> pd.DataFrame:
    """Query by query, ``a`` against ``b``: who wins on ``metric`` and what each ranked first.

    Returns
    -------
    pandas.DataFrame
        Columns ``query``, ``relevant``, ``<a>`` and ``<b>`` (the metric), ``winner``
        (``a``, ``b`` or ``tie``), ``first by <a>``, ``first by <b>`` (id and text of each
        one's top document); the queries where they differ first, largest difference first.
    """
    if a == b:
        raise InvalidInputError(f"choose two different configurations, not {a!r} twice")
    _check_metric(metric)
    ra, rb = comparison.result(a), comparison.result(b)
    corpus, queries = comparison.corpus, comparison.queries
    rows = []
    for q, text in enumerate(queries.texts):
        va, vb = ra.per_query[metric][q], rb.per_query[metric][q]
        winner = "tie" if va == vb or (math.isnan(va) and math.isnan(vb)) else a if va > vb else b
        if only_different and winner == "tie":
            continue
        rows.append(
            {
                "query": text,
                "relevant": "; ".join(queries.relevant_ids(corpus, q)),
                a: va,
                b: vb,
                "winner": winner,
                f"first by {a}": _first(comparison, ra, q),
                f"first by {b}": _first(comparison, rb, q),
                "_gap": abs(va - vb) if winner != "tie" else 0.0,
            }
        )
    columns = ["query", "relevant", a, b, "winner", f"first by {a}", f"first by {b}"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows).sort_values("_gap", ascending=False, kind="stable")
    return frame[columns].reset_index(drop=True)


def _first(comparison: Comparison, r: ConfigResult, q: int) -> str:
    if r.ranked.shape[1] == 0:
        return ""
    i = int(r.ranked[q, 0])
    return f"{comparison.corpus.label(i)}: {comparison.corpus.texts[i]}"
