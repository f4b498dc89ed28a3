"""Opt-in timings of one page run, for the dashboard benchmark (``core.bench._dashboard``).

Off unless ``WORKBENCH_TIMINGS`` names a file: then each instrumented run appends one JSON line
(the page, the wall-clock start, and seconds since the start at each named mark) to that file.
Off, :func:`laps` returns a shared no-op, so a mark costs one method call. Nothing of a
session's data is written: only mark names and times.
"""

from __future__ import annotations

import json
import os
import threading
import time

TIMINGS_ENV = "WORKBENCH_TIMINGS"
_write_lock = threading.Lock()


class _Off:
    def __call__(self, name: str) -> None:
        pass

    def done(self, **info) -> None:
        pass


_OFF = _Off()


class _Laps:
    def __init__(self, page: str, path: str) -> None:
        self.page, self.path = page, path
        self.wall = time.time()
        self.start = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self, name: str) -> None:
        """Mark the end of the step called ``name``."""
        self.marks.append((name, time.perf_counter() - self.start))

    def done(self, **info) -> None:
        """Write this run's marks, an ``end`` mark and ``info`` (plain values) as one JSON line."""
        self("end")
        line = {"page": self.page, "wall_start": self.wall, "marks": self.marks, **info}
        with _write_lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


def laps(page: str) -> _Laps | _Off:
    """A lap timer for this run of ``page``: ``lap("step")`` after each step, ``lap.done()`` at
    the end. A no-op unless ``WORKBENCH_TIMINGS`` is set."""
    path = os.environ.get(TIMINGS_ENV)
    return _Laps(page, path) if path else _OFF
