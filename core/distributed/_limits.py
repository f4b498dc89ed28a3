"""One request/token budget and one Retry-After pause for a whole Dask cluster.

Every worker of a job paces its requests through the same :class:`SharedRateLimit`, whose state
lives on the Dask scheduler (a ``distributed.Lock`` and two ``distributed.Variable``), not in any
worker: a worker that dies takes nothing with it, and a limit of 1,000,000 tokens per minute means
1,000,000 for the cluster, not per worker.

The pacing mirrors a provider's own sliding window: the scheduler keeps the send times and
sizes of the last ``window_s`` of requests (for the whole cluster), and each request takes the
earliest time, no earlier than the previous one, at which the window holding it stays within
``safety`` of the limit (with a small margin for jitter, :attr:`SharedRateLimit.margin_s`);
a provider's Retry-After moves the "not before" time of every worker.
Slot times are wall-clock (``time.time``); across machines that assumes synchronised clocks (NTP).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from core.distributed._cluster import require_distributed
from core.errors import InvalidInputError, RetryableEmbeddingError


@dataclass(frozen=True)
class SharedRateLimit:
    """A cluster-wide budget, usable from any task of the cluster that created it.

    Parameters
    ----------
    tokens_per_minute, requests_per_minute : int, optional
        The provider's limits (per ``window_s``); at least one.
    window_s : float
        The limit's window: 60 s for per-minute limits.
    safety : float
        Share of the limit to aim for.
    jitter_s : float, optional
        How late a request may reach the provider after its slot (connection, scheduling);
        default ``max(0.05 * window_s, 0.25)``.
    name : str
        Names the scheduler-side state; unique per job by default.
    """

    tokens_per_minute: int | None = None
    requests_per_minute: int | None = None
    window_s: float = 60.0
    safety: float = 0.95
    jitter_s: float | None = None
    name: str = field(default_factory=lambda: f"rate-{uuid.uuid4().hex[:12]}")

    def __post_init__(self) -> None:
        for label, value in (("tokens_per_minute", self.tokens_per_minute),
                             ("requests_per_minute", self.requests_per_minute)):  # fmt: skip
            if value is not None and (isinstance(value, bool) or value < 1):
                raise InvalidInputError(f"{label} must be a positive integer, got {value!r}")
        if self.tokens_per_minute is None and self.requests_per_minute is None:
            raise InvalidInputError(
                "a shared rate limit needs tokens_per_minute or requests_per_minute"
            )
        if not 0 < self.safety <= 1 or self.window_s <= 0:
            raise InvalidInputError("safety must be in (0, 1] and window_s positive")

    def start(self, client) -> SharedRateLimit:
        """Create the scheduler-side state (from the client, before any task uses it)."""
        distributed = require_distributed()
        distributed.Variable(f"{self.name}-log", client=client).set([])
        distributed.Variable(f"{self.name}-pause", client=client).set(0.0)
        return self

    @property
    def margin_s(self) -> float:
        """Slack after a window closes, for network and scheduling jitter."""
        return self.jitter_s if self.jitter_s is not None else max(0.05 * self.window_s, 0.25)

    def schedule(self, log: list, start: float, tokens: int) -> float:
        """The earliest send time ``>= start`` (and after every slot in ``log``, a time-sorted
        list of ``[time, tokens]``) that keeps every window within the budget."""
        budget_tokens = None if self.tokens_per_minute is None else \
            self.safety * self.tokens_per_minute  # fmt: skip
        budget_requests = None if self.requests_per_minute is None else \
            max(1, int(self.safety * self.requests_per_minute))  # fmt: skip
        slot = max(start, log[-1][0]) if log else start
        first = 0
        while True:
            while first < len(log) and log[first][0] <= slot - self.window_s:
                first += 1
            held = log[first:]
            over_tokens = budget_tokens is not None and \
                sum(t for _, t in held) + tokens > budget_tokens  # fmt: skip
            over_requests = budget_requests is not None and len(held) + 1 > budget_requests
            if not (over_tokens or over_requests):
                return slot
            # Wait for the oldest to leave the window, plus a margin: a request's arrival at
            # the provider lags its slot by a varying delay (connection, scheduling).
            slot = held[0][0] + self.window_s + self.margin_s

    def bind(self) -> _BoundLimit:
        """The scheduler-side state, bound here: call it in a task (or the client) thread; the
        result may then be used from any thread of this process (the engine's senders)."""
        return _BoundLimit(self)


class _BoundLimit:
    """A :class:`SharedRateLimit` bound to this process's connection to the scheduler."""

    def __init__(self, limit: SharedRateLimit) -> None:
        distributed = require_distributed()
        self.limit = limit
        try:
            worker = distributed.get_worker()
            scheduler, loop = worker.scheduler, worker.loop
        except ValueError:  # the client process
            client = distributed.get_client()
            scheduler, loop = client.scheduler, client.loop
        client = distributed.get_client()
        self._lock = distributed.Lock(f"{limit.name}-lock", scheduler_rpc=scheduler, loop=loop)
        self._log = distributed.Variable(f"{limit.name}-log", client=client)
        self._pause = distributed.Variable(f"{limit.name}-pause", client=client)
        self._local = threading.Lock()  # one sender of this process at a time holds the lock

    def reserve(self, tokens: int) -> float:
        """Take the next slot for a request of ``tokens``; returns the wall-clock time to send."""
        limit = self.limit
        if limit.tokens_per_minute is not None and tokens > limit.safety * limit.tokens_per_minute:
            raise InvalidInputError(
                f"one request of {tokens} tokens exceeds the shared limit of "
                f"{limit.tokens_per_minute} per {limit.window_s:g} s; send smaller batches"
            )
        with self._local, self._lock:
            now = time.time()
            log = [entry for entry in self._log.get() if entry[0] > now - limit.window_s]
            slot = limit.schedule(log, max(now, float(self._pause.get())), tokens)
            log.append([slot, tokens])
            self._log.set([entry for entry in log if entry[0] > slot - limit.window_s])
        return slot

    def acquire(self, tokens: int) -> None:
        """Wait for this request's slot in the cluster's schedule."""
        delay = self.reserve(tokens) - time.time()
        if delay > 0:
            time.sleep(delay)  # this sender's own turn; others keep reserving meanwhile

    def pause_all(self, seconds: float) -> None:
        """Retry-After: no worker of the cluster sends before ``seconds`` from now."""
        with self._local, self._lock:
            self._pause.set(max(float(self._pause.get()), time.time() + seconds))


class LimitedEmbedder:
    """An embedder whose every request goes through a :class:`SharedRateLimit`.

    Wraps any ``BatchEmbedder`` for :func:`core.embedding.embed_texts`: the engine keeps its
    batching, retries and cache; this adds the cluster's budget before each request and shares a
    server's Retry-After with the whole cluster. Everything else is the wrapped embedder's.
    """

    def __init__(self, embedder, limit: SharedRateLimit) -> None:
        self._embedder = embedder
        self._limit = limit.bind()

    def __getattr__(self, name):
        return getattr(self._embedder, name)

    def embed_batch(self, texts: list[str]):
        counter = getattr(self._embedder, "token_counter", None)
        counts = counter.count_many(texts) if counter is not None else None
        if counts is None:
            counts = [self._embedder.count_tokens(t) for t in texts]
        self._limit.acquire(sum(counts))
        try:
            return self._embedder.embed_batch(texts)
        except RetryableEmbeddingError as exc:
            if exc.retry_after is not None:
                self._limit.pause_all(exc.retry_after)
            raise
