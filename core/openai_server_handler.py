"""Request handling for :mod:`core.openai_server`: the OpenAI wire format, limits and faults.

Kept apart from the server's lifecycle so each file stays readable; import from
:mod:`core.openai_server`, which re-exports the public names.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from core.tokens import count_tokens

MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
MAX_INPUTS = 2048
MAX_TOKENS_PER_INPUT = 8191
MAX_TOKENS_PER_REQUEST = 300_000
DEFAULT_API_KEY = "sk-workbench-local"


def reference_embedding(text: str, model: str, dimensions: int | None = None) -> np.ndarray:
    """The vector this server returns for ``text``: seeded by a hash, unit-norm, float32.

    Returns
    -------
    ndarray of shape (dimensions or the model's dimension,)
    """
    native = MODEL_DIMENSIONS[model]
    seed = int.from_bytes(hashlib.sha256(f"{model}\0{text}".encode()).digest()[:8], "little")
    full = np.random.default_rng(seed).standard_normal(native)
    vec = full[: dimensions or native]
    return (vec / np.linalg.norm(vec)).astype(np.float32)


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour; use the constructors below."""

    kind: str
    retry_after: float | None = None
    retry_after_ms: bool = False
    hang_s: float = 30.0

    @classmethod
    def rate_limit(cls, retry_after: float | None = None, *, as_ms: bool = False) -> Fault:
        """429; ``retry_after`` seconds in ``Retry-After`` (or ``retry-after-ms`` if ``as_ms``)."""
        return cls("429", retry_after, as_ms)

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


class _HTTPError(Exception):
    def __init__(self, status, message, code=None, param=None, err_type="invalid_request_error"):
        super().__init__(message)
        self.status, self.code, self.param, self.err_type = status, code, param, err_type
        self.headers: dict[str, str] = {}


@dataclass
class ServerState:
    api_key: str
    latency_s: float
    tokens_per_minute: int | None
    window_s: float
    models: frozenset[str] = frozenset(MODEL_DIMENSIONS)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    faults: collections.deque = field(default_factory=collections.deque)
    log: list[RequestRecord] = field(default_factory=list)
    window: collections.deque = field(default_factory=collections.deque)  # (t, tokens)
    in_flight: int = 0
    max_in_flight: int = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind a pooling client
    server_version = "workbench-openai/1"
    timeout = 120  # an idle keep-alive connection is dropped after this

    def log_message(self, format, *args):
        pass  # no stderr access log

    @property
    def state(self) -> ServerState:
        return self.server.state

    def do_GET(self):
        record = self._begin()
        try:
            self._authorize()
            if self.path.rstrip("/") != "/v1/models":
                raise _HTTPError(404, f"Unknown path {self.path}", code="unknown_url")
            data = [
                {"id": m, "object": "model", "owned_by": "system"}
                for m in MODEL_DIMENSIONS
                if m in self.state.models
            ]
            self._reply(record, 200, {"object": "list", "data": data})
        except _HTTPError as err:
            self._error(record, err)
        finally:
            self._end(record)

    def do_POST(self):
        record = self._begin()
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._authorize()
            if self.path.rstrip("/") != "/v1/embeddings":
                raise _HTTPError(404, f"Unknown path {self.path}", code="unknown_url")
            self._embeddings(record, body)
        except _HTTPError as err:
            self._error(record, err)
        finally:
            self._end(record)

    # --- bookkeeping ---------------------------------------------------------------------------
    def _begin(self) -> RequestRecord:
        record = RequestRecord(t_start=time.monotonic(), path=self.path)
        with self.state.lock:
            self.state.log.append(record)
            self.state.in_flight += 1
            self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
        return record

    def _end(self, record: RequestRecord) -> None:
        with self.state.lock:
            self.state.in_flight -= 1
            if record.t_end is None:
                record.t_end = time.monotonic()

    def _authorize(self) -> None:
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {self.state.api_key}":
            given = auth.removeprefix("Bearer ")
            shown = f"...{given[-4:]}" if len(given) > 8 else "(hidden)" if given else "(none)"
            raise _HTTPError(
                401,
                f"Incorrect API key provided: {shown}. Check the key you configured.",
                code="invalid_api_key",
            )

    # --- the endpoint --------------------------------------------------------------------------
    def _embeddings(self, record: RequestRecord, body: bytes) -> None:
        state = self.state
        try:
            req = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _HTTPError(
                400, f"We could not parse the JSON body of your request: {exc}"
            ) from None
        if not isinstance(req, dict):
            raise _HTTPError(400, "The request body must be a JSON object.")
        model = req.get("model")
        record.model = model
        inputs = req.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            raise _HTTPError(400, "'input' must be a string or an array of strings.", param="input")
        record.inputs = tuple(inputs)
        with state.lock:
            fault = state.faults.popleft() if state.faults else None
        record.fault = fault.kind if fault else None
        if fault is not None and fault.kind == "401":
            raise _HTTPError(401, "Incorrect API key provided (revoked).", code="invalid_api_key")
        if model not in MODEL_DIMENSIONS or model not in state.models:
            raise _HTTPError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        dims = req.get("dimensions")
        native = MODEL_DIMENSIONS[model]
        if dims is not None:
            if not model.startswith("text-embedding-3"):
                raise _HTTPError(
                    400, "This model does not support specifying dimensions.", param="dimensions"
                )
            if not isinstance(dims, int) or not 1 <= dims <= native:
                raise _HTTPError(
                    400, f"dimensions must be an integer from 1 to {native}.", param="dimensions"
                )
        fmt = req.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise _HTTPError(
                400, "encoding_format must be 'float' or 'base64'.", param="encoding_format"
            )
        if not inputs or len(inputs) > MAX_INPUTS or any(t == "" for t in inputs):
            raise _HTTPError(
                400,
                f"'$.input' is invalid: give 1 to {MAX_INPUTS} non-empty strings "
                f"(got {len(inputs)} inputs, {sum(t == '' for t in inputs)} empty).",
                param="input",
            )
        counts = [count_tokens(t) for t in inputs]
        record.tokens = sum(counts)
        longest = max(counts)
        if longest > MAX_TOKENS_PER_INPUT:
            raise _HTTPError(
                400,
                f"This model's maximum context length is {MAX_TOKENS_PER_INPUT + 1} tokens, "
                f"however you requested {longest} tokens in input {counts.index(longest)}.",
                param="input",
            )
        if record.tokens > MAX_TOKENS_PER_REQUEST:
            raise _HTTPError(
                400,
                f"Requested {record.tokens} tokens, "
                f"max {MAX_TOKENS_PER_REQUEST} tokens per request.",
                param="input",
            )
        if fault is not None:
            self._apply_fault(record, fault)
        self._charge_rate_limit(record)
        if state.latency_s > 0:
            state.stopping.wait(state.latency_s)
        order = list(range(len(inputs)))
        if fault is not None and fault.kind == "shuffle":
            order = order[1:] + order[:1] if len(order) > 1 else order
            order.reverse()
        if fault is not None and fault.kind == "wrong_count":
            order = order[:-1]
        data = []
        for i in order:
            vec = reference_embedding(inputs[i], model, dims)
            if fmt == "base64":
                emb = base64.b64encode(vec.astype("<f4").tobytes()).decode("ascii")
            else:
                emb = vec.tolist()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        usage = {"prompt_tokens": record.tokens, "total_tokens": record.tokens}
        self._reply(record, 200, {"object": "list", "data": data, "model": model, "usage": usage})

    def _apply_fault(self, record: RequestRecord, fault: Fault) -> None:
        if fault.kind == "429":
            err = _HTTPError(
                429, "Rate limit reached for requests.", "rate_limit_exceeded", None, "requests"
            )
            if fault.retry_after is not None:
                record.retry_after = fault.retry_after
                if fault.retry_after_ms:
                    err.headers["retry-after-ms"] = str(round(fault.retry_after * 1000))
                else:
                    err.headers["Retry-After"] = f"{fault.retry_after:g}"
            raise err
        if fault.kind == "quota":
            raise _HTTPError(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                None,
                "insufficient_quota",
            )
        if fault.kind in ("500", "503"):
            raise _HTTPError(
                int(fault.kind),
                "The server had an error processing your request.",
                None,
                None,
                "server_error",
            )
        if fault.kind == "timeout":
            self.state.stopping.wait(fault.hang_s)
            record.status = 0  # no reply: the client has given up
            self.close_connection = True
            raise _Hang

    def _charge_rate_limit(self, record: RequestRecord) -> None:
        state = self.state
        if state.tokens_per_minute is None:
            return
        with state.lock:
            now = time.monotonic()
            while state.window and state.window[0][0] <= now - state.window_s:
                state.window.popleft()
            used = sum(tokens for _, tokens in state.window)
            if record.tokens > state.tokens_per_minute:
                raise _HTTPError(
                    429,
                    f"Request too large for tokens per min (TPM): Limit "
                    f"{state.tokens_per_minute}, Requested {record.tokens}. Send fewer tokens.",
                    "rate_limit_exceeded",
                    "tokens",
                    "tokens",
                )
            if used + record.tokens <= state.tokens_per_minute:
                state.window.append((now, record.tokens))
                return
            # Wait until enough of the oldest usage leaves the window.
            need, wait = used + record.tokens - state.tokens_per_minute, state.window_s
            for t, tokens in state.window:
                need -= tokens
                if need <= 0:
                    wait = t + state.window_s - now
                    break
        record.retry_after = wait
        err = _HTTPError(
            429,
            f"Rate limit reached for tokens per min (TPM): Limit {state.tokens_per_minute}, "
            f"Used {used}, Requested {record.tokens}. Please try again in {wait:.3f}s.",
            "rate_limit_exceeded",
            "tokens",
            "tokens",
        )
        err.headers["retry-after-ms"] = str(math.ceil(wait * 1000))
        err.headers["Retry-After"] = str(math.ceil(wait))
        raise err

    # --- replies -------------------------------------------------------------------------------
    def _error(self, record: RequestRecord, err: _HTTPError) -> None:
        body = {
            "error": {
                "message": str(err),
                "type": err.err_type,
                "param": err.param,
                "code": err.code,
            }
        }
        self._reply(record, err.status, body, err.headers)

    def _reply(self, record, status, payload, headers=None) -> None:
        raw = json.dumps(payload).encode()
        # Logged before the bytes leave, so a client that has the reply also sees it in the log.
        record.status = status
        record.t_end = time.monotonic()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to tell it

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except _Hang:
            self.close_connection = True


class _Hang(Exception):
    """Raised out of a handler that simulated a timeout: close the connection without a reply."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state: ServerState) -> None:
        self.state = state
        self.sockets: set = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        with self.sockets_lock:
            self.sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.sockets.discard(request)
        super().shutdown_request(request)
