"""Request handling for :mod:`core.server._server`: the OpenAI wire format, limits and faults."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.embedding._tokens import count_tokens
from core.server._types import (
    MAX_INPUTS,
    MAX_TOKENS_PER_INPUT,
    MAX_TOKENS_PER_REQUEST,
    MODEL_DIMENSIONS,
    Fault,
    RequestRecord,
    ServerState,
    reference_embedding,
)

# Largest request body accepted: 2,048 inputs of 8,191 tokens fit in well under this.
MAX_BODY_BYTES = 64 * 2**20


class _HTTPError(Exception):
    def __init__(self, status, message, code=None, param=None, err_type="invalid_request_error"):
        super().__init__(message)
        self.status, self.code, self.param, self.err_type = status, code, param, err_type
        self.headers: dict[str, str] = {}


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

    def do_GET(self):
        record = self._begin()
        try:
            self._authorize()
            if self.path.rstrip("/") == "/_workbench/stats":
                self._reply(record, 200, self.state.stats())
                return
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
            body = self._body()
            self._authorize()
            if self.path.rstrip("/") != "/v1/embeddings":
                raise _HTTPError(404, f"Unknown path {self.path}", code="unknown_url")
            self._embeddings(record, body)
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
            if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= native:
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
        if fault is not None and fault.kind == "bad_usage":
            usage = [record.tokens]
        self._reply(record, 200, {"object": "list", "data": data, "model": model, "usage": usage})

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
