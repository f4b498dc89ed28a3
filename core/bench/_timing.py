"""Wall-clock measurement shared by the live benchmark page and the benchmark harness.

:func:`measure` times a call a fixed number of times; :func:`timed` is the careful one for
live comparisons: BLAS held to one thread, garbage collected first, a warm-up, then as many
samples as fit a small time budget, summarised with their spread by :func:`timing_columns`.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInputError
from core.search import _blas as blas

# Each measurement by timed(): untimed warm-up calls for WARMUP_S (at least one, at most
# MAX_WARMUP_CALLS), then timed calls until they add up to TIME_BUDGET_S or MAX_SAMPLES, but at
# least min_samples.
TIME_BUDGET_S = 0.1
MAX_SAMPLES = 500
WARMUP_S = 0.02
MAX_WARMUP_CALLS = 50
DEFAULT_MIN_SAMPLES = 5


@dataclass(frozen=True)
class Timing:
    """Repeated wall-clock timings of one call, in seconds."""

    samples: tuple[float, ...]

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples)

    @property
    def min_s(self) -> float:
        return min(self.samples)

    @property
    def median_ms(self) -> float:
        return self.median_s * 1e3


def measure(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    repeats : int
        Timed calls, at least 1.
    warmup : int
        Untimed calls first (page faults, BLAS thread start-up, caches).

    Returns
    -------
    Timing
        The samples; use ``median_s`` as the headline number.
    """
    if repeats < 1:
        raise InvalidInputError(f"repeats must be at least 1, got {repeats}")
    if warmup < 0:
        raise InvalidInputError(f"warmup must be 0 or more, got {warmup}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))


@contextmanager
def _quiet_measurement() -> Iterator[None]:
    """BLAS on one thread (see :func:`core.search._blas.single_threaded`) and the young garbage
    collected first, so that a collection owed by earlier work does not land inside a timed call.
    Only generations 0 and 1: a full collection walks every object of the process (50-200 ms in a
    test runner or an app server holding many sessions, before every one of a benchmark's
    hundred cells), and an old-generation pass that still lands in a sample moves one sample,
    not the median the tables report. The collector stays on: switching it off is process-wide,
    and would pause it for every other session of the app while a benchmark runs."""
    gc.collect(1)
    with blas.single_threaded():
        yield


def timed(
    fn: Callable[[], object],
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    budget_s: float = TIME_BUDGET_S,
    max_samples: int = MAX_SAMPLES,
    warmup_s: float = WARMUP_S,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Time ``fn()`` with BLAS on one thread, after a warm-up, for about ``budget_s`` seconds.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    min_samples : int
        Timed calls at least (slow calls stop here), at least 1.
    budget_s : float
        Fast calls are timed again until their samples add up to this many seconds...
    max_samples : int
        ...or until there are this many samples, whichever comes first.
    warmup_s : float
        Untimed calls first until this much time has passed: at least one call, at most
        :data:`MAX_WARMUP_CALLS` (page faults, caches, lazily built buffers).
    clock : callable
        Seconds, monotonic; injectable for tests.

    Returns
    -------
    core.bench._timing.Timing
        The samples in seconds; see :func:`timing_columns` for the table's summary.
    """
    if min_samples < 1:
        raise InvalidInputError(f"min_samples must be at least 1, got {min_samples}")
    if max_samples < min_samples:
        raise InvalidInputError(f"max_samples ({max_samples}) is below min_samples ({min_samples})")
    with _quiet_measurement():
        start = clock()
        for _ in range(MAX_WARMUP_CALLS):
            fn()
            if clock() - start >= warmup_s:
                break
        samples: list[float] = []
        total = 0.0
        while len(samples) < min_samples or (total < budget_s and len(samples) < max_samples):
            start = clock()
            fn()
            elapsed = clock() - start
            samples.append(elapsed)
            total += elapsed
    return Timing(tuple(samples))


def timing_columns(timing: Timing) -> dict[str, float | int]:
    """The table columns of one measurement: median, minimum, quartiles (ms) and sample count."""
    q1, q3 = np.percentile(timing.samples, [25, 75])
    return {
        "median_ms": timing.median_ms,
        "min_ms": timing.min_s * 1e3,
        "q1_ms": float(q1) * 1e3,
        "q3_ms": float(q3) * 1e3,
        "samples": len(timing.samples),
    }
