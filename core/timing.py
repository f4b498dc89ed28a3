"""Wall-clock measurement shared by the live benchmark page and the benchmark harness."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


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
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be 0 or more, got {warmup}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))
