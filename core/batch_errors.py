"""Exceptions shared by the batch engine and the providers."""

from __future__ import annotations


class RetryableEmbeddingError(Exception):
    """Raised by a provider for a failure worth retrying (429, 5xx, timeout, connection).

    Parameters
    ----------
    message : str
        What happened.
    retry_after : float, optional
        Seconds the server asked to wait (Retry-After), if it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


RETRYABLE = (RetryableEmbeddingError, TimeoutError, ConnectionError)


class EmbeddingJobError(RuntimeError):
    """A job stopped on a fatal error or after exhausting its retries.

    The message says what failed and how many texts are already cached, so a rerun sends only the
    rest. The provider's exception is ``__cause__``.
    """

    def __init__(self, message: str, *, n_done: int, n_total: int) -> None:
        super().__init__(message)
        self.n_done = n_done
        self.n_total = n_total


class RetriesExhaustedError(RuntimeError):
    """A request still failed after ``max_retries`` retries (the last failure is ``__cause__``)."""


class ProviderResponseError(RuntimeError):
    """A provider answered with the wrong number, shape or values of vectors."""


class JobCancelled(Exception):
    """Internal: a worker noticed that its job was cancelled."""
