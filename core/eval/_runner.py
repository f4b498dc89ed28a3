"""Compare configurations (model, dimension, memory mode, metric) on the same labelled queries.

A configuration is written ``PROVIDER[:MODEL][,dim=N][,mode=MODE][,metric=METRIC]``, e.g.
``use-multilingual``, ``sentence-transformers:all-MiniLM-L6-v2,mode=int8`` or
``openai:text-embedding-3-small,dim=256,mode=binary,metric=dot``.

:func:`compare` embeds the documents and queries once per provider/model (through the batch
engine, so vectors already in the cache are not paid for again), then builds each configuration's
index with :func:`core.search.build_index`, searches and scores every query. Dimensions of the
Matryoshka models (``text-embedding-3-*``) are cut from the full vectors and renormalised — what
OpenAI's ``dimensions`` parameter does — so several dimensions cost one embedding run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.embedding._batching import embed_texts
from core.embedding._pricing import (
    PRICE_PER_MILLION_TOKENS_USD,
    CostEstimate,
    estimate_cost,
)
from core.embedding.providers import PROVIDER_NAMES, get_embedder
from core.errors import InvalidInputError
from core.eval._corpus import EvalCorpus
from core.eval._labels import LabelledQueries
from core.eval._metrics import METRICS, per_query_metrics
from core.eval._stats import DEFAULT_RESAMPLES, bootstrap_ci
from core.search._engine import Metric, normalize
from core.search._modes import MODES, build_index

__all__ = [
    "MATRYOSHKA_MODELS",
    "Comparison",
    "ConfigResult",
    "EvalConfig",
    "compare",
    "estimate_costs",
    "parse_config",
]

MATRYOSHKA_MODELS = ("text-embedding-3-small", "text-embedding-3-large")
_OPTIONS = ("dim", "mode", "metric")
_EXAMPLE = "e.g. openai:text-embedding-3-small,dim=256,mode=int8,metric=cosine"


@dataclass(frozen=True)
class EvalConfig:
    """One way to embed and search.

    Attributes
    ----------
    provider : str
        ``"use-multilingual"``, ``"sentence-transformers"``, ``"openai"``.
    model : str or None
        None: the provider's default model.
    dimensions : int or None
        Shorter vectors (text-embedding-3 models); None: the model's own.
    mode : str
        Memory mode, one of ``core.search.MODES``.
    metric : str
        ``"cosine"``, ``"dot"`` or ``"euclidean"``.
    """

    provider: str
    model: str | None = None
    dimensions: int | None = None
    mode: str = "float32"
    metric: str = "cosine"

    @property
    def label(self) -> str:
        """The configuration written as :func:`parse_config` reads it (defaults left out)."""
        text = self.provider + (f":{self.model}" if self.model else "")
        if self.dimensions:
            text += f",dim={self.dimensions}"
        if self.mode != "float32":
            text += f",mode={self.mode}"
        if self.metric != "cosine":
            text += f",metric={self.metric}"
        return text

    @property
    def embedding_source(self) -> tuple[str, str | None, int | None]:
        """(provider, model, dimensions to request): configurations sharing it share vectors."""
        cut_locally = self.model in MATRYOSHKA_MODELS
        return self.provider, self.model, None if cut_locally else self.dimensions


def parse_config(text: str) -> EvalConfig:
    """Read ``PROVIDER[:MODEL][,dim=N][,mode=MODE][,metric=METRIC]``.

    Raises
    ------
    InvalidInputError
        An unknown provider, option, mode or metric, or a dimension that is not a positive
        whole number; the message shows the valid values and an example.
    """
    head, *options = [part.strip() for part in text.split(",")]
    provider, _, model = head.partition(":")
    provider, model = provider.strip(), model.strip() or None
    if provider not in PROVIDER_NAMES:
        raise InvalidInputError(
            f"configuration {text!r}: unknown provider {provider!r}; choose one of "
            f"{', '.join(PROVIDER_NAMES)} ({_EXAMPLE})"
        )
    values: dict[str, Any] = {}
    for option in options:
        key, sep, value = (s.strip() for s in option.partition("="))
        if not sep or key not in _OPTIONS:
            raise InvalidInputError(
                f"configuration {text!r}: {option!r} is not an option; options are "
                f"{', '.join(o + '=' for o in _OPTIONS)} ({_EXAMPLE})"
            )
        values[key] = value
    dim = values.get("dim")
    if dim is not None and not (dim.isdigit() and int(dim) > 0):
        raise InvalidInputError(
            f"configuration {text!r}: dim={dim} is not a positive whole number ({_EXAMPLE})"
        )
    mode = values.get("mode", "float32")
    if mode not in MODES:
        raise InvalidInputError(
            f"configuration {text!r}: unknown mode {mode!r}; choose one of {', '.join(MODES)}"
        )
    metric = values.get("metric", "cosine")
    valid = [m.value for m in Metric]
    if metric not in valid:
        raise InvalidInputError(
            f"configuration {text!r}: unknown metric {metric!r}; choose one of {', '.join(valid)}"
        )
    return EvalConfig(provider, model, int(dim) if dim else None, mode, metric)


@dataclass
class ConfigResult:
    """What one configuration scored, and what it cost.

    Attributes
    ----------
    config : EvalConfig
    model : str
        The model actually used (the provider's default when the configuration names none).
    dimension : int
        Vector dimension searched.
    per_query : dict of str to ndarray of shape (n_queries,)
        Each metric of :data:`~core.eval.METRICS` per query.
    means : dict of str to float
    ci : dict of str to (float, float)
        Bootstrap confidence interval of each mean.
    ranked : ndarray of int64, shape (n_queries, k)
        Document indices each query retrieved, best first.
    embed_s : float
        Seconds to embed the documents and queries (shared by the configurations of one model;
        near 0 when every vector came from the cache; loading a local model is not counted).
    n_cached : int
        Texts served from the cache.
    search_ms_per_query : float
        Mean search time per query, in milliseconds.
    index_bytes : int
        Memory of the index (codes, norms, calibration).
    usd_per_million_tokens : float
    corpus_tokens : int
        Tokens of the distinct documents and queries.
    corpus_usd : float
        What embedding them costs at the list price (whether or not it was cached).
    """

    config: EvalConfig
    model: str
    dimension: int
    per_query: dict[str, np.ndarray]
    means: dict[str, float]
    ci: dict[str, tuple[float, float]]
    ranked: np.ndarray
    embed_s: float
    n_cached: int
    search_ms_per_query: float
    index_bytes: int
    usd_per_million_tokens: float
    corpus_tokens: int
    corpus_usd: float

    @property
    def label(self) -> str:
        return self.config.label


@dataclass
class Comparison:
    """Every configuration's result on one corpus and one set of labelled queries."""

    corpus: EvalCorpus
    queries: LabelledQueries
    k: int
    results: list[ConfigResult]
    confidence: float
    n_resamples: int
    notes: list[str] = field(default_factory=list)

    def result(self, label: str) -> ConfigResult:
        """The result of the configuration labelled ``label``."""
        for r in self.results:
            if r.label == label:
                return r
        raise InvalidInputError(
            f"no configuration {label!r} in this comparison; it has: "
            + ", ".join(r.label for r in self.results)
        )

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.results]


def _default_embedder(config: EvalConfig):
    provider, model, dimensions = config.embedding_source
    return get_embedder(provider=provider, model=model, dimensions=dimensions)


def _check_configs(configs: Sequence[EvalConfig], k: int) -> list[EvalConfig]:
    configs = [parse_config(c) if isinstance(c, str) else c for c in configs]
    if not configs:
        raise InvalidInputError("no configuration to compare; give at least one")
    labels = [c.label for c in configs]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise InvalidInputError(f"configuration(s) given twice: {', '.join(repeated)}")
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    for c in configs:
        # Without a model name the default model would be asked for shorter vectors by the API
        # instead of cut from full ones here: ask for the model to be named.
        if c.dimensions and c.provider == "openai" and c.model is None:
            raise InvalidInputError(
                f"configuration {c.label!r}: name the model to shorten (dim= applies to "
                "text-embedding-3-small or -large)"
            )
    return configs


def estimate_costs(
    corpus: EvalCorpus,
    queries: LabelledQueries,
    configs: Sequence[EvalConfig | str],
    *,
    cache=None,
    embedder_for: Callable[[EvalConfig], Any] | None = None,
) -> dict[tuple, CostEstimate]:
    """What embedding the documents and queries would send, per embedding source, before
    anything is sent.

    Parameters
    ----------
    corpus, queries
        The documents and labelled queries.
    configs : sequence of EvalConfig or str
    cache : EmbeddingCache or VectorByteStore, optional
        Texts it already holds are not counted (they will not be sent).
    embedder_for : callable, optional
        ``config -> embedder``; default :func:`core.embedding.providers.get_embedder`.

    Returns
    -------
    dict of (provider, model, dimensions) to CostEstimate
        Keyed by :attr:`EvalConfig.embedding_source`.
    """
    configs = _check_configs(configs, 1)
    make = embedder_for or _default_embedder
    texts = [*corpus.texts, *queries.texts]
    out = {}
    for config in configs:
        source = config.embedding_source
        if source not in out:
            out[source] = estimate_cost(texts, make(config), cache=cache)
    return out


def _vectors(vectors: np.ndarray, config: EvalConfig) -> np.ndarray:
    """Cut a Matryoshka model's vectors to ``config.dimensions`` and renormalise."""
    if config.dimensions is None or config.model not in MATRYOSHKA_MODELS:
        return vectors
    if config.dimensions > vectors.shape[1]:
        raise InvalidInputError(
            f"configuration {config.label!r}: dim={config.dimensions} is more than the model's "
            f"{vectors.shape[1]} dimensions"
        )
    return normalize(np.ascontiguousarray(vectors[:, : config.dimensions]))


def compare(
    corpus: EvalCorpus,
    queries: LabelledQueries,
    configs: Sequence[EvalConfig | str],
    *,
    k: int = 10,
    cache="default",
    embedder_for: Callable[[EvalConfig], Any] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Score every configuration on the same documents and labelled queries.

    Parameters
    ----------
    corpus : EvalCorpus
        ``n_docs`` documents.
    queries : LabelledQueries
        ``n_queries`` queries with relevant documents of ``corpus``.
    configs : sequence of EvalConfig or str
        Configurations (strings are read by :func:`parse_config`); labels must be distinct.
    k : int
        Cut-off of every metric.
    cache : "default", EmbeddingCache, VectorByteStore or None
        Where vectors already paid for are found and new ones kept (see
        :func:`core.embedding.embed_texts`).
    embedder_for : callable, optional
        ``config -> embedder`` for ``config.embedding_source``; default
        :func:`core.embedding.providers.get_embedder` (keys from the environment).
    n_resamples, confidence, seed
        Bootstrap of the confidence intervals (the same resamples for every configuration).
    progress : callable, optional
        Called with a short message before each step.

    Returns
    -------
    Comparison
        One :class:`ConfigResult` per configuration, in the given order.

    Raises
    ------
    InvalidInputError
        Bad configurations or ``k``; a provider that cannot be built (e.g. no API key).
    EmbeddingJobError
        A provider failed while embedding; what finished is in the cache.
    """
    configs = _check_configs(configs, k)
    make = embedder_for or _default_embedder
    say = progress or (lambda message: None)
    embedded: dict[tuple, tuple] = {}
    results, notes = [], []
    texts = [*corpus.texts, *queries.texts]
    for config in configs:
        source = config.embedding_source
        if source not in embedded:
            embedder = make(config)
            spec = embedder.spec
            say(
                f"embedding {len(corpus):,} documents and {len(queries):,} queries "
                f"with {spec.model}"
            )
            full = estimate_cost(texts, embedder)  # the list price, cached or not
            if not embedder.limits.remote:
                embedder.embed_batch(["warm-up"])  # load a local model outside the timing
            docs = embed_texts(corpus.texts, embedder, cache=cache)
            asked = embed_texts(queries.texts, embedder, cache=cache, role="query")
            embedded[source] = (
                spec.model,
                docs.vectors,
                asked.vectors,
                docs.elapsed_s + asked.elapsed_s,
                docs.n_cached + asked.n_cached,
                full,
            )
        model, doc_vectors, query_vectors, embed_s, n_cached, full = embedded[source]
        doc_vectors = _vectors(doc_vectors, config)
        query_vectors = _vectors(query_vectors, config)
        say(f"searching {config.label}")
        index = build_index(doc_vectors, config.mode)
        index.search(query_vectors[:1], k, config.metric)  # warm-up, not timed
        started = time.perf_counter()
        ranked, _ = index.search(query_vectors, k, config.metric)
        search_s = time.perf_counter() - started
        pool = index.rescore_pool(k)
        if pool is not None and pool >= index.n:
            note = (
                f"{config.label}: the binary index rescores min(n, {pool}) candidates, which here "
                f"is every one of the {index.n:,} documents, so it ranks exactly as float32; on "
                "a larger corpus it rescores a shortlist and can miss documents"
            )
            notes.append(note)
        per_query = per_query_metrics(ranked, queries.relevance, k)
        means, ci = {}, {}
        for name in METRICS:
            mean, low, high = bootstrap_ci(
                per_query[name], n_resamples=n_resamples, confidence=confidence, seed=seed
            )
            means[name], ci[name] = mean, (low, high)
        results.append(
            ConfigResult(
                config=config,
                model=model,
                dimension=int(doc_vectors.shape[1]),
                per_query=per_query,
                means=means,
                ci=ci,
                ranked=ranked,
                embed_s=embed_s,
                n_cached=n_cached,
                search_ms_per_query=1000 * search_s / max(len(queries), 1),
                index_bytes=int(index.nbytes),
                usd_per_million_tokens=PRICE_PER_MILLION_TOKENS_USD.get(model, 0.0)
                if config.provider == "openai"
                else 0.0,
                corpus_tokens=full.tokens,
                corpus_usd=full.usd,
            )
        )
    return Comparison(corpus, queries, k, results, confidence, n_resamples, notes)
