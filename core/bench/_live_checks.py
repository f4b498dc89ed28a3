"""Is a live benchmark result believable? Expected orders, checked with a wide margin.

A measured speed-up far below what the code always achieves, or a time that drops as the corpus
grows, is what a busy machine does to a measurement: :func:`suspect_results` says so in words,
so the page can ask for a re-run instead of showing nonsense as a finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from core.bench._live import (
    ARGPARTITION,
    ARGSORT,
    ENGINE,
    MATMUL_ARGSORT32,
    MATMUL_ARGSORT64,
    MATMUL_PARTITION,
    NUMPY_LOOP,
    PURE_PYTHON,
    VECTORISED,
)

# A result is suspect when it misses the expected speed-up by more than this factor.
SUSPECT_FACTOR = 1.5


@dataclass(frozen=True)
class Expectation:
    """``faster`` normally takes at most ``1 / speedup`` of the time ``slower`` takes.

    ``speedup`` is a conservative floor (the usual margin is far wider); below 1 it only says
    "not much slower". Judged only from ``min_n_docs`` documents, where fixed overheads no
    longer hide the difference.
    """

    faster: str
    slower: str
    speedup: float = 1.0
    min_n_docs: int = 0


@dataclass(frozen=True)
class Checks:
    """What a benchmark's table should show: the column that is compared, the column naming the
    rows, the expected orders, and whether time should grow with ``n_docs`` per row name."""

    label: str
    value: str = "median_ms"
    expected: tuple[Expectation, ...] = ()
    grows_with_n_docs: bool = False


# Keyed by the benchmark function's name.
CHECKS: dict[str, Checks] = {
    "vectorised_vs_loop": Checks(
        "variant",
        "us_per_doc",
        (Expectation(VECTORISED, NUMPY_LOOP, 3.0), Expectation(NUMPY_LOOP, PURE_PYTHON, 1.5)),
    ),
    "float64_vs_float32": Checks("dtype", expected=(Expectation("float32", "float64", 0.8),)),
    "argsort_vs_argpartition": Checks(
        "variant", expected=(Expectation(ARGPARTITION, ARGSORT, 0.8, min_n_docs=5_000),)
    ),
    "scaling": Checks(
        "variant",
        expected=(
            Expectation(MATMUL_PARTITION, NUMPY_LOOP, 3.0),
            Expectation(ENGINE, NUMPY_LOOP, 1.0, min_n_docs=5_000),
            Expectation(MATMUL_PARTITION, MATMUL_ARGSORT32, 0.8, min_n_docs=5_000),
            Expectation(MATMUL_ARGSORT32, MATMUL_ARGSORT64, 0.8, min_n_docs=5_000),
        ),
        grows_with_n_docs=True,
    ),
}


def suspect_results(
    benchmark: str, table: pd.DataFrame, *, factor: float = SUSPECT_FACTOR
) -> list[str]:
    """Results in ``table`` that contradict the expected order by a wide margin, in words.

    A measured speed-up below ``expectation.speedup / factor``, or a time that drops by more
    than ``factor`` as the corpus grows, is not something the code does: it is what a busy
    machine does to a measurement. An empty list means nothing looks wrong.

    Parameters
    ----------
    benchmark : str
        The function that made ``table`` (a key of :data:`CHECKS`); others are not judged.
    table : pandas.DataFrame
        As returned by that function.
    factor : float
        The margin, above 1.
    """
    checks = CHECKS.get(benchmark)
    if checks is None or table.empty:
        return []
    problems = []
    groups = table.groupby("n_docs", sort=True) if checks.grows_with_n_docs else [(None, table)]
    for n_docs, part in groups:
        values = dict(zip(part[checks.label], part[checks.value], strict=True))
        sizes = dict(
            zip(part[checks.label], part.get("n_docs", [math.inf] * len(part)), strict=True)
        )
        where = f" at {n_docs:,} documents" if n_docs is not None else ""
        for exp in checks.expected:
            if exp.faster not in values or exp.slower not in values:
                continue
            if min(sizes[exp.faster], sizes[exp.slower]) < exp.min_n_docs:
                continue
            fast, slow = values[exp.faster], values[exp.slower]
            if fast <= 0 or slow / fast >= exp.speedup / factor:
                continue
            normally = (
                f"normally at least {exp.speedup:g}x faster"
                if exp.speedup > 1
                else "normally no slower"
            )
            problems.append(
                f"{exp.faster}{where}: {_fmt(fast, checks.value)} against {exp.slower}'s "
                f"{_fmt(slow, checks.value)} ({_ratio(slow / fast)}), though it is {normally}."
            )
    if checks.grows_with_n_docs:
        for name, part in table.sort_values("n_docs").groupby(checks.label, sort=False):
            sizes, values = list(part["n_docs"]), list(part[checks.value])
            for (n0, t0), (n1, t1) in zip(
                zip(sizes, values, strict=True),
                zip(sizes[1:], values[1:], strict=True),
                strict=False,
            ):
                if t1 * factor < t0:
                    problems.append(
                        f"{name}: {_fmt(t1, checks.value)} at {n1:,} documents but "
                        f"{_fmt(t0, checks.value)} at {n0:,}; more documents never take less time."
                    )
    return problems


def _fmt(value: float, column: str) -> str:
    unit = "µs per document" if column == "us_per_doc" else "ms"
    return f"{value:.3g} {unit}"


def _ratio(speedup: float) -> str:
    return f"{speedup:.2g}x as fast" if speedup >= 1 else f"{1 / speedup:.2g}x slower"
