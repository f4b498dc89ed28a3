"""The benchmark page's suites: what each runs (``core.bench._live``) and how it is drawn.

Kept out of the page so the page only lays out widgets; each suite is a runner returning a tidy
table and a list of figure builders over that table (pure functions from ``core.viz._figures``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pandas as pd
import plotly.graph_objects as go

from core.bench import _live as live_bench
from core.bench import _live_checks as live_bench_checks
from core.bench import _timing as timing
from core.search import _kernels as kernels
from core.search._hnsw import available as hnsw_available
from core.viz import _charts as charts

# Largest synthetic corpus, in cells (n_docs * dim): 400 MB as float64, the biggest copy made.
MAX_CELLS = 50_000_000
SCALING_SIZES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000)


@dataclass(frozen=True)
class BenchConfig:
    """The page's knobs."""

    n_docs: int = 20_000
    dim: int = 384
    k: int = 10
    min_samples: int = timing.DEFAULT_MIN_SAMPLES
    n_queries: int = 16
    sizes: tuple[int, ...] = (1_000, 5_000, 20_000, 50_000)

    def peak_bytes(self) -> int:
        """About the most memory a run takes: the largest corpus as float64 and float32, plus
        a score block (what the app's shared memory budget reserves for it)."""
        n = max(self.n_docs, *self.sizes) if self.sizes else self.n_docs
        return n * self.dim * (8 + 4) + n * self.n_queries * 8

    def problems(self) -> list[str]:
        """What is wrong with this configuration, in words (empty when it can run)."""
        out = []
        if self.n_docs * self.dim > MAX_CELLS:
            out.append(
                f"{self.n_docs:,} documents × {self.dim} dimensions is "
                f"{self.n_docs * self.dim:,} numbers; the limit is {MAX_CELLS:,}. Use fewer "
                "documents or a smaller dimension."
            )
        if self.sizes and max(self.sizes) * self.dim > MAX_CELLS:
            out.append(
                f"the scaling size {max(self.sizes):,} is too large for dimension {self.dim}"
            )
        return out


Progress = Callable[[float, str], None]


def _no_checks(table: pd.DataFrame) -> list[str]:
    return []


@dataclass(frozen=True)
class Suite:
    title: str
    description: str
    run: Callable[[BenchConfig, Progress], pd.DataFrame]
    draw: tuple[Callable[[pd.DataFrame], go.Figure], ...]
    check: Callable[[pd.DataFrame], list[str]] = _no_checks


SPREAD = ("q1_ms", "q3_ms")


def _bar(x: str, y: str, title: str, y_title: str, log_y: bool = False, spread=SPREAD):
    return lambda t: charts.bar_figure(
        t, x=x, y=y, title=title, y_title=y_title, log_y=log_y, spread=spread
    )


def _per_document(table: pd.DataFrame) -> pd.DataFrame:
    """The quartiles of the vectorised-vs-loop table per document, in µs, for its error bars."""
    per_doc = 1e3 / table["n_docs"]
    return table.assign(us_q1=table["q1_ms"] * per_doc, us_q3=table["q3_ms"] * per_doc)


def _loop_chart(table: pd.DataFrame) -> go.Figure:
    return charts.bar_figure(
        _per_document(table),
        x="variant",
        y="us_per_doc",
        title="Time per document",
        y_title="µs per document (log)",
        log_y=True,
        spread=("us_q1", "us_q3"),
    )


def _checks(benchmark: str) -> Callable[[pd.DataFrame], list[str]]:
    return partial(live_bench_checks.suspect_results, benchmark)


SUITES: dict[str, Suite] = {
    "loop": Suite(
        "Vectorised vs Python loop",
        "One query scored against every document: one matrix-vector product, a Python loop "
        f"calling np.dot per document, and a pure-Python loop (on at most "
        f"{live_bench.PURE_PYTHON_MAX_DOCS:,} documents). Compare the time per document.",
        lambda c, p: live_bench.vectorised_vs_loop(c.n_docs, c.dim, min_samples=c.min_samples),
        (_loop_chart,),
        _checks("vectorised_vs_loop"),
    ),
    "dtype": Suite(
        "float64 vs float32",
        "The same top-k search in both precisions: float32 halves the memory and speeds up the "
        "matrix product; the top-k agreement shows what precision costs (usually nothing).",
        lambda c, p: live_bench.float64_vs_float32(
            c.n_docs, c.dim, k=c.k, n_queries=c.n_queries, min_samples=c.min_samples
        ),
        (
            _bar("dtype", "median_ms", "Search time", "median ms"),
            _bar("dtype", "memory_mb", "Corpus memory", "MB", spread=None),
        ),
        _checks("float64_vs_float32"),
    ),
    "topk": Suite(
        "argsort vs argpartition",
        "Picking the top k of each query's scores: a full sort against a partition that only "
        "sorts the k survivors.",
        lambda c, p: live_bench.argsort_vs_argpartition(
            c.n_docs, k=c.k, n_queries=c.n_queries, min_samples=c.min_samples
        ),
        (_bar("variant", "median_ms", "Top-k selection time", "median ms"),),
        _checks("argsort_vs_argpartition"),
    ),
    "scaling": Suite(
        "Scaling with corpus size",
        "Search time against the number of documents (log-log): straight lines of slope 1 are "
        "linear scans; the gap between lines is the constant factor. What each line measures:\n"
        + "\n".join(f"- **{name}**: {what}" for name, what in live_bench.SCALING_LINES.items()),
        lambda c, p: live_bench.scaling(
            c.sizes, c.dim, k=c.k, min_samples=c.min_samples, progress=p
        ),
        (
            lambda t: charts.line_figure(
                t,
                x="n_docs",
                y="median_ms",
                color="variant",
                title="Search time vs corpus size",
                x_title="documents",
                y_title="median ms",
                spread=SPREAD,
            ),
        ),
        _checks("scaling"),
    ),
    "memory": Suite(
        "Memory modes",
        "float32, float16, int8 and binary indexes of the same corpus"
        + (", and an approximate HNSW graph" if hnsw_available() else "")
        + ": memory, search time, build time and recall@k measured against exact float32 "
        "search. On small corpora int8 and binary can be slower than float32: the float32 scan "
        "multiplies the stored rows directly, while int8 first converts each block of codes to "
        "float32 and binary ranks by Hamming distance and then rescores its candidates with "
        "the float vectors; those fixed steps cost more than the bytes they save until the "
        "corpus no longer fits in the CPU caches (hundreds of thousands of rows). HNSW's build "
        "is paid once per collection (and saved with it).",
        lambda c, p: _memory_modes(c),
        (
            charts.recall_memory_figure,
            _bar("mode", "median_ms", "Search time per memory mode", "median ms"),
        ),
    ),
}


LIVE_MODES = live_bench.MEMORY_MODES + (("hnsw",) if hnsw_available() else ())


def _memory_modes(c: BenchConfig) -> pd.DataFrame:
    corpus, queries = live_bench.synthetic_corpus(c.n_docs, c.dim, n_queries=c.n_queries)
    return live_bench.memory_modes(
        corpus, queries, k=c.k, min_samples=c.min_samples, modes=LIVE_MODES
    )


def run_on_collection(embeddings, c: BenchConfig) -> dict[str, pd.DataFrame]:
    """Search times per method and memory modes on a real collection's vectors."""
    queries = live_bench.sample_queries(embeddings, c.n_queries)
    return {
        "collection_methods": live_bench.collection_search_times(
            embeddings, queries, k=c.k, min_samples=c.min_samples
        ),
        "collection_memory": live_bench.memory_modes(
            embeddings, queries, k=c.k, min_samples=c.min_samples, modes=LIVE_MODES
        ),
    }


COLLECTION_DRAW = {
    "collection_methods": (
        _bar(
            "method",
            "ms_per_query",
            "Search time per query on the collection",
            "ms / query",
            spread=None,
        ),
    ),
    "collection_memory": (charts.recall_memory_figure,),
}


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 document``, ``1,000 documents``; ``nouns`` for an irregular plural (query, queries)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {nouns or noun + 's'}"


METHOD_NOTE = (
    "Live measurements on this server with synthetic unit vectors (or your collection). Each "
    "number is the median of timed runs after warm-up runs: every measurement times at least "
    "*Repeats* runs, and fast calls are timed again until about "
    f"{timing.TIME_BUDGET_S * 1e3:.0f} ms have passed (up to {timing.MAX_SAMPLES:,} "
    "runs). BLAS runs on one thread, so a matrix product and a Python loop compete on equal "
    "terms. The engine's own searches are the exception: "
    f"**{live_bench.ENGINE}** (in *Search time vs corpus size*), the memory modes and the "
    "searches on your collection split a large scan across the engine's worker threads — up "
    f"to {kernels.n_workers()} here, one per usable core (at most 8) — each with "
    "single-threaded BLAS, as searches run in the app (FAISS, when shown, uses its own "
    "threads); the other variants use one core. The "
    "tables give the spread (fastest run and quartiles); "
    "error bars span the quartiles."
)


def caption(config: BenchConfig) -> str:
    """What the shown results were measured with, in words."""
    return (
        f"Measured with {plural(config.n_docs, 'document')} × "
        f"{plural(config.dim, 'dimension')}, k = {config.k}, "
        f"{plural(config.n_queries, 'query', 'queries')}, at least "
        f"{plural(config.min_samples, 'timed run')} per measurement."
    )


def busy_note(problems: list[str]) -> str:
    """The warning shown above results that contradict the expected order."""
    items = "\n".join(f"- {p}" for p in problems)
    return (
        "**These numbers contradict the expected order by a wide margin:**\n\n"
        f"{items}\n\nThe machine was most likely busy while measuring (another process, another "
        "benchmark or the browser competing for the CPU). Run the benchmark again when it is "
        "quieter; do not draw conclusions from this run."
    )


def combined_table(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All result tables stacked, with a ``benchmark`` column, for one CSV download."""
    frames = [table.assign(benchmark=name) for name, table in results.items()]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["benchmark", *[c for c in table.columns if c != "benchmark"]]]
