"""Data types of :mod:`core.server._server`: model table, reference vectors, faults, log, state.

Import them from :mod:`core.server`, which re-exports the public names.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from dataclasses import dataclass, field

import numpy as np

MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# Models a self-hosted server in a compatible mode answers for (any other name: 384 dimensions).
COMPATIBLE_DIMENSIONS = {
    "nomic-embed-text": 768,
    "all-MiniLM-L6-v2": 384,
    "all-minilm": 384,
    "intfloat/e5-small-v2": 384,
    "mxbai-embed-large": 1024,
    "bge-m3": 1024,
}
DEFAULT_COMPATIBLE_DIMENSION = 384
MAX_INPUTS = 2048
MAX_TOKENS_PER_INPUT = 8191
MAX_TOKENS_PER_REQUEST = 300_000
DEFAULT_API_KEY = "sk-workbench-local"


def model_dimension(model: str) -> int:
    """The native dimension this server serves ``model`` with (any name in compatible modes)."""
    if model in MODEL_DIMENSIONS:
        return MODEL_DIMENSIONS[model]
    return COMPATIBLE_DIMENSIONS.get(model, DEFAULT_COMPATIBLE_DIMENSION)


@dataclass(frozen=True)
class ServerMode:
    """How the server's answers are shaped: OpenAI's, or a self-hosted server's.

    Attributes
    ----------
    name : str
    prefix : str
        Path prefix of the API (``"/v1"``, or ``""`` like Infinity's default).
    any_model : bool
        Serve any model name (self-hosted servers serve what they loaded under any name).
    usage, index : bool
        Whether answers carry ``usage`` and each item its ``index``.
    shuffle : bool
        Items come back in another order than the inputs (with their index).
    base64 : {"yes", "refuse", "ignore"}
        ``encoding_format="base64"``: honoured, a 400 (older vLLM), or float arrays anyway.
    dimensions : {"honour", "refuse", "ignore"}
        The ``dimensions`` field: honoured, a 400, or native-length vectors anyway.
    max_batch : int or None
        Most inputs per request; over it ``batch_status`` (413 like TEI, or 400).
    """

    name: str
    prefix: str = "/v1"
    any_model: bool = True
    usage: bool = True
    index: bool = True
    shuffle: bool = False
    base64: str = "yes"
    dimensions: str = "ignore"
    max_batch: int | None = None
    batch_status: int = 413


# Shapes seen from each server's OpenAI-compatible route (the traits each is known for).
SERVER_MODES = {
    "openai": ServerMode("openai", any_model=False, dimensions="honour"),
    # Ollama /v1/embeddings: float arrays whatever is asked, no usage, dimensions ignored.
    "ollama": ServerMode("ollama", usage=False, base64="ignore"),
    # vLLM (older releases): 400 for base64, 400 for dimensions on non-Matryoshka models.
    "vllm": ServerMode("vllm", base64="refuse", dimensions="refuse"),
    # text-embeddings-inference: a small client batch limit answered with 413.
    "tei": ServerMode("tei", max_batch=8),
    # Infinity: no /v1 prefix by default; items out of order (with index).
    "infinity": ServerMode("infinity", prefix="", shuffle=True),
    # LM Studio: no index, no usage, float arrays only.
    "lmstudio": ServerMode("lmstudio", usage=False, index=False, base64="ignore"),
}


def reference_embedding(text: str, model: str, dimensions: int | None = None) -> np.ndarray:
    """The vector this server returns for ``text``: seeded by a hash, unit-norm, float32.

    Returns
    -------
    ndarray of shape (dimensions or the model's dimension,)
    """
    native = model_dimension(model)
    seed = int.from_bytes(hashlib.sha256(f"{model}\0{text}".encode()).digest()[:8], "little")
    # The first d draws of a seeded generator are the first d of the native-length vector, so a
    # shortened vector is the native one's prefix, renormalised (what OpenAI's dimensions does).
    vec = np.random.default_rng(seed).standard_normal(dimensions or native)
    return (vec / np.linalg.norm(vec)).astype(np.float32)


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour; use the constructors below."""

    kind: str
    retry_after: float | None = None
    retry_after_ms: bool = False
    hang_s: float = 30.0
    header: str | None = None
    events: tuple = ()  # (reached, release) threading.Events of a paused request

    @classmethod
    def rate_limit(
        cls, retry_after: float | None = None, *, as_ms: bool = False, header: str | None = None
    ) -> Fault:
        """429; ``retry_after`` seconds in ``Retry-After`` (or ``retry-after-ms`` if ``as_ms``).

        ``header`` sends that exact ``Retry-After`` text instead (``"soon"``, ``"inf"``,
        ``"1e9"``, an HTTP date), as a misbehaving server might.
        """
        return cls("429", retry_after, as_ms, header=header)

    @classmethod
    def quota_exceeded(cls) -> Fault:
        """429 ``insufficient_quota``: retrying cannot help."""
        return cls("quota")

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """500 or 503."""
        return cls(str(status))

    @classmethod
    def timeout(cls, hang_s: float = 30.0) -> Fault:
        """Hang ``hang_s`` seconds (or until the server stops) before closing without a reply."""
        return cls("timeout", hang_s=hang_s)

    @classmethod
    def shuffled(cls) -> Fault:
        """A correct answer whose ``data`` items come out of order (their ``index`` is right)."""
        return cls("shuffle")

    @classmethod
    def wrong_count(cls) -> Fault:
        """A 200 answer missing its last vector."""
        return cls("wrong_count")

    @classmethod
    def dimension_change(cls, dimension: int = 7) -> Fault:
        """A 200 answer whose vectors have ``dimension`` components (a model swapped mid-job)."""
        return cls("dimension_change", hang_s=float(dimension))

    @classmethod
    def paused(cls, reached: threading.Event, release: threading.Event) -> Fault:
        """Set ``reached`` when this request arrives, answer normally once ``release`` is set
        (or the server stops): lets a test act at a known point of a job, without sleeping."""
        return cls("pause", events=(reached, release))

    @classmethod
    def malformed_usage(cls) -> Fault:
        """A correct answer whose ``usage`` is a list, not an object."""
        return cls("bad_usage")

    @classmethod
    def unauthorized(cls) -> Fault:
        """401 as for a revoked key."""
        return cls("401")


@dataclass
class RequestRecord:
    """One request as the server saw it (server ``time.monotonic()`` clock)."""

    t_start: float
    path: str
    status: int = 0
    t_end: float | None = None
    model: str | None = None
    inputs: tuple[str, ...] = ()
    tokens: int = 0
    fault: str | None = None
    retry_after: float | None = None

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)


@dataclass
class ServerState:
    api_key: str
    latency_s: float
    tokens_per_minute: int | None
    window_s: float
    models: frozenset[str] = frozenset(MODEL_DIMENSIONS)
    mode: ServerMode = SERVER_MODES["openai"]
    requests_per_minute: int | None = None
    rate_limit_headers: bool = False  # send x-ratelimit-* on every answer
    embed_fn: object = None  # callable(texts, model) -> (n, d) array, instead of the reference
    request_times: collections.deque = field(default_factory=collections.deque)
    files: dict = field(default_factory=dict)  # Batch API: file id -> bytes
    batches: dict = field(default_factory=dict)  # Batch API: batch id -> dict
    batch_delay_s: float = 0.0  # Batch API: time each line takes
    batch_failures: set = field(default_factory=set)  # custom_ids answered with an error
    batch_expire_after: int | None = None  # Batch API: lines done before a batch expires
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    faults: collections.deque = field(default_factory=collections.deque)
    log: list[RequestRecord] = field(default_factory=list)
    window: collections.deque = field(default_factory=collections.deque)  # (t, tokens)
    in_flight: int = 0
    max_in_flight: int = 0
    # hold_after: answer this many more embeddings requests, then hold every later one (its
    # record keeps status 0) until release; ``held`` counts those waiting, under ``changed``.
    hold_after: int | None = None
    held: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition | None = None

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def stats(self) -> dict:
        """Counts over the ``/v1/embeddings`` requests so far (``GET /_workbench/stats``)."""
        with self.lock:
            done = [r for r in self.log if r.path.rstrip("/").endswith("/embeddings")]
            ok = [r for r in done if r.status == 200]
            return {
                "requests": len(done),
                "by_status": dict(collections.Counter(str(r.status) for r in done)),
                "inputs_accepted": sum(r.n_inputs for r in ok),
                "tokens_accepted": sum(r.tokens for r in ok),
                "max_in_flight": self.max_in_flight,
            }
