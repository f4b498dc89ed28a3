"""One memory budget for the whole app process, shared by every session.

Each session has its own limits (``ui.session_store``: 256 MiB of vectors; 256 MiB for a loaded
collection file), but a hosted app runs many sessions in one process: Community Cloud gives an
app roughly 690 MB to 2.7 GB, so four or five busy visitors could together get the whole app
killed for running out of memory — everyone's session with it. This module counts what the live
sessions hold (their vector stores and collections, followed through weak references so a
closed session stops counting when it is collected) plus what running benchmarks have reserved,
and refuses, with :class:`~core.errors.BudgetExceededError`, whatever would take the process
over ``WORKBENCH_MEMORY_BUDGET_MB`` (default 1,536 MiB; environment or secrets).

Only byte counts are shared here, never data: nothing of one session is reachable from another.
It does not import Streamlit's caches and holds no strong reference to any session's objects.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator

from core.errors import BudgetExceededError

BUDGET_ENV = "WORKBENCH_MEMORY_BUDGET_MB"
DEFAULT_BUDGET_BYTES = 1536 * 2**20
# Most memory one session's loaded collection file may take (also bounded by what is free).
SESSION_LOAD_BYTES = 256 * 2**20


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def nbytes_of(holder) -> int:
    """What a tracked object holds: a vector store's bytes or a collection's vectors."""
    if hasattr(holder, "nbytes") and not hasattr(holder, "embeddings"):
        return int(holder.nbytes)
    vectors = getattr(holder, "embeddings", None)
    return int(getattr(vectors, "nbytes", 0))


class ProcessBudget:
    """Bytes held by every live session of this process, against one limit.

    Parameters
    ----------
    limit : int, optional
        Bytes; default ``WORKBENCH_MEMORY_BUDGET_MB`` or 1,536 MiB.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit if limit is not None else _limit_from_env()
        # id -> weak reference: collections are unhashable dataclasses, so no WeakSet.
        self._holders: dict[int, weakref.ref] = {}
        self._reserved = 0
        self._lock = threading.RLock()

    def used(self, *, excluding=None) -> int:
        """Bytes held now (optionally not counting ``excluding``, an object being replaced)."""
        with self._lock:
            live = [ref() for ref in list(self._holders.values())]
            held = sum(nbytes_of(h) for h in live if h is not None and h is not excluding)
            return held + self._reserved

    def _tracks(self, holder) -> bool:
        ref = self._holders.get(id(holder))
        return ref is not None and ref() is holder

    def _track(self, holder) -> None:
        key = id(holder)
        holders = self._holders
        holders[key] = weakref.ref(holder, lambda _ref: holders.pop(key, None))

    def free(self) -> int:
        return max(0, self.limit - self.used())

    def _refuse(self, what: str, extra: int, used: int) -> BudgetExceededError:
        return BudgetExceededError(
            f"This app's memory, shared by everyone using it, is nearly full: the sessions open "
            f"now hold {_mib(used)} of the {_mib(self.limit)} it allows, and {what} needs "
            f"{_mib(extra)} more. Try a smaller collection or fewer documents, or come back in "
            "a few minutes, when other sessions have closed."
        )

    def admit(self, holder, extra: int, what: str, *, replacing=None) -> None:
        """Let ``holder`` grow by ``extra`` bytes (and track it), or raise
        :class:`~core.errors.BudgetExceededError` saying so; ``replacing`` (an object the new
        one replaces, e.g. the session's previous collection) is not counted."""
        with self._lock:
            used = self.used(excluding=replacing)
            if self._tracks(holder):  # growing: what it holds already is counted in used
                used -= nbytes_of(holder)
                total = nbytes_of(holder) + extra
            else:
                total = extra
            if extra > 0 and used + total > self.limit:
                raise self._refuse(what, extra, used)
            self._track(holder)

    @contextlib.contextmanager
    def reserving(self, extra: int, what: str) -> Iterator[None]:
        """Hold ``extra`` bytes for the duration (a benchmark's arrays), or refuse at once."""
        with self._lock:
            used = self.used()
            if used + extra > self.limit:
                raise self._refuse(what, extra, used)
            self._reserved += extra
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= extra

    def load_allowance(self) -> int:
        """Most bytes one more loaded collection may take: a session's share, if free."""
        return min(SESSION_LOAD_BYTES, self.free())


def _limit_from_env() -> int:
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET_BYTES
    try:
        limit = int(float(raw) * 2**20)
    except ValueError:
        raise ValueError(f"{BUDGET_ENV} must be a number of MB, got {raw!r}") from None
    if limit < 1:
        raise ValueError(f"{BUDGET_ENV} must be positive, got {raw!r}")
    return limit


_process_budget: ProcessBudget | None = None
_process_lock = threading.Lock()


def process_budget() -> ProcessBudget:
    """The budget of this process (created on first use, from the environment)."""
    global _process_budget
    with _process_lock:
        if _process_budget is None:
            _process_budget = ProcessBudget()
        return _process_budget


def reset_process_budget(limit: int | None = None) -> ProcessBudget:
    """A fresh process budget (tests, or after changing ``WORKBENCH_MEMORY_BUDGET_MB``)."""
    global _process_budget
    with _process_lock:
        _process_budget = ProcessBudget(limit)
        return _process_budget
