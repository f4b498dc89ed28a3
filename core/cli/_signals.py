"""SIGTERM handled like Ctrl-C: ``docker stop``, systemd and Kubernetes send it before killing.

Inside :func:`terminate_as_interrupt` a SIGTERM raises :class:`Terminated` (a
``KeyboardInterrupt``) in the main thread, so the same clean path runs: queued requests are
dropped, requests in flight finish and are cached, the process exits with
:data:`EXIT_TERMINATED` (128 + 15) instead of dying with finished work unsaved.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` for the duration (main thread only; elsewhere a
    no-op, since Python delivers signals to the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted_exit(exc: KeyboardInterrupt) -> tuple[int, str]:
    """The exit code and the message for an interruption."""
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED, (
            "terminated (SIGTERM); finished batches are cached, rerun the same command to resume"
        )
    return EXIT_INTERRUPTED, "interrupted; finished batches are cached, rerun to resume"
