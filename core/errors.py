"""Every exception the package raises, in one tree with one base: :class:`WorkbenchError`.

Each also derives from the built-in a caller would expect (``ValueError`` for bad input,
``RuntimeError`` for a failed operation), so ``except ValueError`` keeps working::

    WorkbenchError
    ├── InvalidInputError (ValueError)       bad arguments, arrays, settings
    │   ├── InvalidTypeError (TypeError)     an argument of the wrong type
    │   ├── ParseError                       a file that cannot be read as documents
    │   ├── CollectionError                  a collection that cannot be loaded or saved
    │   ├── EndpointRefusedError             a visitor's Base URL this app will not call
    │   └── MissingAPIKeyError               a provider needs a key and none is configured
    ├── ProviderError (RuntimeError)         a provider failed
    │   ├── OpenAIRequestError               refused in a way retrying cannot fix
    │   ├── ProviderResponseError            wrong number, shape or values of vectors
    │   └── RetriesExhaustedError            still failing after the retries
    ├── RetryableEmbeddingError              worth retrying (429, 5xx, timeout); for the engine
    ├── StorageError (OSError)               a disk write failed or cannot work (full,
    │                                        read-only, no permission); says what is kept
    ├── BudgetExceededError (MemoryError)    the server's shared memory budget is used up
    ├── EmbeddingJobError (RuntimeError)     a job stopped; says what is already cached
    ├── JobCancelled                         internal: a worker saw its job cancelled
    ├── MissingDependencyError (ImportError) an optional extra is not installed
    └── ClusterError (RuntimeError)          a Dask cluster could not finish the work
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of every exception raised by ``core``."""


class InvalidInputError(WorkbenchError, ValueError):
    """Bad input: the message says what was wrong, where, and what to do."""


class InvalidTypeError(InvalidInputError, TypeError):
    """An argument of the wrong type (also a ``TypeError``)."""


class ParseError(InvalidInputError):
    """A file could not be turned into documents; the message says where and what to do.

    Attributes
    ----------
    file : str
        The file name.
    location : str or None
        Where the problem is, e.g. ``"line 12"``, ``"row 3"``, ``"byte 1,204"``.
    """

    def __init__(self, file: str, problem: str, *, location: str | None = None) -> None:
        self.file = file
        self.location = location
        where = f"{file}, {location}" if location else file
        super().__init__(f"{where}: {problem}")


class CollectionError(InvalidInputError):
    """A collection on disk is missing, corrupt, truncated or inconsistent."""


class EndpointRefusedError(InvalidInputError):
    """A visitor-typed base URL that this app will not call; the message says why and what to do."""


class MissingAPIKeyError(InvalidInputError):
    """A provider needs an API key and none is configured."""


class ProviderError(WorkbenchError, RuntimeError):
    """A provider failed."""


class OpenAIRequestError(ProviderError):
    """A request failed in a way retrying cannot fix; the message says what to change."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ProviderResponseError(ProviderError):
    """A provider answered with the wrong number, shape or values of vectors."""


class RetriesExhaustedError(ProviderError):
    """A request still failed after ``max_retries`` retries (the last failure is ``__cause__``)."""


class RetryableEmbeddingError(WorkbenchError):
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


class StorageError(WorkbenchError, OSError):
    """A directory or the embedding cache cannot be written: full, read-only, no permission.

    The message names the path, the reason and what is safe (vectors already in the cache).
    """


class BudgetExceededError(WorkbenchError, MemoryError):
    """The process-wide memory budget shared by every dashboard session is used up."""


class EmbeddingJobError(WorkbenchError, RuntimeError):
    """A job stopped on a fatal error or after exhausting its retries.

    The message says what failed and how many texts are already cached, so a rerun sends only the
    rest. The provider's exception is ``__cause__``.
    """

    def __init__(self, message: str, *, n_done: int, n_total: int) -> None:
        super().__init__(message)
        self.n_done = n_done
        self.n_total = n_total


class JobCancelled(WorkbenchError):
    """Internal: a worker noticed that its job was cancelled."""


class MissingDependencyError(WorkbenchError, ImportError):
    """An optional feature's packages are missing; the message names the extra to install."""


class ClusterError(WorkbenchError, RuntimeError):
    """A Dask cluster could not finish the work (unreachable, or workers kept dying).

    Never a partial result: the message says what failed and what to do.
    """
