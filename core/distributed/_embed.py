"""Distributed embedding jobs: one shard per partition, one rate limit for the whole cluster.

:func:`embed_to_shards` cuts the texts into partitions of ``rows_per_shard``; each partition is
one Dask task that builds the embedder on its worker, embeds the partition with the normal batch
engine (:func:`core.embedding.embed_texts`: batching, retries, several requests in flight) and
writes the result as a shard of the output collection (:mod:`core.data._shards`).

- **One budget**: with ``tokens_per_minute``/``requests_per_minute`` every request of every
  worker goes through one :class:`~core.distributed._limits.SharedRateLimit` kept on the
  scheduler; a Retry-After from the provider pauses the whole cluster.
- **Nothing paid twice**: each partition's finished requests are kept in its own cache under the
  output directory (``.partial/<shard>/``) until its shard is written; a worker killed mid-job
  loses only its requests in flight (the scheduler reruns the task, which reads the cache). A
  rerun of a stopped job skips every shard already written and verified, and resumes the others
  from their caches.
- **Progress**: ``progress(JobProgress)`` as requests finish on the workers (each partition
  reports its texts done through a Dask event topic) and after each shard: shards and texts
  done.

The output directory and the caches must be on a path every worker can read and write.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data._shards import (
    SHARDS_DIR,
    SHARDS_MANIFEST,
    ShardedCollection,
    ShardedManifest,
    ShardInfo,
    read_shard_record,
    verify_shard,
    write_manifest,
    write_shard,
)
from core.distributed._cluster import require_distributed
from core.distributed._limits import LimitedEmbedder, SharedRateLimit
from core.errors import CollectionError, EmbeddingJobError, InvalidInputError, WorkbenchError

JOB_FILE = "job.json"
PARTIAL_DIR = ".partial"
DEFAULT_ROWS_PER_SHARD = 10_000


@dataclass(frozen=True)
class JobProgress:
    """Where a distributed job stands: after each finished shard, and as the workers' requests
    finish (``texts_done`` counts the texts of finished shards and of finished requests)."""

    shards_done: int
    n_shards: int
    texts_done: int
    n_texts: int
    elapsed_s: float


@dataclass(frozen=True)
class DistributedEmbeddingResult:
    """What :func:`embed_to_shards` returns.

    Attributes
    ----------
    collection : ShardedCollection
        The output, one shard per partition, rows in input order.
    n_shards, n_skipped : int
        Shards in the collection; shards already written by an earlier run (not redone).
    n_requests, tokens_used, n_cached : int
        Sent by this run (from the partitions' engines); texts served from the partial caches.
    elapsed_s : float
    """

    collection: ShardedCollection
    n_shards: int
    n_skipped: int
    n_requests: int
    tokens_used: int
    n_cached: int
    elapsed_s: float


def embed_to_shards(
    texts: Sequence[str],
    out,
    *,
    client,
    provider: str | None = None,
    model: str | None = None,
    dimensions: int | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    provider_options: dict | None = None,
    metadata: pd.DataFrame | None = None,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    tokens_per_minute: int | None = None,
    requests_per_minute: int | None = None,
    window_s: float = 60.0,
    jitter_s: float | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    long_text_policy: str = "split",
    max_retries: int = 6,
    progress: Callable[[JobProgress], None] | None = None,
) -> DistributedEmbeddingResult:
    """Embed ``texts`` on the Dask cluster of ``client`` into a sharded collection at ``out``.

    Parameters
    ----------
    texts : sequence of str
        ``n_texts`` texts; row ``i`` of the collection is ``texts[i]``.
    out : path-like
        New or empty directory, or the directory of an earlier run of the same job (resumed).
    client : distributed.Client
    provider, model, dimensions, api_key, base_url, provider_options
        What :func:`core.embedding.providers.get_embedder` gets on each worker.
    metadata : pandas.DataFrame, optional
        One row per text, stored with the shards.
    rows_per_shard : int
        Texts per partition (and per shard).
    tokens_per_minute, requests_per_minute : int, optional
        The provider's limits, held across the whole cluster.
    window_s : float
        The limits' window (60 s for per-minute limits).
    jitter_s : float, optional
        How late a request may reach the provider after its turn; see
        :class:`~core.distributed._limits.SharedRateLimit`.
    batch_size, concurrency, long_text_policy, max_retries
        Passed to the batch engine on each worker.
    progress : callable, optional
        Called with a :class:`JobProgress` after each shard and as requests finish (from the
        client's event thread for the latter, under a lock: one call at a time).

    Returns
    -------
    DistributedEmbeddingResult

    Raises
    ------
    CollectionError
        ``out`` holds something else (another job, other files).
    EmbeddingJobError
        Some partitions failed; the message says how many texts are kept and that a rerun
        resumes.
    """
    distributed = require_distributed()
    started = time.perf_counter()
    texts = _check_texts(texts)
    if isinstance(rows_per_shard, bool) or not isinstance(rows_per_shard, int) \
            or rows_per_shard < 1:  # fmt: skip
        raise InvalidInputError(f"rows_per_shard must be a positive integer, got {rows_per_shard}")
    if metadata is not None and len(metadata) != len(texts):
        raise InvalidInputError(f"{len(metadata)} metadata rows for {len(texts)} texts")
    embedder_args = {
        "provider": provider, "model": model, "dimensions": dimensions, "api_key": api_key,
        "base_url": base_url, **(provider_options or {}),
    }  # fmt: skip
    limit = None
    if tokens_per_minute is not None or requests_per_minute is not None:
        limit = SharedRateLimit(
            tokens_per_minute, requests_per_minute, window_s, jitter_s=jitter_s
        ).start(client)
    engine = {"batch_size": batch_size, "concurrency": concurrency,
              "long_text_policy": long_text_policy, "max_retries": max_retries,
              # the engine's own pacer sizes requests to a small share of a per-minute limit
              "tokens_per_minute": tokens_per_minute if window_s == 60.0 else None}  # fmt: skip
    root = Path(out)
    fingerprint = _fingerprint(texts, embedder_args, rows_per_shard)
    _claim(root, fingerprint, len(texts), rows_per_shard)
    for staged in (root / SHARDS_DIR).glob(".part-*"):  # a shard write cut short by a kill
        staged.unlink(missing_ok=True)

    ranges = [
        (lo, min(lo + rows_per_shard, len(texts))) for lo in range(0, len(texts), rows_per_shard)
    ]
    names = [f"part-{i:05d}" for i in range(len(ranges))]
    infos: dict[int, ShardInfo] = {}
    results: dict[int, dict] = {}
    todo = []
    for i, ((lo, hi), name) in enumerate(zip(ranges, names, strict=True)):
        input_hash = _input_hash(texts[lo:hi])
        done = _finished_shard(root, name, hi - lo, input_hash)
        if done is not None:
            infos[i] = done
        else:
            todo.append((i, lo, hi, input_hash))
    n_skipped = len(infos)
    texts_done = sum(infos[i].count for i in infos)
    if progress is not None:
        progress(JobProgress(len(infos), len(ranges), texts_done, len(texts),
                             time.perf_counter() - started))  # fmt: skip

    topic = f"embed-progress-{fingerprint[:12]}-{time.time_ns()}"
    report_lock = threading.Lock()
    running: dict[str, int] = {}  # partition -> texts done so far on its worker
    shown = [texts_done]

    def report() -> None:  # under report_lock
        done = max(shown[0], texts_done + sum(running.values()))  # never goes back
        shown[0] = done
        if progress is not None:
            progress(JobProgress(len(infos), len(ranges), done, len(texts),
                                 time.perf_counter() - started))  # fmt: skip

    def on_event(event) -> None:
        name, done = event[1]
        with report_lock:
            if name in running:
                running[name] = max(running[name], int(done))
                report()

    futures = {}
    for i, lo, hi, input_hash in todo:
        running[names[i]] = 0
        part_meta = None if metadata is None else metadata.iloc[lo:hi].reset_index(drop=True)
        future = client.submit(
            _embed_partition, str(root), names[i], texts[lo:hi], part_meta, embedder_args, limit,
            engine, input_hash, topic if progress is not None else None,
            key=f"embed-{fingerprint[:12]}-{names[i]}-{time.time_ns()}",
            pure=False,
        )  # fmt: skip
        futures[future] = i
    errors: list[str] = []
    if progress is not None and futures:
        client.subscribe_topic(topic, on_event)
    try:
        for future in distributed.as_completed(futures):
            i = futures[future]
            try:
                result = future.result()
            except distributed.KilledWorker:
                errors.append(f"{names[i]}: the workers running it kept dying")
                continue
            except (WorkbenchError, OSError, ValueError) as exc:
                errors.append(f"{names[i]}: {exc}")
                continue
            with report_lock:
                infos[i] = ShardInfo(result["name"], result["count"], result["content_hash"])
                results[i] = result
                texts_done += result["count"]
                running.pop(names[i], None)
                report()
    finally:
        if progress is not None and futures:
            client.unsubscribe_topic(topic)
        client.cancel(list(futures))
    if errors:
        raise EmbeddingJobError(
            f"{len(errors)} of {len(ranges)} shard(s) failed ({'; '.join(errors[:3])}) — "
            f"{texts_done} of {len(texts)} texts are written as shards and the finished requests "
            f"of the others are kept under {root / PARTIAL_DIR}; rerun the same job to resume "
            "(nothing done is sent again)",
            n_done=texts_done,
            n_total=len(texts),
        )
    spec = _spec_of(root, results, names)
    manifest = ShardedManifest(
        provider=spec["provider"],
        model=spec["model"],
        dimension=spec["dimension"],
        dtype="float32",
        normalized=all(r.get("normalized", True) for r in results.values()),
        created=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        dimensions_requested=spec["dimensions"],
        extra={"job": fingerprint[:16]},
    ).with_shards([infos[i] for i in range(len(ranges))])
    if not (root / SHARDS_MANIFEST).exists() or results:
        write_manifest(root, manifest)
    shutil.rmtree(root / PARTIAL_DIR, ignore_errors=True)
    return DistributedEmbeddingResult(
        collection=ShardedCollection.open(root),
        n_shards=len(ranges),
        n_skipped=n_skipped,
        n_requests=sum(r["n_requests"] for r in results.values()),
        tokens_used=sum(r["tokens_used"] for r in results.values()),
        n_cached=sum(r["n_cached"] for r in results.values()),
        elapsed_s=time.perf_counter() - started,
    )


# ------------------------------------------------------------------------ client side


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise InvalidInputError(
            "texts must be a list of strings, not one string: wrap it as [text]"
        )
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"texts[{i}] is {type(text).__name__}, not str: convert it first"
            )
    if not texts:
        raise InvalidInputError("no texts to embed")
    return texts


def _input_hash(texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def _fingerprint(texts, embedder_args, rows_per_shard) -> str:
    what = {k: v for k, v in embedder_args.items() if k != "api_key"}
    head = json.dumps({"embedder": what, "rows_per_shard": rows_per_shard}, sort_keys=True,
                      default=str)  # fmt: skip
    return hashlib.sha256(head.encode() + _input_hash(texts).encode()).hexdigest()


def _claim(root: Path, fingerprint: str, n_texts: int, rows_per_shard: int) -> None:
    """Make ``root`` this job's directory, or refuse if it holds anything else."""
    job = root / JOB_FILE
    if job.exists():
        try:
            previous = json.loads(job.read_text(encoding="utf-8"))["fingerprint"]
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError) as exc:
            raise CollectionError(f"{job} is corrupt ({exc}); choose a new directory") from None
        if previous != fingerprint:
            raise CollectionError(
                f"{root} holds another embedding job (other texts, model or shard size); "
                "choose a new directory, or rerun that job with its own inputs"
            )
        return
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise CollectionError(
            f"cannot write the shards to {root}: it is a file or a non-empty directory; choose a "
            "new or empty directory"
        )
    root.mkdir(parents=True, exist_ok=True)
    record = {"fingerprint": fingerprint, "n_texts": n_texts, "rows_per_shard": rows_per_shard}
    staged = root / f".{JOB_FILE}.tmp"
    staged.write_text(json.dumps(record), encoding="utf-8")
    staged.replace(job)


def _finished_shard(root: Path, name: str, count: int, input_hash: str) -> ShardInfo | None:
    """The shard's info if an earlier run wrote it completely for these texts (hash verified)."""
    record = read_shard_record(root, name)
    if record is None or record.get("input_hash") != input_hash or record["count"] != count:
        return None
    info = ShardInfo(name, record["count"], record["content_hash"])
    try:
        verify_shard(root, info)
    except CollectionError:
        return None  # damaged: redo it (from the partition's cache where possible)
    return info


def _spec_of(root: Path, results: dict, names: list[str]) -> dict:
    if results:
        first = results[min(results)]
        return {k: first[k] for k in ("provider", "model", "dimensions", "dimension")}
    manifest = json.loads((root / SHARDS_MANIFEST).read_text(encoding="utf-8"))
    return {
        "provider": manifest["provider"], "model": manifest["model"],
        "dimensions": manifest["dimensions_requested"], "dimension": manifest["dimension"],
    }  # fmt: skip


# ------------------------------------------------------------------------ worker side

_EMBEDDERS: dict[str, object] = {}
_EMBEDDERS_LOCK = threading.Lock()


def _worker_embedder(args: dict):
    """One embedder per worker process and configuration (a local model loads once)."""
    from core.embedding.providers import get_embedder

    key = json.dumps(args, sort_keys=True, default=str)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = get_embedder(**args)
        return _EMBEDDERS[key]


def _embed_partition(root, name, texts, metadata, embedder_args, limit, engine, input_hash,
                     topic):  # fmt: skip
    """Worker task: embed one partition (resuming from its cache) and write it as a shard;
    with ``topic``, report its texts done there after each request."""
    from core.embedding import EmbeddingCache, embed_texts

    embedder = _worker_embedder(embedder_args)
    sender = LimitedEmbedder(embedder, limit) if limit is not None else embedder
    partial = Path(root) / PARTIAL_DIR / name
    cache = EmbeddingCache(partial)
    on_progress = None
    if topic is not None:
        worker = require_distributed().get_worker()

        def on_progress(p) -> None:
            worker.log_event(topic, [name, int(p.texts_done)])

    try:
        result = embed_texts(texts, sender, cache=cache, progress=on_progress, **engine)
    finally:
        cache.close()
    info = write_shard(root, name, texts, result.vectors, metadata, input_hash=input_hash)
    shutil.rmtree(partial, ignore_errors=True)  # the shard is now the record of what was paid
    norms = np.linalg.norm(result.vectors, axis=1)
    spec = embedder.spec
    return {
        "name": info.name, "count": info.count, "content_hash": info.content_hash,
        "n_requests": result.n_requests, "tokens_used": result.tokens_used,
        "n_cached": result.n_cached, "provider": spec.provider, "model": spec.model,
        "dimensions": spec.dimensions, "dimension": int(embedder.dimension),
        "normalized": bool(np.all((np.abs(norms - 1) < 1e-3) | (norms == 0))),
    }  # fmt: skip
