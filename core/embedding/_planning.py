"""Pieces of the batch engine that need no network: long-text splitting, token and request
pacing, a shared Retry-After gate and retry delays. :mod:`core.embedding._job` puts them together.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from core.errors import InvalidInputError

CountTokens = Callable[[str], int]


def split_to_token_limit(text: str, count_tokens: CountTokens, limit: int) -> list[str]:
    """Cut ``text`` into consecutive pieces of at most ``limit`` tokens each.

    Works with any token counter: each cut is estimated from the text's characters per token,
    checked with ``count_tokens`` and shrunk until it fits, preferring to end just after
    whitespace. Work is bounded by windows a few pieces long, so a very long text costs about
    linear time. Whitespace-only pieces are dropped.

    Parameters
    ----------
    text : str
        Any text.
    count_tokens : callable
        ``count_tokens(str) -> int`` for the model.
    limit : int
        Most tokens per piece, at least 1.

    Returns
    -------
    list of str
        ``"".join(pieces)`` equals ``text`` up to dropped whitespace-only pieces.

    Raises
    ------
    ValueError
        When a single character is over ``limit`` tokens.
    """
    if limit < 1:
        raise InvalidInputError(f"limit must be at least 1 token, got {limit}")
    total = count_tokens(text)
    if total <= limit:
        return [text] if text.strip() else []
    chars_per_token = max(len(text) / max(total, 1), 0.25)
    window = int(limit * chars_per_token * 1.5) + 16
    pieces: list[str] = []
    rest = text
    while rest:
        head = rest[:window]
        n = count_tokens(head)
        if n <= limit and len(head) == len(rest):
            pieces.append(rest)
            break
        cut = len(head) if n <= limit else max(1, int(len(head) * limit / n * 0.95))
        while count_tokens(rest[:cut]) > limit:
            if cut == 1:
                raise InvalidInputError(
                    f"cannot split: the character {rest[0]!r} alone is over {limit} tokens"
                )
            cut = max(1, int(cut * 0.8))
        # End on whitespace when there is some in the last fifth of the piece.
        space = max(rest.rfind(" ", cut * 4 // 5, cut), rest.rfind("\n", cut * 4 // 5, cut))
        if space > 0 and count_tokens(rest[: space + 1]) <= limit:
            cut = space + 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return [piece for piece in pieces if piece.strip()]


class TokenPacer:
    """Client-side token bucket that keeps a job under a tokens-per-minute limit.

    The bucket holds at most ``burst`` tokens and refills at
    ``(safety * tokens_per_minute - burst) / 60`` tokens per second, so any 60 s span sends at most
    ``safety * tokens_per_minute`` tokens: a server enforcing the limit over a sliding minute never
    has to answer 429, while the job still runs close to the limit. Reservations may take the level
    below zero; each caller then waits its turn, first come first served.

    Parameters
    ----------
    tokens_per_minute : int
        The account's limit.
    burst : int
        Bucket size: at least the largest single request.
    safety : float
        Share of the limit to aim for (a margin for clock and network jitter).
    clock : callable
        Monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        tokens_per_minute: int,
        burst: int,
        *,
        safety: float = 0.98,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        budget = safety * tokens_per_minute
        if burst >= budget:
            raise InvalidInputError(
                f"tokens_per_minute={tokens_per_minute} leaves no room for a request of {burst} "
                "tokens: raise the limit or send smaller batches (batch_size)"
            )
        self.rate = (budget - burst) / 60.0
        self.capacity = float(burst)
        self._level = float(burst)
        self._clock = clock
        self._t = clock()
        self._lock = threading.Lock()

    def reserve(self, tokens: int) -> float:
        """Take ``tokens`` now; returns the seconds to wait before sending them."""
        with self._lock:
            now = self._clock()
            self._level = min(self.capacity, self._level + (now - self._t) * self.rate)
            self._t = now
            self._level -= tokens
            return 0.0 if self._level >= 0 else -self._level / self.rate

    def acquire(self, tokens: int, cancel: threading.Event) -> bool:
        """Wait until ``tokens`` may be sent; False if ``cancel`` was set meanwhile."""
        wait = self.reserve(tokens)
        return not cancel.wait(wait) if wait > 0 else not cancel.is_set()


class RequestPacer:
    """Keeps a job under a requests-per-minute limit by spacing request starts evenly.

    Starts are ``60 / (safety * requests_per_minute)`` seconds apart, so any 60 s span holds at
    most ``requests_per_minute`` of them (one at each end of the span included); workers take
    the next free slot first come, first served.

    Parameters
    ----------
    requests_per_minute : int
        The limit, at least 1.
    safety : float
        Share of the limit to aim for.
    clock : callable
        Monotonic seconds; injectable for tests.
    """

    def __init__(
        self,
        requests_per_minute: int,
        *,
        safety: float = 0.98,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if requests_per_minute < 1:
            raise InvalidInputError(
                f"requests_per_minute must be at least 1, got {requests_per_minute}"
            )
        self.requests_per_minute = int(requests_per_minute)
        self.interval = 60.0 / (safety * requests_per_minute)
        self._clock = clock
        self._next = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; returns the seconds to wait before sending."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
            return slot - now

    def acquire(self, cancel: threading.Event) -> bool:
        """Wait for a slot; False if ``cancel`` was set meanwhile."""
        wait = self.reserve()
        return not cancel.wait(wait) if wait > 0 else not cancel.is_set()


class Gate:
    """A shared "not before" time: after a Retry-After, every worker waits, not just one."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self, cancel: threading.Event) -> bool:
        """Wait until the gate opens; False if ``cancel`` was set meanwhile."""
        while True:
            with self._lock:
                delay = self._until - time.monotonic()
            if delay <= 0:
                return not cancel.is_set()
            if cancel.wait(delay):
                return False


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, min(max_s, base_s * 2**(attempt-1))]``."""
    return rng.uniform(0.0, min(max_s, base_s * 2 ** (attempt - 1)))
