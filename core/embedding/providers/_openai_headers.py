"""What an OpenAI-compatible server's response headers say: how long to wait
(``Retry-After``, ``retry-after-ms``) and the rate limits (``x-ratelimit-*``)."""

from __future__ import annotations

import datetime
import email.utils
import math
import re
import time

from core.embedding._types import RateLimitHeaders

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _seconds(value: str) -> float | None:
    """A Retry-After number: seconds (``inf`` and huge values kept: the engine caps them);
    None when it is not a number or is NaN."""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return None if math.isnan(seconds) else max(0.0, seconds)


def _retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    Anything unreadable (``soon``, a bad date) is None: the engine then backs off as for a 429
    without the header; the request stays retryable.
    """
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        ms = _seconds(value)
        if ms is not None:
            return ms / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def parse_reset(value: str | None) -> float | None:
    """Seconds in an ``x-ratelimit-reset-*`` header: ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"0.5"``."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _int_header(headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def rate_limit_headers(headers) -> RateLimitHeaders | None:
    """The ``x-ratelimit-*`` headers of a response (OpenAI's names), or None if there are none."""
    if headers is None:
        return None
    found = RateLimitHeaders(
        limit_requests=_int_header(headers, "x-ratelimit-limit-requests"),
        limit_tokens=_int_header(headers, "x-ratelimit-limit-tokens"),
        remaining_requests=_int_header(headers, "x-ratelimit-remaining-requests"),
        remaining_tokens=_int_header(headers, "x-ratelimit-remaining-tokens"),
        reset_requests_s=parse_reset(headers.get("x-ratelimit-reset-requests")),
        reset_tokens_s=parse_reset(headers.get("x-ratelimit-reset-tokens")),
    )
    return None if found.empty else found
