"""One run of :func:`core.batching.embed_texts`: plan, send, cache, assemble.

Kept apart from the public function so each file stays readable. Not public API.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np

from core.batch_errors import (
    RETRYABLE,
    EmbeddingJobError,
    JobCancelled,
    ProviderResponseError,
    RetriesExhaustedError,
)
from core.batch_planning import Gate, TokenPacer, backoff_delay, plan_requests, split_to_token_limit
from core.embed_cache import EmbeddingCache
from core.embedding_types import BatchEmbedder, BatchOutput, Progress

# Under a tokens-per-minute limit a request carries at most this share of the limit, so the
# pacer's bucket (one request) is small next to the minute's budget.
_TPM_REQUEST_SHARE = 20


class BatchJob:
    """State of one embedding job (see :mod:`core.batching` for the policies)."""

    def __init__(
        self,
        texts: list[str],
        embedder: BatchEmbedder,
        cache: EmbeddingCache | None,
        long_text_policy: str,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
    ) -> None:
        self.texts = texts
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
        self.lock = threading.Lock()
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
        self.requests: list[tuple[int, int]] = []

    # --- planning ---------------------------------------------------------------------------
    def _lookup(self, keys: list[str]) -> None:
        if self.cache is None or not keys:
            return
        for key, vec in zip(
            keys, self.cache.get_vectors(self.spec_key, keys, self.dim), strict=True
        ):
            if vec is not None:
                self.vectors[key] = vec

    def plan(self, batch_size: int, tokens_per_minute: int | None) -> None:
        limits = self.embedder.limits
        self._lookup(list(self.rows))
        misses = [t for t in self.rows if t not in self.vectors]
        counter = getattr(self.embedder, "token_counter", None)
        if counter is not None:
            counts = counter.count_many(misses)
        else:
            counts = [self.embedder.count_tokens(t) for t in misses]
        # A piece must also fit in one request on its own.
        input_limit = min(limits.max_tokens_per_input, limits.max_tokens_per_request)
        long_pieces: list[str] = []
        for text, count in zip(misses, counts, strict=True):
            if count <= input_limit:
                self.pieces[text] = [(text, count)]
                continue
            parts = split_to_token_limit(text, self.embedder.count_tokens, input_limit)
            if self.policy == "truncate":
                parts = parts[:1]
                self.n_truncated += len(self.rows[text])
            else:
                self.n_split += len(self.rows[text])
            self.pieces[text] = [(p, self.embedder.count_tokens(p)) for p in parts]
            long_pieces.extend(parts)
        self._lookup(list(dict.fromkeys(long_pieces)))
        self.owners: dict[str, list[str]] = {}
        for text, parts in self.pieces.items():
            for piece, count in parts:
                if piece in self.vectors:
                    continue
                if piece not in self.owners:
                    self.owners[piece] = []
                    self.todo.append(piece)
                    self.todo_tokens.append(count)
                if text not in self.owners[piece]:
                    self.owners[piece].append(text)
        self.remaining = {text: 0 for text in self.pieces}
        for owners in self.owners.values():
            for text in owners:
                self.remaining[text] += 1
        self.n_cached = sum(
            len(self.rows[t]) for t in self.rows if t in self.vectors or self.remaining[t] == 0
        )
        max_tokens = limits.max_tokens_per_request
        if tokens_per_minute is not None and self.todo:
            largest = max(self.todo_tokens)
            max_tokens = min(max_tokens, max(tokens_per_minute // _TPM_REQUEST_SHARE, largest))
        self.requests = plan_requests(
            self.todo_tokens, max_inputs=batch_size, max_tokens=max_tokens
        )
        if tokens_per_minute is not None and self.requests:
            burst = max(sum(self.todo_tokens[a:b]) for a, b in self.requests)
            self.pacer = TokenPacer(tokens_per_minute, burst)

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
            try:
                out = self.embedder.embed_batch(batch)
            except RETRYABLE as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise RetriesExhaustedError(
                        f"gave up after {self.max_retries} retries: {exc}"
                    ) from exc
                retry_after = getattr(exc, "retry_after", None)
                if retry_after is not None:
                    delay = retry_after
                    self.gate.hold(delay)  # every worker waits, not just this one
                else:
                    delay = backoff_delay(attempt, *self.backoff, self.rng)
                if self.cancel.wait(delay):
                    raise JobCancelled from exc
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
            return BatchOutput(vectors, out.tokens_used), attempt

    # --- the loop (calling thread) -------------------------------------------------------------
    def run(self, concurrency: int, progress: Callable[[Progress], None] | None, t0: float) -> None:
        n_total = len(self.texts)
        self.t0, self.done = t0, self.n_empty + self.n_cached
        self.done_at_start = self.done
        if not self.requests:
            if progress is not None:
                progress(Progress(0, 0, n_total, n_total, 0, time.perf_counter() - t0, 0.0))
            return
        if concurrency == 1:
            for index, (start, stop) in enumerate(self.requests):
                try:
                    out, retries = self._send(start, stop)
                except Exception as exc:
                    raise self._job_error(exc) from exc
                self._finish(index, start, stop, out, retries, progress)
            return
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="embed")
        futures: dict[Future, int] = {
            pool.submit(self._send, start, stop): i for i, (start, stop) in enumerate(self.requests)
        }
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = futures[future]
                    start, stop = self.requests[index]
                    try:
                        out, retries = future.result()
                    except Exception as exc:
                        raise self._job_error(exc) from exc
                    self._finish(index, start, stop, out, retries, progress)
        finally:
            # On any exit (done, fatal error, callback exception, Ctrl-C): drop queued requests,
            # wake waiting workers, let in-flight ones finish and cache their vectors.
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def _job_error(self, exc: Exception) -> EmbeddingJobError:
        self.cancel.set()
        n_total = len(self.texts)
        missing = n_total - self.done
        where = "kept in the cache" if self.cache is not None else "not cached (cache=None)"
        msg = (
            f"{exc} — {self.done} of {n_total} texts were done and are {where}; "
            f"rerunning sends only the remaining {missing}."
        )
        return EmbeddingJobError(msg, n_done=self.done, n_total=n_total)

    def _finish(self, index, start, stop, out: BatchOutput, retries, progress) -> None:
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
        if progress is None:
            return
        elapsed = time.perf_counter() - self.t0
        n_total = len(self.texts)
        sent = self.done - self.done_at_start
        eta = (n_total - self.done) * elapsed / sent if sent else None
        progress(
            Progress(self.n_requests, len(self.requests), self.done, n_total,
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
