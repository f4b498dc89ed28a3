"""BLAS threads: one place that holds NumPy's BLAS to a single thread for a while.

The engine's scans split the corpus across their own worker threads (BLAS threads inside them
would only contend), and live timings compare a matrix product with a Python loop on equal terms
(and keep a multithreaded BLAS from stalling for a core another process holds).
"""

from __future__ import annotations

import sys
import threading
from contextlib import AbstractContextManager

_lock = threading.Lock()
_controller = None
_modules_seen = -1


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


def single_threaded() -> AbstractContextManager:
    """Context manager: BLAS on one thread inside, the previous setting restored after.

    The limit is process-wide (BLAS has no per-thread setting), like threadpoolctl's own.
    """
    return controller().limit(limits=1, user_api="blas")
