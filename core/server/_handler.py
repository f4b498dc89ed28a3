"""Request handling for :mod:`core.server._server`: the OpenAI wire format, limits and faults."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from core.embedding._tokens import count_tokens
from core.server import _batch_api as batch_api
from core.server._errors import HTTPError as _HTTPError
from core.server._types import (
    MAX_INPUTS,
    MAX_TOKENS_PER_INPUT,
    MAX_TOKENS_PER_REQUEST,
    MODEL_DIMENSIONS,
    Fault,
    RequestRecord,
    ServerState,
    model_dimension,
    reference_embedding,
)

# Largest request body accepted: 2,048 inputs of 8,191 tokens fit in well under this.
MAX_BODY_BYTES = 64 * 2**20


# Fault kind -> (status, message, code, type) of the error it answers with.
_FAULT_ERRORS = {
    "quota": (
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    "500": (500, "The server had an error processing your request.", None, "server_error"),
    "503": (
        503,
        "The engine is currently overloaded, please try again later.",
        None,
        "server_error",
    ),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind a pooling client
    server_version = "workbench-openai/1"
    timeout = 120  # an idle keep-alive connection is dropped after this

    def log_message(self, format, *args):
        pass  # no stderr access log

    @property
    def state(self) -> ServerState:
        return self.server.state

    def _route(self) -> str:
        """The path without the mode's API prefix; "" for a path outside the API."""
        path = self.path.split("?", 1)[0].rstrip("/")
        prefix = self.state.mode.prefix
        if prefix and not path.startswith(prefix + "/"):
            return ""
        return path[len(prefix) :]

    def do_GET(self):
        record = self._begin()
        try:
            self._authorize()
            if self.path.rstrip("/") == "/_workbench/stats":
                self._reply(record, 200, self.state.stats())
                return
            route = self._route()
            if route == "/models":
                names = MODEL_DIMENSIONS if not self.state.mode.any_model else self.state.models
                data = [
                    {"id": m, "object": "model", "owned_by": "system"}
                    for m in names
                    if m in self.state.models
                ]
                self._reply(record, 200, {"object": "list", "data": data})
            elif route.startswith("/files/") and route.endswith("/content"):
                self._raw_reply(record, batch_api.file_content(self.state, route.split("/")[2]))
            elif route.startswith("/batches/"):
                self._reply(record, 200, batch_api.get_batch(self.state, route.split("/")[2]))
            else:
                raise self._not_found()
        except _HTTPError as err:
            self._error(record, err)
        except (_Hang, ConnectionError):
            raise
        except Exception as exc:  # a bug must answer 500, not drop the connection
            self._error(
                record, _HTTPError(500, f"Internal error: {exc}", None, None, "server_error")
            )
        finally:
            self._end(record)

    def _body(self) -> bytes:
        """The request body; a missing, malformed, negative or huge Content-Length is a 400/413
        (and closes the connection: what follows on it cannot be framed)."""
        raw = self.headers.get("Content-Length")
        if raw is None or raw.strip() == "":
            return b""
        try:
            length = int(raw.strip())
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise _HTTPError(400, f"Invalid Content-Length header: {raw!r}.")
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise _HTTPError(
                413, f"Request body of {length} bytes is over the {MAX_BODY_BYTES}-byte limit."
            )
        return self.rfile.read(length)

    def do_POST(self):
        record = self._begin()
        try:
            body = self._body()
            self._authorize()
            route = self._route()
            if route == "/embeddings":
                self._embeddings(record, body)
            elif route == "/files":
                upload = batch_api.upload_file(
                    self.state, self.headers.get("Content-Type", ""), body
                )
                self._reply(record, 200, upload)
            elif route == "/batches":
                self._reply(record, 200, batch_api.create_batch(self.state, body))
            else:
                raise self._not_found()
        except _HTTPError as err:
            self._error(record, err)
        finally:
            self._end(record)

    def _not_found(self) -> _HTTPError:
        if self.state.mode.prefix == "/v1":
            return _HTTPError(404, f"Unknown path {self.path}", code="unknown_url")
        err = _HTTPError(404, "Not Found")
        err.plain = {"detail": "Not Found"}  # FastAPI's shape (Infinity)
        return err

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
        if self.state.api_key is None:
            return
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
        state, mode = self.state, self.state.mode
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
        known = model in MODEL_DIMENSIONS and model in state.models
        if not (known or (mode.any_model and isinstance(model, str) and model)):
            raise _HTTPError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        dims = self._dimensions(req.get("dimensions"), model)
        fmt = req.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise _HTTPError(
                400, "encoding_format must be 'float' or 'base64'.", param="encoding_format"
            )
        if fmt == "base64" and mode.base64 == "refuse":
            raise _HTTPError(400, "base64 encoding is not currently supported")
        if mode.base64 == "ignore":
            fmt = "float"
        if not inputs or len(inputs) > MAX_INPUTS or any(t == "" for t in inputs):
            raise _HTTPError(
                400,
                f"'$.input' is invalid: give 1 to {MAX_INPUTS} non-empty strings "
                f"(got {len(inputs)} inputs, {sum(t == '' for t in inputs)} empty).",
                param="input",
            )
        if mode.max_batch is not None and len(inputs) > mode.max_batch:
            raise _HTTPError(
                mode.batch_status,
                f"batch size {len(inputs)} > maximum allowed batch size {mode.max_batch}",
            )
        counts = [count_tokens(t) for t in inputs]
        record.tokens = sum(counts)
        if not mode.any_model:
            self._check_token_limits(record, counts)
        if fault is not None:
            self._apply_fault(record, fault)
        self._hold_if_asked()
        self._charge_rate_limit(record)
        if state.latency_s > 0:
            state.stopping.wait(state.latency_s)
        order = list(range(len(inputs)))
        if (fault is not None and fault.kind == "shuffle") or mode.shuffle:
            order = order[1:] + order[:1] if len(order) > 1 else order
            order.reverse()
        if fault is not None and fault.kind == "wrong_count":
            order = order[:-1]
        vectors = self.embed_many(inputs, model, dims)
        if fault is not None and fault.kind == "dimension_change":
            vectors = vectors[:, : int(fault.hang_s)]
        data = []
        for i in order:
            vec = vectors[i]
            if fmt == "base64":
                emb = base64.b64encode(vec.astype("<f4").tobytes()).decode("ascii")
            else:
                emb = vec.tolist()
            item = {"object": "embedding", "embedding": emb}
            if mode.index:
                item["index"] = i
            data.append(item)
        answer = {"object": "list", "data": data, "model": model}
        if mode.usage:
            answer["usage"] = {"prompt_tokens": record.tokens, "total_tokens": record.tokens}
            if fault is not None and fault.kind == "bad_usage":
                answer["usage"] = [record.tokens]
        self._reply(record, 200, answer, self._rate_headers())

    def embed_many(self, inputs: list[str], model: str, dims: int | None) -> np.ndarray:
        """The vectors served for ``inputs``: ``embed_fn``'s, else the reference ones."""
        if self.state.embed_fn is not None:
            return np.asarray(self.state.embed_fn(list(inputs), model), dtype=np.float32)
        return np.stack([reference_embedding(t, model, dims) for t in inputs])

    def _dimensions(self, dims, model: str) -> int | None:
        mode = self.state.mode
        if dims is None:
            return None
        if mode.dimensions == "ignore":
            return None
        if mode.dimensions == "refuse":
            raise _HTTPError(
                400, "dimensions is currently not supported for this model", param="dimensions"
            )
        native = model_dimension(model)
        if model in MODEL_DIMENSIONS and not model.startswith("text-embedding-3"):
            raise _HTTPError(
                400, "This model does not support specifying dimensions.", param="dimensions"
            )
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= native:
            raise _HTTPError(
                400, f"dimensions must be an integer from 1 to {native}.", param="dimensions"
            )
        return dims

    def _check_token_limits(self, record: RequestRecord, counts: list[int]) -> None:
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

    def _rate_headers(self) -> dict[str, str]:
        """``x-ratelimit-*`` as OpenAI sends them (only with ``rate_limit_headers``)."""
        state = self.state
        if not state.rate_limit_headers:
            return {}
        headers = {}
        with state.lock:
            now = time.monotonic()
            if state.requests_per_minute is not None:
                used = len(state.request_times)
                oldest = state.request_times[0] if state.request_times else now
                headers["x-ratelimit-limit-requests"] = str(state.requests_per_minute)
                headers["x-ratelimit-remaining-requests"] = str(
                    max(0, state.requests_per_minute - used)
                )
                reset = max(0.0, oldest + state.window_s - now) if used else 0.0
                headers["x-ratelimit-reset-requests"] = f"{reset:.3f}s"
            if state.tokens_per_minute is not None:
                used = sum(t for _, t in state.window)
                oldest = state.window[0][0] if state.window else now
                headers["x-ratelimit-limit-tokens"] = str(state.tokens_per_minute)
                headers["x-ratelimit-remaining-tokens"] = str(
                    max(0, state.tokens_per_minute - used)
                )
                reset = max(0.0, oldest + state.window_s - now) if state.window else 0.0
                headers["x-ratelimit-reset-tokens"] = f"{reset:.3f}s"
        return headers

    def _apply_fault(self, record: RequestRecord, fault: Fault) -> None:
        if fault.kind == "429":
            err = _HTTPError(
                429, "Rate limit reached for requests.", "rate_limit_exceeded", None, "requests"
            )
            if fault.header is not None:
                err.headers["Retry-After"] = fault.header
            elif fault.retry_after is not None:
                record.retry_after = fault.retry_after
                if fault.retry_after_ms:
                    err.headers["retry-after-ms"] = str(round(fault.retry_after * 1000))
                else:
                    err.headers["Retry-After"] = f"{fault.retry_after:g}"
            raise err
        if fault.kind in _FAULT_ERRORS:
            status, message, code, err_type = _FAULT_ERRORS[fault.kind]
            raise _HTTPError(status, message, code, None, err_type)
        if fault.kind == "pause":
            reached, release = fault.events
            reached.set()
            while not release.wait(0.05) and not self.state.stopping.is_set():
                pass
            return
        if fault.kind == "timeout":
            self.state.stopping.wait(fault.hang_s)
            record.status = 0  # no reply: the client has given up
            self.close_connection = True
            raise _Hang

    def _hold_if_asked(self) -> None:
        """With ``hold_after`` set: count this request down, or (once it is spent) wait here
        unanswered until the test releases the hold or the server stops."""
        state = self.state
        with state.changed:
            if state.hold_after is None:
                return
            if state.hold_after > 0:
                state.hold_after -= 1
                return
            state.held += 1
            state.changed.notify_all()
        try:
            while not state.release.wait(0.05) and not state.stopping.is_set():
                pass
        finally:
            with state.changed:
                state.held -= 1
                state.changed.notify_all()

    def _charge_rate_limit(self, record: RequestRecord) -> None:
        self._charge_requests(record)
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

    def _charge_requests(self, record: RequestRecord) -> None:
        state = self.state
        if state.requests_per_minute is None:
            return
        with state.lock:
            now = time.monotonic()
            times = state.request_times
            while times and times[0] <= now - state.window_s:
                times.popleft()
            if len(times) < state.requests_per_minute:
                times.append(now)
                return
            wait = times[0] + state.window_s - now
        record.retry_after = wait
        err = _HTTPError(
            429,
            f"Rate limit reached for requests per min (RPM): Limit {state.requests_per_minute}. "
            f"Please try again in {wait:.3f}s.",
            "rate_limit_exceeded",
            "requests",
            "requests",
        )
        err.headers["retry-after-ms"] = str(math.ceil(wait * 1000))
        err.headers["Retry-After"] = str(math.ceil(wait))
        raise err

    # --- replies -------------------------------------------------------------------------------
    def _error(self, record: RequestRecord, err: _HTTPError) -> None:
        plain = getattr(err, "plain", None)
        if plain is not None:
            self._reply(record, err.status, plain, err.headers)
            return
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

    def _raw_reply(self, record, raw: bytes) -> None:
        record.status, record.t_end = 200, time.monotonic()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

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
    # The default backlog of 5 resets connections under a burst of clients (a benchmark's 60
    # threads); the kernel caps it at net.core.somaxconn.
    request_queue_size = 1024

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
