"""core.bench._timing: how a live measurement is taken (BLAS threads, garbage collector, warm-up,
sample count against an injected clock) and summarised. No timing is asserted."""

from __future__ import annotations

import gc
import weakref

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from core.bench._timing import MAX_WARMUP_CALLS, Timing, timed, timing_columns


def blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


class FakeClock:
    """Every call of the timed function takes ``step`` seconds on this clock."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.calls = 0.0, step, 0

    def __call__(self) -> float:
        return self.now

    def work(self) -> None:
        self.calls += 1
        self.now += self.step


@pytest.mark.skipif(not blas_threads(), reason="NumPy's BLAS is not visible to threadpoolctl")
def test_timed_runs_every_call_with_one_blas_thread_and_restores_the_limit():
    seen = []
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        timed(lambda: seen.append(blas_threads()), min_samples=3, budget_s=0.0)
        assert blas_threads() == before  # the caller's setting is back
    assert len(seen) >= 4  # warm-up and timed calls alike
    assert all(threads == [1] * len(before) for threads in seen), seen


class Cycle:
    """An object in a reference cycle: only the cyclic garbage collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_timed_collects_garbage_first_and_leaves_the_collector_on():
    garbage = Cycle()
    alive = weakref.ref(garbage)
    del garbage
    seen = []
    timed(lambda: seen.append((alive() is None, gc.isenabled())), min_samples=2, budget_s=0.0)
    # Collected before the first call; the collector was never switched off (it is
    # process-wide: other sessions of the app would lose it while a benchmark runs).
    assert seen and all(seen_collected and enabled for seen_collected, enabled in seen)


def test_timed_warms_up_then_samples_until_the_budget():
    clock = FakeClock(step=1 / 64)  # binary fractions: the sums below are exact
    timing = timed(clock.work, min_samples=3, budget_s=1 / 8, warmup_s=1 / 32, clock=clock)
    assert isinstance(timing, Timing)
    assert timing.samples == (1 / 64,) * 8  # 8 x 1/64 s fill the 1/8 s budget
    assert clock.calls == 2 + 8  # two warm-up calls fill the 1/32 s warm-up


def test_timed_takes_min_samples_of_a_slow_call_and_caps_a_fast_one():
    slow = FakeClock(step=1.0)
    assert len(timed(slow.work, min_samples=4, budget_s=0.1, clock=slow).samples) == 4
    assert slow.calls == 1 + 4  # one warm-up call is enough when it outlasts the warm-up time
    fast = FakeClock(step=1e-6)
    timing = timed(fast.work, min_samples=2, budget_s=0.1, max_samples=50, clock=fast)
    assert len(timing.samples) == 50
    assert fast.calls == MAX_WARMUP_CALLS + 50


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_samples": 0}, "min_samples must be at least 1, got 0"),
        ({"min_samples": 5, "max_samples": 3}, r"max_samples \(3\) is below min_samples \(5\)"),
    ],
)
def test_timed_refuses_bad_sample_counts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        timed(lambda: None, **kwargs)


def test_timing_columns_median_spread_and_count():
    columns = timing_columns(Timing((0.004, 0.001, 0.003, 0.002, 0.010)))
    assert list(columns) == ["median_ms", "min_ms", "q1_ms", "q3_ms", "samples"]
    assert columns["median_ms"] == pytest.approx(3.0)
    assert columns["min_ms"] == pytest.approx(1.0)
    assert columns["q1_ms"] == pytest.approx(2.0)
    assert columns["q3_ms"] == pytest.approx(4.0)
    assert columns["samples"] == 5
