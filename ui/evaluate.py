"""Streamlit glue of the Evaluate page: which configurations can run here, running them with
this session's embedders and store, and drawing the results.

Vectors: local models are shared (``ui.cache.local_embedder``); an OpenAI embedder is built with
this session's key (``ui.cache.embedder_for``); every vector goes through this session's
:class:`~ui.session_store.SessionVectorStore`, so a rerun never pays twice and nothing reaches
another session. Query and document text is shown in dataframes and ``st.text``: never Markdown.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.embedding._types import EmbedderSpec
from core.embedding.providers import (
    OPENAI,
    SENTENCE_TRANSFORMERS,
    USE_MULTILINGUAL,
    sentence_transformers_installed,
)
from core.eval import (
    METRIC_LABELS,
    METRICS,
    Comparison,
    EvalConfig,
    disagreements,
    estimate_costs,
    group_table,
    paired,
    summary_table,
    to_json,
)
from core.viz._eval import metric_bars_figure
from ui import cache, state
from ui.display import show_figure
from ui.secrets import configured_api_key

USE_CHOICE = "use-multilingual"
MINILM_CHOICE = "sentence-transformers:all-MiniLM-L6-v2"
OPENAI_CHOICES = ("openai:text-embedding-3-small", "openai:text-embedding-3-large")
CHART_METRICS = ("recall@k", "mrr@k", "ndcg@k", "map@k")


def model_choices() -> tuple[list[str], list[str]]:
    """(models that can run here, the default selection)."""
    choices = [USE_CHOICE]
    if sentence_transformers_installed():
        choices.append(MINILM_CHOICE)
    if configured_api_key() or st.session_state.get(state.BASE_URL):
        choices.extend(OPENAI_CHOICES)
    return choices, choices[:2]


def build_configs(models, modes, metric: str, dimensions: int | None) -> list[EvalConfig]:
    """Every chosen model in every chosen memory mode; ``dimensions`` applies to the -3 models
    (their full vectors are also kept)."""
    configs = []
    for choice in models:
        provider, _, model = choice.partition(":")
        dims = [None]
        if provider == OPENAI and dimensions:
            dims.append(dimensions)
        for dim in dims:
            for mode in modes:
                configs.append(EvalConfig(provider, model or None, dim, mode, metric))
    return configs


def embedder_for(config: EvalConfig):
    """This session's embedder for ``config`` (shared for local models)."""
    provider, model, dimensions = config.embedding_source
    if provider == USE_MULTILINGUAL:
        from core.embedding.providers._local import USE_MODEL

        model = USE_MODEL
    elif provider == SENTENCE_TRANSFORMERS:
        model = model or "all-MiniLM-L6-v2"
    return cache.embedder_for(EmbedderSpec(provider, model, dimensions))


def cost_lines(corpus, queries, configs) -> list[str]:
    """What the remote configurations would send, before anything is sent."""
    remote = [c for c in configs if c.provider == OPENAI]
    if not remote:
        return ["Local models only: nothing leaves this server and nothing costs money."]
    estimates = estimate_costs(
        corpus, queries, remote, cache=cache.session_store(), embedder_for=embedder_for
    )
    lines = []
    for (_, model, _), est in estimates.items():
        bound = "" if est.exact else " (upper bound)"
        lines.append(
            f"{model}: {est.n_texts:,} texts to send, {est.tokens:,} tokens{bound}, "
            f"{'about ' if est.price_text.startswith('$') else ''}{est.price_text}."
        )
    return lines


def display_table(comparison: Comparison) -> pd.DataFrame:
    """The summary with each metric as ``mean [low, high]`` text and rounded costs."""
    table = summary_table(comparison)
    out = table[["config", "dimension"]].copy()
    for name in METRICS:
        out[METRIC_LABELS[name].replace("@k", f"@{comparison.k}")] = [
            f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
            for m, lo, hi in zip(
                table[name], table[f"{name} low"], table[f"{name} high"], strict=True
            )
        ]
    out["embed s"] = table["embed s"].round(2)
    out["search ms/query"] = table["search ms/query"].round(3)
    out["index MB"] = table["index MB"].round(3)
    out["$ per 1M tokens"] = table["$ per 1M tokens"]
    out["corpus $"] = table["corpus $"].round(4)
    return out


def show_results(comparison: Comparison) -> None:
    """The table, the chart, the downloads, then the paired test and the per-query view."""
    k, level = comparison.k, round(100 * comparison.confidence)
    st.subheader("Results")
    st.caption(
        f"{len(comparison.queries)} labelled queries on {len(comparison.corpus)} documents "
        f"({comparison.corpus.name}); [low, high] is a {level}% bootstrap interval over queries."
    )
    st.dataframe(display_table(comparison), hide_index=True, width="stretch", key="eval_table")
    show_figure(
        metric_bars_figure(summary_table(comparison), CHART_METRICS, k=k, confidence=0.95),
        key="eval_chart",
    )
    groups = group_table(comparison, "ndcg@k")
    if not groups.empty:
        st.caption(f"nDCG@{k} by query group (mean over the queries of each group):")
        st.dataframe(groups.round(3), hide_index=True, width="stretch", key="eval_groups")
    for note in comparison.notes:
        st.caption(f"Note — {note}.")
    left, right = st.columns(2)
    left.download_button(
        "Download CSV",
        summary_table(comparison).to_csv(index=False).encode("utf-8"),
        file_name="evaluation.csv",
        mime="text/csv",
        key="eval_csv",
    )
    right.download_button(
        "Download JSON",
        to_json(comparison).encode("utf-8"),
        file_name="evaluation.json",
        mime="application/json",
        key="eval_json",
    )
    if len(comparison.results) < 2:
        return
    st.subheader("Configuration A against B")
    labels = comparison.labels
    a_col, b_col, m_col = st.columns(3)
    a = a_col.selectbox("A", labels, index=0, key="eval_a")
    b_default = next((i for i, x in enumerate(labels) if x.split(",")[0] != a.split(",")[0]), 1)
    b = b_col.selectbox("B", labels, index=b_default, key="eval_b")
    metric = m_col.selectbox(
        "Metric", METRICS, index=METRICS.index("ndcg@k"), key="eval_metric",
        format_func=lambda m: METRIC_LABELS[m].replace("@k", f"@{k}"),
    )  # fmt: skip
    if a == b:
        st.info("Choose two different configurations to compare them query by query.")
        return
    test = paired(comparison, a, b, metric)
    name = METRIC_LABELS[metric].replace("@k", f"@{k}")
    verdict = "significant" if test.significant() else "not significant"
    st.text(
        f"{name}: A {test.mean_a:.3f}, B {test.mean_b:.3f}, difference {test.difference:+.3f} "
        f"({level}% interval {test.ci_low:+.3f} to {test.ci_high:+.3f}); "
        f"A wins {test.wins}, loses {test.losses}, ties {test.ties} of {test.n_queries} queries; "
        f"p = {test.p_value:.4f} ({test.method}), {verdict} at 0.05."
    )
    table = disagreements(comparison, a, b, metric)
    if table.empty:
        st.info(f"A and B score every query the same on {name}.")
        return
    st.caption(f"The {len(table)} queries where they differ, largest difference first.")
    st.dataframe(table, hide_index=True, width="stretch", key="eval_disagreements")
