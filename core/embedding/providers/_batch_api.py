"""Bulk jobs through the OpenAI Batch API: about half the price, results within 24 hours.

:func:`run_batch_api` writes the texts still missing from the cache as JSONL requests (each
within the endpoint's limits), uploads the file, creates the batch, polls it with progress,
downloads the output and puts every vector in the cache. The ordinary batch engine then
assembles the collection in input order from the cache and sends through the normal path only
what the batch did not answer (failed or expired lines, texts over the per-input limit, which
follow the engine's split/truncate policy).

An interrupted command resumes: the batch ids are saved in ``state_dir`` under a name derived
from the model, endpoint and texts, so the same command finds them and polls again instead of
paying twice. The project's local server (:mod:`core.server`) implements the same endpoints.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import openai

from core.errors import InvalidInputError, OpenAIRequestError, ProviderResponseError

# OpenAI: at most 50,000 embedding inputs across all requests of one batch.
MAX_INPUTS_PER_BATCH = 50_000
DONE_STATUSES = ("completed", "failed", "expired", "cancelled")
DEFAULT_POLL_S = 10.0


@dataclass(frozen=True)
class BatchProgress:
    """One poll: the batch's status and its line counts."""

    batch_id: str
    status: str
    completed: int
    failed: int
    total: int
    elapsed_s: float


@dataclass
class BatchAPIResult:
    """What the Batch API did; the rest goes through the normal path.

    Attributes
    ----------
    batch_ids : list of str
    n_texts : int
        Distinct texts sent in batches.
    n_answered : int
        Texts whose vectors came back (and are now in the cache).
    n_left : int
        Texts for the normal path: failed or expired lines, over-long texts.
    statuses : list of str
        Final status of each batch.
    resumed : bool
        A saved batch was picked up instead of creating a new one.
    elapsed_s : float
    """

    batch_ids: list[str] = field(default_factory=list)
    n_texts: int = 0
    n_answered: int = 0
    n_left: int = 0
    statuses: list[str] = field(default_factory=list)
    resumed: bool = False
    elapsed_s: float = 0.0


def _root_client(embedder) -> openai.OpenAI:
    return embedder._client._client  # the openai.OpenAI behind the embeddings resource


def _plan_lines(embedder, texts: list[str]) -> list[list[str]]:
    """Group texts into request bodies within the endpoint's input and token limits."""
    limits = embedder.limits
    counts = embedder.token_counter.count_many(texts)
    lines, current, tokens = [], [], 0
    for text, count in zip(texts, counts, strict=True):
        full = len(current) >= limits.max_inputs_per_request
        if current and (full or tokens + count > limits.max_tokens_per_request):
            lines.append(current)
            current, tokens = [], 0
        current.append(text)
        tokens += count
    if current:
        lines.append(current)
    return lines


class _Saved:
    """Where a batch id is kept: a JSON file under a folder, or a mapping (a session)."""

    def __init__(self, where, embedder, lines: list[list[str]]) -> None:
        digest = hashlib.sha256(f"{embedder.cache_key}\0{embedder.endpoint}".encode())
        for line in lines:
            for text in line:
                digest.update(text.encode("utf-8") + b"\0")
            digest.update(b"\1")
        self.name = digest.hexdigest()[:32]
        self.where = where
        self.path = None
        if where is not None and not isinstance(where, MutableMapping):
            self.path = Path(where) / "batch-api" / f"{self.name}.json"

    def get(self) -> str | None:
        if isinstance(self.where, MutableMapping):
            return self.where.get(self.name)
        if self.path is not None and self.path.is_file():
            return json.loads(self.path.read_text(encoding="utf-8")).get("batch_id")
        return None

    def put(self, batch_id: str, n_lines: int) -> None:
        if isinstance(self.where, MutableMapping):
            self.where[self.name] = batch_id
        elif self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"batch_id": batch_id, "lines": n_lines}), "utf-8")
            tmp.replace(self.path)

    def drop(self) -> None:
        if isinstance(self.where, MutableMapping):
            self.where.pop(self.name, None)
        elif self.path is not None:
            self.path.unlink(missing_ok=True)


def run_batch_api(
    texts: list[str],
    embedder,
    cache,
    *,
    state_dir: str | Path | None = None,
    poll_interval_s: float = DEFAULT_POLL_S,
    progress: Callable[[BatchProgress], None] | None = None,
    cancel: threading.Event | None = None,
    on_created: Callable[[str], None] | None = None,
) -> BatchAPIResult:
    """Embed the missing texts through the Batch API and put the vectors in ``cache``.

    Parameters
    ----------
    texts : list of str
        The job's texts (as given to :func:`core.embedding.embed_texts`, before prefixes).
    embedder : OpenAIEmbedder
        OpenAI, or a compatible server that implements ``/files`` and ``/batches``.
    cache : EmbeddingCache or SessionVectorStore
        Where vectors go; required (the normal path reads them from there).
    state_dir : path or mutable mapping, optional
        Where batch ids are saved so an interrupted run resumes polling: a folder (a JSON file
        under ``batch-api/``), or a mapping such as a dashboard session's.
    poll_interval_s : float
        Seconds between polls.
    progress : callable, optional
        Called with a :class:`BatchProgress` after each poll.
    cancel : threading.Event, optional
        Set to stop polling (the batch keeps running at the server; the saved id resumes it).
    on_created : callable, optional
        Called with each new batch id once it is saved.

    Returns
    -------
    BatchAPIResult

    Raises
    ------
    OpenAIRequestError
        The server refused the upload or the batch (the message says what it answered).
    """
    if cache is None:
        raise InvalidInputError(
            "the Batch API path keeps its results in the embedding cache: turn the cache on"
        )
    if getattr(embedder.spec, "provider", None) != "openai":
        raise InvalidInputError(
            "the Batch API is an OpenAI feature: choose the openai provider (or a compatible "
            "server that implements /files and /batches)"
        )
    started = time.perf_counter()
    prefix = embedder.spec.document_prefix
    distinct = list(dict.fromkeys(prefix + t for t in texts if isinstance(t, str) and t.strip()))
    limit = min(embedder.limits.max_tokens_per_input, embedder.limits.max_tokens_per_request)
    counts = embedder.token_counter.count_many(distinct)
    fits = [t for t, c in zip(distinct, counts, strict=True) if c <= limit]
    hits = cache.get_vectors(embedder.cache_key, fits, embedder.dimension)
    missing = [t for t, v in zip(fits, hits, strict=True) if v is None]
    result = BatchAPIResult(n_texts=len(missing))
    if not missing:
        result.n_left = len(distinct) - len(fits)
        return result
    lines = _plan_lines(embedder, missing)
    groups: list[list[list[str]]] = [[]]
    n_inputs = 0
    for line in lines:
        if groups[-1] and n_inputs + len(line) > MAX_INPUTS_PER_BATCH:
            groups.append([])
            n_inputs = 0
        groups[-1].append(line)
        n_inputs += len(line)
    for group in groups:
        answered, batch_id, status, resumed = _one_batch(
            embedder, cache, group, state_dir, poll_interval_s, progress, cancel, on_created,
            started,
        )  # fmt: skip
        result.batch_ids.append(batch_id)
        result.statuses.append(status)
        result.n_answered += answered
        result.resumed = result.resumed or resumed
    result.n_left = len(distinct) - result.n_answered
    result.elapsed_s = time.perf_counter() - started
    return result


def _request_line(embedder, i: int, line: list[str]) -> str:
    body = {"model": embedder.model, "input": line, "encoding_format": embedder.encoding}
    if embedder.dimensions is not None:
        body["dimensions"] = embedder.dimensions
    request = {"custom_id": f"line-{i}", "method": "POST", "url": "/v1/embeddings", "body": body}
    return json.dumps(request, ensure_ascii=False)


def _call(what: str, embedder, fn):
    try:
        return fn()
    except openai.APIStatusError as exc:
        raise OpenAIRequestError(
            f"the Batch API at {embedder.endpoint} refused to {what} "
            f"({exc.status_code}: {exc.message})",
            status=exc.status_code,
        ) from exc
    except openai.APIConnectionError as exc:
        raise OpenAIRequestError(
            f"could not reach the Batch API at {embedder.endpoint} to {what}: {exc}"
        ) from exc


def _one_batch(embedder, cache, lines, state_dir, poll_s, progress, cancel, on_created, t0):
    client = _root_client(embedder)
    keeper = _Saved(state_dir, embedder, lines)
    saved = keeper.get()
    resumed = saved is not None
    if saved is None:
        jsonl = "".join(_request_line(embedder, i, line) + "\n" for i, line in enumerate(lines))
        upload = _call(
            "take the input file",
            embedder,
            lambda: client.files.create(file=("embed.jsonl", jsonl.encode()), purpose="batch"),
        )
        batch = _call(
            "create the batch",
            embedder,
            lambda: client.batches.create(
                input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h"
            ),
        )
        saved = batch.id
        keeper.put(saved, len(lines))
        if on_created is not None:
            on_created(saved)
    while True:
        batch = _call("report the batch", embedder, lambda: client.batches.retrieve(saved))
        counts = batch.request_counts
        if progress is not None:
            progress(
                BatchProgress(
                    saved, batch.status, getattr(counts, "completed", 0) or 0,
                    getattr(counts, "failed", 0) or 0, getattr(counts, "total", 0) or len(lines),
                    time.perf_counter() - t0,
                )
            )  # fmt: skip
        if batch.status in DONE_STATUSES:
            break
        if cancel is not None:
            if cancel.wait(poll_s):
                raise KeyboardInterrupt
        else:
            time.sleep(poll_s)
    answered = 0
    if batch.output_file_id:
        raw = _call(
            "send the output file",
            embedder,
            lambda: client.files.content(batch.output_file_id).content,
        )
        answered = _store_output(embedder, cache, lines, raw)
    keeper.drop()
    return answered, saved, batch.status, resumed


def _store_output(embedder, cache, lines: list[list[str]], raw: bytes) -> int:
    """Put each answered line's vectors in the cache; returns the texts answered."""
    answered = 0
    for number, row in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not row.strip():
            continue
        try:
            item = json.loads(row)
            index = int(str(item["custom_id"]).removeprefix("line-"))
            response = item.get("response") or {}
        except (json.JSONDecodeError, KeyError, ValueError) as exc:
            raise ProviderResponseError(
                f"line {number} of the batch output is not a batch answer: {exc}"
            ) from exc
        if response.get("status_code") != 200 or not 0 <= index < len(lines):
            continue  # retried through the normal path
        texts = lines[index]
        out = embedder._parse(response.get("body") or {}, len(texts))
        cache.put_vectors(embedder.cache_key, texts, out.vectors)
        answered += len(texts)
    return answered
