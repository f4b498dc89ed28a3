"""BLAS threads: one place that holds NumPy's BLAS to a single thread for a while.

The engine's scans split the corpus across their own worker threads (BLAS threads inside them
would only contend), and live timings compare a matrix product with a Python loop on equal terms
(and keep a multithreaded BLAS from stalling for a core another process holds).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.RLock()
_controller = None
_modules_seen = -1
_depth = 0  # callers inside single_threaded(), across all threads
_limiter = None  # the limit the first of them applied; the last one restores it


def controller():
    """A threadpoolctl controller over the libraries loaded now.

    Building one scans the process's shared libraries (~1 ms), so it is kept, and rebuilt only
    when modules were imported since: a package imported later (FAISS, torch) can bring a BLAS
    of its own, which a controller built before would not know.
    """
    global _controller, _modules_seen
    with _lock:
        if _controller is None or len(sys.modules) != _modules_seen:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
            _modules_seen = len(sys.modules)
        return _controller


@contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS on one thread inside; the setting from before restored when the last caller leaves.

    The limit is process-wide (BLAS has no per-thread setting) and Streamlit serves every
    session from threads of one process, so overlapping callers are counted: the first one
    applies the limit and records the previous setting, the last one to leave restores it. (A
    plain save-and-restore per caller would let one session's exit lift another's limit midway,
    and leave BLAS single-threaded for good when exits interleave.)
    """
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = controller().limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limiter.restore_original_limits()
                _limiter = None
