"""One run of :func:`core.embedding.embed_texts`: plan, send, cache, assemble.

Kept apart from the public function so each file stays readable. Not public API.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np

from core.embedding._cache import EmbeddingCache
from core.embedding._planning import (
    Gate,
    RequestPacer,
    TokenPacer,
    backoff_delay,
    split_to_token_limit,
)
from core.embedding._types import BatchEmbedder, BatchOutput, Progress, RateLimitHeaders
from core.errors import (
    RETRYABLE,
    EmbeddingJobError,
    JobCancelled,
    ProviderResponseError,
    RetriesExhaustedError,
)

# Under a tokens-per-minute limit a request carries at most this share of the limit, so the
# pacer's bucket (one request) is small next to the minute's budget.
_TPM_REQUEST_SHARE = 50
_COUNT_CHUNK = 1024  # texts counted per planning step, between sends
# While a retry waits, the calling thread reports it this often, so a progress display shows the
# wait and a Stop (a progress callback that raises), Ctrl-C or SIGTERM acts within this time.
_WAIT_TICK_S = 0.25
DEFAULT_MAX_RETRY_WAIT_S = 60.0


def wait_note(seconds: float, asked: float | None, attempt: int, max_retries: int) -> str:
    """What a progress display says while a request waits to be retried."""
    if asked is None:
        return f"waiting {_secs(seconds)} s before retry {attempt} of {max_retries}"
    if asked > seconds:
        what = "an unlimited wait" if asked == float("inf") else f"{_secs(asked)} s"
        return f"waiting {_secs(seconds)} s: the server asked for {what}"
    return f"waiting {_secs(seconds)} s, as the server asked (Retry-After)"


def _secs(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"


class BatchJob:
    """State of one embedding job (see :mod:`core.embedding._batching` for the policies)."""

    def __init__(
        self,
        texts: list[str],
        embedder: BatchEmbedder,
        cache: EmbeddingCache | None,
        long_text_policy: str,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
        max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
    ) -> None:
        self.texts = texts
        self.max_retry_wait_s = max_retry_wait_s
        self.main_thread = threading.current_thread()
        # (until, note) of the longest retry wait in progress, for the calling thread to report.
        self.waiting: tuple[float, str] | None = None
        self.wait_lock = threading.Lock()
        self.callback_error: Exception | None = None
        self.embedder = embedder
        self.cache = cache
        self.policy = long_text_policy
        self.max_retries = max_retries
        self.backoff = (backoff_base_s, backoff_max_s)
        self.dim = int(embedder.dimension)
        # Providers may namespace their cache entries further (e.g. by endpoint).
        self.spec_key = getattr(embedder, "cache_key", embedder.spec.key)
        self.rng = random.Random()
        self.cancel = threading.Event()
        self.gate = Gate()
        self.pacer: TokenPacer | None = None
        self.rpm_pacer: RequestPacer | None = None
        self.learn_lock = threading.Lock()
        self.learnt: dict[str, int] = {}  # limits learnt from the server's x-ratelimit headers
        self.max_request_tokens = 0
        self.tokens_used = self.n_requests = self.n_retries = 0
        self.n_cached = self.n_split = self.n_truncated = 0
        self.n_empty = sum(1 for t in texts if not t.strip())
        # Distinct non-empty text -> the input rows holding it.
        self.rows: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            if text.strip():
                self.rows.setdefault(text, []).append(i)
        self.pieces: dict[str, list[tuple[str, int]]] = {}  # text -> [(piece, tokens)] if sent
        self.vectors: dict[str, np.ndarray] = {}  # text or piece -> vector
        self.todo: list[str] = []  # distinct pieces to send, in first-seen order
        self.todo_tokens: list[int] = []
        self.owners: dict[str, list[str]] = {}  # queued piece -> texts waiting for it
        self.remaining: dict[str, int] = {}  # text -> pieces still to come back
        self.requests: list[tuple[int, int]] = []  # planned so far, as slices of todo
        self.progress: Callable[[Progress], None] | None = None
        self.done = 0

    # --- planning ---------------------------------------------------------------------------
    def _lookup(self, keys: list[str]) -> None:
        if self.cache is None or not keys:
            return
        for key, vec in zip(
            keys, self.cache.get_vectors(self.spec_key, keys, self.dim), strict=True
        ):
            if vec is not None:
                self.vectors[key] = vec

    def plan(
        self,
        batch_size: int,
        tokens_per_minute: int | None,
        requests_per_minute: int | None = None,
    ) -> None:
        """Look up the cache and fix the caps; requests are then planned while sending."""
        limits = self.embedder.limits
        self._lookup(list(self.rows))
        self.misses = [t for t in self.rows if t not in self.vectors]
        self.n_cached = sum(len(self.rows[t]) for t in self.rows if t in self.vectors)
        self.batch_size = batch_size
        # A piece must also fit in one request on its own.
        self.piece_limit = min(limits.max_tokens_per_input, limits.max_tokens_per_request)
        self.request_cap = limits.max_tokens_per_request
        if tokens_per_minute is not None:
            # Requests of a small share of the minute keep the pacer's bucket (one request) small.
            share = max(tokens_per_minute // _TPM_REQUEST_SHARE, self.piece_limit)
            self.request_cap = min(self.request_cap, share)
            self.pacer = TokenPacer(tokens_per_minute, self.request_cap)
        if requests_per_minute is not None:
            self.rpm_pacer = RequestPacer(requests_per_minute)
        self.planned_texts = 0
        self.open_start = 0  # first todo index of the request being filled
        self.planning_done = False

    def _count(self, texts: list[str]) -> list[int]:
        counter = getattr(self.embedder, "token_counter", None)
        if counter is not None:
            return counter.count_many(texts)
        return [self.embedder.count_tokens(t) for t in texts]

    def _pieces_of(self, text: str, count: int) -> list[tuple[str, int]]:
        if count <= self.piece_limit:
            return [(text, count)]
        parts = split_to_token_limit(text, self.embedder.count_tokens, self.piece_limit)
        if self.policy == "truncate":
            parts = parts[:1]
            self.n_truncated += len(self.rows[text])
        else:
            self.n_split += len(self.rows[text])
        self._lookup([p for p in dict.fromkeys(parts) if p not in self.vectors])
        return [(p, self.embedder.count_tokens(p)) for p in parts]

    def requests_iter(self) -> Iterator[tuple[int, int]]:
        """Count, split and group the missing texts, yielding each request once it is full.

        Runs in the calling thread between sends, so the first request leaves after counting
        one batch, not the whole job. A text's pieces are all registered before any request
        holding one of them is yielded.
        """
        start, tokens = 0, 0
        for chunk_start in range(0, len(self.misses), _COUNT_CHUNK):
            chunk = self.misses[chunk_start : chunk_start + _COUNT_CHUNK]
            ready: list[tuple[int, int]] = []
            for text, count in zip(chunk, self._count(chunk), strict=True):
                parts = self._pieces_of(text, count)
                self.pieces[text] = parts
                self.remaining[text] = 0
                for piece, piece_tokens in parts:
                    if piece in self.vectors:  # cached, or answered already
                        continue
                    self.remaining[text] += 1
                    if piece in self.owners:  # already queued for another text
                        self.owners[piece].append(text)
                        continue
                    self.owners[piece] = [text]
                    full = len(self.todo) - start >= self.batch_size
                    if len(self.todo) > start and (
                        full or tokens + piece_tokens > self.request_cap
                    ):
                        ready.append((start, len(self.todo)))
                        start, tokens = len(self.todo), 0
                    self.todo.append(piece)
                    self.todo_tokens.append(piece_tokens)
                    tokens += piece_tokens
                self.planned_texts += 1
                if self.remaining[text] == 0:  # every piece was cached
                    self.n_cached += len(self.rows[text])
                    self.done += len(self.rows[text])
            self.requests.extend(ready)
            self.open_start = start
            yield from ready
        self.planning_done = True
        if len(self.todo) > start:
            self.requests.append((start, len(self.todo)))
            yield self.requests[-1]

    def n_batches(self) -> int:
        """Requests planned, plus an estimate for the texts not yet planned."""
        if self.planning_done:
            return len(self.requests)
        rest = len(self.misses) - self.planned_texts
        open_request = int(len(self.todo) > self.open_start)
        return len(self.requests) + open_request + -(-rest // self.batch_size)

    # --- sending (worker threads) ----------------------------------------------------------
    def _send(self, start: int, stop: int) -> tuple[BatchOutput, int]:
        """One request with its retries; returns the output and the retries it took."""
        batch = self.todo[start:stop]
        planned = sum(self.todo_tokens[start:stop])
        attempt = 0
        while True:
            if not self.gate.wait(self.cancel):
                raise JobCancelled
            if self.pacer is not None and not self.pacer.acquire(planned, self.cancel):
                raise JobCancelled
            rpm = self.rpm_pacer
            if rpm is not None and not rpm.acquire(self.cancel):
                raise JobCancelled
            try:
                out = self.embedder.embed_batch(batch)
            except RETRYABLE as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise RetriesExhaustedError(
                        f"gave up after {self.max_retries} retries: {exc}"
                    ) from exc
                asked = getattr(exc, "retry_after", None)
                if asked is not None:
                    # A server may ask for an hour (or "inf"): never trust it beyond the cap.
                    delay = min(asked, self.max_retry_wait_s)
                    self.gate.hold(delay)  # every worker waits, not just this one
                else:
                    delay = backoff_delay(attempt, *self.backoff, self.rng)
                self._pause(delay, wait_note(delay, asked, attempt, self.max_retries))
                continue
            vectors = np.ascontiguousarray(out.vectors, dtype=np.float32)
            if vectors.shape != (len(batch), self.dim) or not np.isfinite(vectors).all():
                raise ProviderResponseError(
                    f"{self.spec_key} returned vectors of shape {vectors.shape} (finite: "
                    f"{bool(np.isfinite(vectors).all())}) for {len(batch)} texts of dimension "
                    f"{self.dim}: the provider or server is misbehaving"
                )
            if self.cache is not None:
                self.cache.put_vectors(self.spec_key, batch, vectors)  # saved before anything else
            if out.rate_limits is not None:
                self._learn(out.rate_limits, planned)
            return BatchOutput(vectors, out.tokens_used), attempt

    def _learn(self, headers: RateLimitHeaders, planned: int) -> None:
        """Adopt the limits a server states in its ``x-ratelimit-*`` headers.

        A stated requests- or tokens-per-minute limit starts a pacer when none was set; a budget
        that ran out (no requests left, or fewer tokens than the largest request) holds every
        worker until the server's reset time.
        """
        with self.learn_lock:
            self.max_request_tokens = max(self.max_request_tokens, planned)
            if headers.limit_requests and self.rpm_pacer is None:
                self.rpm_pacer = RequestPacer(headers.limit_requests)
                self.learnt["requests_per_minute"] = headers.limit_requests
            tpm = headers.limit_tokens
            # The bucket holds twice the largest request so far (not the planning cap, which
            # may be far bigger): a small bucket keeps the long-run rate close to the limit.
            burst = min(self.request_cap, max(2 * self.max_request_tokens, 1))
            if tpm and self.pacer is None and burst < 0.98 * tpm:
                self.pacer = TokenPacer(tpm, burst)
                self.learnt["tokens_per_minute"] = tpm
            biggest = self.max_request_tokens
        if headers.remaining_requests == 0 and headers.reset_requests_s:
            self.gate.hold(headers.reset_requests_s)
        left = headers.remaining_tokens
        if left is not None and left < biggest and headers.reset_tokens_s:
            self.gate.hold(headers.reset_tokens_s)

    def _pause(self, seconds: float, note: str) -> None:
        """Wait before a retry; raises JobCancelled as soon as the job is cancelled.

        In the calling thread (one request at a time) the wait is reported every
        ``_WAIT_TICK_S`` through the progress callback, which may raise to stop it; in a worker
        the calling thread reports it (see :meth:`_run_pool`).
        """
        until = time.monotonic() + seconds
        with self.wait_lock:
            if self.waiting is None or self.waiting[0] < until:
                self.waiting = (until, note)
        try:
            if threading.current_thread() is not self.main_thread:
                if self.cancel.wait(seconds):
                    raise JobCancelled
                return
            while (left := until - time.monotonic()) > 0:
                self._report_wait()
                if self.cancel.wait(min(left, _WAIT_TICK_S)):
                    raise JobCancelled
        finally:
            with self.wait_lock:
                if self.waiting is not None and self.waiting[0] <= time.monotonic():
                    self.waiting = None

    def _report_wait(self) -> None:
        """Tell the progress callback (calling thread only) that requests are waiting."""
        with self.wait_lock:
            waiting = self.waiting
        if self.progress is None or waiting is None:
            return
        until, note = waiting
        left = until - time.monotonic()
        if left <= 0:
            return
        elapsed = time.perf_counter() - self.t0
        try:
            self.progress(
                Progress(self.n_requests, self.n_batches(), self.done, len(self.texts),
                         self.tokens_used, elapsed, None, note=note, wait_s=left)
            )  # fmt: skip
        except Exception as exc:
            self.callback_error = exc
            raise

    # --- the loop (calling thread) -------------------------------------------------------------
    def run(self, concurrency: int, progress: Callable[[Progress], None] | None, t0: float) -> None:
        n_total = len(self.texts)
        self.t0, self.done = t0, self.n_empty + self.n_cached
        self.done_at_start = self.done
        self.progress = progress
        planner = self.requests_iter()
        if concurrency == 1:
            for start, stop in planner:
                try:
                    out, retries = self._send(start, stop)
                except Exception as exc:
                    if exc is self.callback_error:  # the progress callback's own: unchanged
                        raise
                    raise self._job_error(exc) from exc
                self._finish(start, stop, out, retries)
        else:
            self._run_pool(planner, concurrency)
        if not self.requests and progress is not None:
            progress(Progress(0, 0, self.done, n_total, 0, time.perf_counter() - t0, 0.0))

    def _run_pool(self, planner: Iterator[tuple[int, int]], concurrency: int) -> None:
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="embed")
        pending: dict[Future, tuple[int, int]] = {}
        failure: Exception | None = None
        try:
            while failure is None:
                # Keep a few requests queued beyond those in flight; plan more meanwhile.
                while not self.planning_done and len(pending) < 2 * concurrency:
                    request = next(planner, None)
                    if request is None:
                        break
                    pending[pool.submit(self._send, *request)] = request
                if not pending:
                    break
                # Wake up now and then: a retry wait is reported (and may be stopped) meanwhile.
                finished, _ = wait(pending, timeout=_WAIT_TICK_S, return_when=FIRST_COMPLETED)
                if not finished:
                    self._report_wait()
                for future in finished:
                    start, stop = pending.pop(future)
                    try:
                        out, retries = future.result()
                    except Exception as exc:
                        failure = exc
                        break
                    self._finish(start, stop, out, retries)
        finally:
            # On any exit (done, fatal error, callback exception, Ctrl-C): drop queued requests,
            # wake waiting workers, let in-flight ones finish and cache their vectors.
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            # Requests that finished meanwhile are cached: count them in what the job kept.
            for future, (start, stop) in pending.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    out, retries = future.result()
                    self._finish(start, stop, out, retries, report=False)
        if failure is not None:
            raise self._job_error(failure) from failure

    def _job_error(self, exc: Exception) -> EmbeddingJobError:
        self.cancel.set()
        return EmbeddingJobError(
            job_error_message(exc, len(self.texts), self.n_empty, self.done - self.n_empty,
                              self.cache is not None),
            n_done=self.done - self.n_empty,
            n_total=len(self.texts) - self.n_empty,
        )  # fmt: skip

    def _finish(
        self, start: int, stop: int, out: BatchOutput, retries: int, *, report: bool = True
    ) -> None:
        batch = self.todo[start:stop]
        for piece, vec in zip(batch, out.vectors, strict=True):
            self.vectors[piece] = vec
            for text in self.owners[piece]:
                self.remaining[text] -= 1
                if self.remaining[text] == 0:
                    self.done += len(self.rows[text])
        reported = out.tokens_used
        self.tokens_used += reported if reported is not None else sum(self.todo_tokens[start:stop])
        self.n_requests += 1
        self.n_retries += retries
        if self.progress is None or not report:
            return
        elapsed = time.perf_counter() - self.t0
        n_total = len(self.texts)
        sent = self.done - self.done_at_start
        eta = (n_total - self.done) * elapsed / sent if sent else None
        self.progress(
            Progress(self.n_requests, self.n_batches(), self.done, n_total,
                     self.tokens_used, elapsed, eta)
        )  # fmt: skip

    # --- result ------------------------------------------------------------------------------
    def assemble(self) -> np.ndarray:
        out = np.zeros((len(self.texts), self.dim), dtype=np.float32)
        for text, rows in self.rows.items():
            parts = self.pieces.get(text)
            if parts is None or len(parts) == 1:
                vec = self.vectors[parts[0][0] if parts else text]
            else:
                weights = np.array([count for _, count in parts], dtype=np.float64)
                stacked = np.stack([self.vectors[piece] for piece, _ in parts]).astype(np.float64)
                mean = weights @ stacked / weights.sum()
                norm = np.linalg.norm(mean)
                vec = mean / norm if norm > 0 else mean
            out[rows] = vec
        return out


def job_error_message(exc: Exception, n_total: int, n_blank: int, n_kept: int, cached: bool) -> str:
    """What a failed job says: the error, what is kept (blank texts, which need no request,
    are not counted as embedded) and what a rerun sends.

    Parameters
    ----------
    exc : Exception
        The provider's error.
    n_total, n_blank : int
        Texts in the job; how many of them are blank.
    n_kept : int
        Non-blank texts whose vectors the job has (from the cache or sent), counting requests
        that finished after the error.
    cached : bool
        Whether those vectors are in a cache (``cache=None`` keeps nothing).
    """
    n_real = n_total - n_blank
    blanks = f" ({n_blank:,} blank text(s) need no request)" if n_blank else ""
    if n_kept == 0:
        what = "the text was not" if n_real == 1 else f"none of the {n_real:,} texts was"
        return f"{exc} — {what} embedded{blanks}; nothing is lost — fix the problem and try again."
    if not cached:
        return (
            f"{exc} — {n_kept:,} of {n_real:,} texts were embedded but not kept (cache=None)"
            f"{blanks}; rerunning sends all {n_real:,} again."
        )
    return (
        f"{exc} — {n_kept:,} of {n_real:,} texts are embedded and kept in the cache{blanks}; "
        f"rerunning sends only the remaining {n_real - n_kept:,}."
    )
