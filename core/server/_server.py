"""An OpenAI-compatible embeddings server on 127.0.0.1, for tests, benchmarks and offline demos.

It speaks the real API's shapes (``POST /v1/embeddings``, ``GET /v1/models``, OpenAI error JSON,
Bearer auth) and its limits (2,048 inputs and 300,000 tokens per request, 8,191 tokens per input,
no empty strings). Vectors are deterministic functions of model and text
(:func:`reference_embedding`), unit-norm, with each model's dimension; ``dimensions`` shortens a
``text-embedding-3-*`` vector and renormalises it, as OpenAI does.

Tests script its failures (:meth:`OpenAICompatibleServer.inject`): each queued :class:`Fault`
applies to one upcoming request — 429 with or without Retry-After, 500, 503, a hang longer than
the client's timeout, shuffled ``data``, a missing vector, 401; ``hold_after(n)`` answers ``n``
requests, then holds the rest unanswered until released. A per-request latency and a
tokens-per-minute limit (sliding 60 s window, 429 + Retry-After) make it behave like a loaded
service. Every request is logged (:class:`RequestRecord`) with its inputs, tokens and server-clock
timestamps, and the highest number of requests in flight is tracked; ``GET /_workbench/stats``
returns the counts to a client in another process (the benchmark).

Run it for a demo: ``python -m core.server --port 8000 --latency-ms 200 --tpm 1000000``,
then point the app at ``OPENAI_BASE_URL=http://127.0.0.1:8000/v1`` with any key it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import socket
import threading

from core.errors import InvalidInputError, WorkbenchError
from core.server._handler import Server
from core.server._types import (
    DEFAULT_API_KEY,
    MAX_INPUTS,
    MAX_TOKENS_PER_INPUT,
    MAX_TOKENS_PER_REQUEST,
    MODEL_DIMENSIONS,
    SERVER_MODES,
    Fault,
    RequestRecord,
    ServerMode,
    ServerState,
    reference_embedding,
)

__all__ = [
    "DEFAULT_API_KEY",
    "MAX_INPUTS",
    "MAX_TOKENS_PER_INPUT",
    "MAX_TOKENS_PER_REQUEST",
    "MODEL_DIMENSIONS",
    "SERVER_MODES",
    "Fault",
    "OpenAICompatibleServer",
    "RequestRecord",
    "ServerMode",
    "main",
    "reference_embedding",
]


_DEFAULT_KEY = object()


class OpenAICompatibleServer:
    """The server, started and stopped as a context manager.

    Parameters
    ----------
    api_key : str or None
        The only Bearer key accepted; None accepts any. Default: ``DEFAULT_API_KEY`` in the
        ``openai`` mode, None in the self-hosted modes.
    latency_ms : float
        Added to every accepted embeddings request.
    tokens_per_minute : int, optional
        Tokens accepted per sliding ``window_s`` window; over it, 429 with Retry-After.
    port : int
        0 picks a free ephemeral port.
    window_s : float
        Length of the rate-limit window (60 s like the real API).
    models : iterable of str, optional
        Models this account may use (others get 404); default all three (``openai`` mode).
    mode : str
        Shape of the answers: ``"openai"`` (default), or a self-hosted server's — ``"ollama"``,
        ``"vllm"``, ``"tei"``, ``"infinity"``, ``"lmstudio"`` (see :data:`SERVER_MODES`); these
        serve any model name.
    requests_per_minute : int, optional
        Requests accepted per sliding window; over it, 429 with Retry-After.
    rate_limit_headers : bool
        Send ``x-ratelimit-limit/remaining/reset-requests|tokens`` with every answer.
    embed_fn : callable, optional
        ``embed_fn(texts, model) -> (n, d) array``: serve these vectors instead of the
        reference ones (e.g. a real local model's).
    max_batch : int, optional
        Override the mode's most inputs per request.
    batch_delay_ms : float
        Batch API: time each JSONL line takes.

    Examples
    --------
    >>> with OpenAICompatibleServer() as server:  # doctest: +SKIP
    ...     server.inject(Fault.rate_limit(retry_after=1))
    ...     client = openai.OpenAI(api_key=server.api_key, base_url=server.base_url)
    """

    def __init__(
        self,
        *,
        api_key: str | object | None = _DEFAULT_KEY,
        latency_ms: float = 0.0,
        tokens_per_minute: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        window_s: float = 60.0,
        models=None,
        mode: str = "openai",
        requests_per_minute: int | None = None,
        rate_limit_headers: bool = False,
        embed_fn=None,
        max_batch: int | None = None,
        batch_delay_ms: float = 0.0,
    ) -> None:
        if mode not in SERVER_MODES:
            raise InvalidInputError(
                f"unknown server mode {mode!r}; choose one of: {', '.join(SERVER_MODES)}"
            )
        shape = SERVER_MODES[mode]
        if api_key is _DEFAULT_KEY:
            # Self-hosted servers take any key (or none) unless told otherwise.
            api_key = DEFAULT_API_KEY if mode == "openai" else None
        if max_batch is not None:
            shape = dataclasses.replace(shape, max_batch=max_batch)
        allowed = frozenset(MODEL_DIMENSIONS if models is None else models)
        unknown = allowed - set(MODEL_DIMENSIONS)
        if unknown and not shape.any_model:
            raise InvalidInputError(
                f"unknown models {sorted(unknown)}; known: {sorted(MODEL_DIMENSIONS)}"
            )
        self._state = ServerState(
            api_key, latency_ms / 1000, tokens_per_minute, window_s, allowed, shape,
            requests_per_minute, rate_limit_headers, embed_fn,
        )  # fmt: skip
        self._state.batch_delay_s = batch_delay_ms / 1000
        self._address = (host, port)
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> OpenAICompatibleServer:
        """Bind and serve on a background thread; returns self."""
        if self._httpd is not None:
            raise WorkbenchError("the server is already running")
        self._state.stopping.clear()
        self._httpd = Server(self._address, self._state)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: hanging handlers wake up and open connections are closed."""
        if self._httpd is None:
            return
        self._state.stopping.set()
        self._httpd.shutdown()
        with self._httpd.sockets_lock:
            open_sockets = list(self._httpd.sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)  # idle keep-alive handlers return at once
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> OpenAICompatibleServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- addresses and settings ----------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise WorkbenchError("the server is not running: call start() or use `with`")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (no ``/v1`` in the ``infinity`` mode): the client's
        ``base_url``."""
        return f"http://{self._address[0]}:{self.port}{self._state.mode.prefix}"

    @property
    def mode(self) -> str:
        return self._state.mode.name

    @property
    def state(self) -> ServerState:
        """The live state (Batch API failures and expiry are scripted through it)."""
        return self._state

    @property
    def api_key(self) -> str:
        return self._state.api_key

    @property
    def latency_ms(self) -> float:
        return self._state.latency_s * 1000

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self._state.latency_s = value / 1000

    @property
    def tokens_per_minute(self) -> int | None:
        return self._state.tokens_per_minute

    @tokens_per_minute.setter
    def tokens_per_minute(self, value: int | None) -> None:
        with self._state.lock:
            self._state.tokens_per_minute = value
            self._state.window.clear()

    # --- scripting and inspection --------------------------------------------------------------
    def inject(self, *faults: Fault | None) -> None:
        """Queue faults for the next requests, one each; ``None`` lets one request through."""
        with self._state.lock:
            self._state.faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._state.lock:
            return len(self._state.faults)

    @property
    def log(self) -> list[RequestRecord]:
        """A snapshot of every request so far, in arrival order."""
        with self._state.lock:
            return list(self._state.log)

    @property
    def embedding_requests(self) -> list[RequestRecord]:
        """The ``/v1/embeddings`` requests of :attr:`log`."""
        return [r for r in self.log if r.path.rstrip("/").endswith("/embeddings")]

    @property
    def max_in_flight(self) -> int:
        """Most requests the server was handling at once."""
        with self._state.lock:
            return self._state.max_in_flight

    def stats(self) -> dict:
        """Requests, status counts, accepted inputs and tokens, most in flight (see the log)."""
        return self._state.stats()

    def hold_after(self, n: int) -> None:
        """Answer the next ``n`` embeddings requests, then hold every later one unanswered
        (its record keeps ``status == 0``) until :meth:`release`: a test can then act while it
        knows exactly which requests were answered and which are in flight."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidInputError(f"hold_after takes a whole number >= 0, got {n!r}")
        state = self._state
        with state.changed:
            state.release.clear()
            state.hold_after = n

    def wait_held(self, n: int, timeout: float = 60.0) -> int:
        """Wait until at least ``n`` requests are held (see :meth:`hold_after`); returns how many
        are. Raises ``TimeoutError`` after ``timeout`` seconds."""
        state = self._state
        with state.changed:
            if not state.changed.wait_for(lambda: state.held >= n, timeout):
                raise TimeoutError(f"{state.held} request(s) held after {timeout} s, not {n}")
            return state.held

    def release(self) -> None:
        """End a hold: held requests are answered and later ones pass."""
        state = self._state
        with state.changed:
            state.hold_after = None
            state.release.set()

    def reset_log(self) -> None:
        """Forget the log and the in-flight maximum (the rate-limit window is kept)."""
        with self._state.lock:
            self._state.log.clear()
            self._state.max_in_flight = 0


def main(argv: list[str] | None = None) -> None:
    """``python -m core.server``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--tpm", type=int, default=None, help="tokens-per-minute limit")
    parser.add_argument("--rpm", type=int, default=None, help="requests-per-minute limit")
    parser.add_argument(
        "--rate-limit-headers", action="store_true", help="send x-ratelimit-* headers"
    )
    parser.add_argument(
        "--mode", choices=list(SERVER_MODES), default="openai", help="shape of the answers"
    )
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args(argv)
    server = OpenAICompatibleServer(
        api_key=args.api_key, latency_ms=args.latency_ms, tokens_per_minute=args.tpm,
        port=args.port, mode=args.mode, requests_per_minute=args.rpm,
        rate_limit_headers=args.rate_limit_headers,
    )  # fmt: skip
    with server:
        print(f"OPENAI_BASE_URL={server.base_url}", flush=True)
        print(f"OPENAI_API_KEY={server.api_key}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", flush=True)


if __name__ == "__main__":
    main()
