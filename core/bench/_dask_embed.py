"""The distributed embedding benchmark (part of ``python -m core.bench._dask embed``).

100,000 documents, a LocalCluster of 2 worker processes, the local OpenAI-compatible server in
this process enforcing a tokens-per-minute limit over a sliding minute, and the same limit given
to the job as its cluster-wide budget. Three runs, each into a fresh output directory:

1. the whole job: wall time, tokens accepted per minute against the limit;
2. one worker killed (SIGKILL) once 30% of the texts were accepted: the job still finishes;
3. the whole job killed (driver, scheduler and workers: SIGKILL to its process group) once 40% of
   the texts were accepted, then run again to the end: texts sent over both runs vs distinct.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

MODEL = "text-embedding-3-small"
DIMENSIONS = 64
KEY = "sk-bench-dask"
ROWS_PER_SHARD = 10_000


def documents(n: int) -> list[str]:
    topics = ["invoices", "printers", "passwords", "shipping", "refunds", "holidays", "servers"]
    return [f"ticket {i}: a question about {topics[i % 7]} from customer {i * 7919 % 10007}"
            for i in range(n)]  # fmt: skip


def _job(texts, out, client, base_url, tpm):
    from core.distributed import embed_to_shards

    return embed_to_shards(
        texts, out, client=client, provider="openai", model=MODEL, dimensions=DIMENSIONS,
        api_key=KEY, base_url=base_url, provider_options={"timeout": 60.0},
        rows_per_shard=ROWS_PER_SHARD, tokens_per_minute=tpm, concurrency=4,
    )  # fmt: skip


def _cluster():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0")  # fmt: skip
    return cluster, Client(cluster)


def _counts(server, distinct: int, t0: float, t1: float, tpm: int) -> dict:
    records = server.embedding_requests
    accepted = [r for r in records if r.status == 200]
    tokens = sum(r.tokens for r in accepted)
    starts = sorted((r.t_start, r.tokens) for r in accepted)
    busiest, j, running = 0, 0, 0
    for i, (t, tok) in enumerate(starts):  # the busiest sliding minute, by arrival
        running += tok
        while starts[j][0] <= t - 60.0:
            running -= starts[j][1]
            j += 1
        busiest = max(busiest, running)
        del i
    minutes = (t1 - t0) / 60.0
    return {
        "texts_sent": sum(r.n_inputs for r in accepted),
        "distinct": distinct,
        "requests": len(accepted),
        "rate_limited": sum(r.status == 429 for r in records),
        "tokens": tokens,
        "wall_s": t1 - t0,
        "share_of_limit": tokens / minutes / tpm if minutes > 0 else None,
        "busiest_minute_share": busiest / tpm,
    }


def _kill_when(server, n_texts: int, action) -> threading.Thread:
    """Run ``action`` once the server has accepted ``n_texts`` inputs (polls its log); the
    server's log at that moment is kept as ``thread.at_kill`` (see :func:`_kill_counts`)."""
    done = threading.Event()

    def watch():
        while not done.is_set():
            records = server.embedding_requests
            if sum(r.n_inputs for r in records if r.status == 200) >= n_texts:
                action()
                thread.at_kill = records  # type: ignore[attr-defined]
                return
            done.wait(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.stop = done  # type: ignore[attr-defined]
    thread.at_kill = []  # type: ignore[attr-defined]
    thread.start()
    return thread


def _kill_counts(at_kill, server) -> dict:
    """What the server's own log says about a kill: texts answered before it, texts in requests
    still unanswered at it (in flight), and, over the whole run, texts sent more than once and
    those of them that had been answered before the kill (answered but not yet recorded by the
    job when it died)."""
    answered = {t for r in at_kill if r.status == 200 for t in r.inputs}
    in_flight = {t for r in at_kill if r.status == 0 for t in r.inputs}
    sent: dict[str, int] = {}
    for r in server.embedding_requests:
        if r.status == 200:
            for t in r.inputs:
                sent[t] = sent.get(t, 0) + 1
    twice = {t for t, n in sent.items() if n > 1}
    return {
        "answered_before_kill": len(answered), "in_flight_at_kill": len(in_flight),
        "sent_twice": len(twice), "answered_then_sent_again": len(twice & answered),
    }  # fmt: skip


def bench_embed(args) -> dict:
    from core.bench._dask import _env, _load, log
    from core.server import OpenAICompatibleServer

    env = _env()
    texts = documents(args.docs)
    tpm = args.tpm
    work = args.data.parent / "embed"
    runs = []
    with OpenAICompatibleServer(api_key=KEY, tokens_per_minute=tpm) as server:
        # 1. the whole job
        cluster, client = _cluster()
        log("embedding job: whole")
        t0 = time.monotonic()
        result = _job(texts, work / "whole", client, server.base_url, tpm)
        runs.append({"label": "whole job", **_counts(server, len(set(texts)), t0,
                                                   time.monotonic(), tpm),
                     "shards": result.n_shards})  # fmt: skip
        # 2. one worker killed at 30%
        server.reset_log()
        victim = sorted(client.run(os.getpid).values())[0]
        watcher = _kill_when(server, int(0.3 * len(texts)), lambda: os.kill(victim, signal.SIGKILL))
        log("embedding job: one worker killed")
        t0 = time.monotonic()
        _job(texts, work / "killed-worker", client, server.base_url, tpm)
        watcher.stop.set()
        runs.append({"label": "one of 2 workers killed at 30%",
                     **_counts(server, len(set(texts)), t0, time.monotonic(), tpm),
                     **_kill_counts(watcher.at_kill, server)})  # fmt: skip
        client.close()
        cluster.close()
        # 3. the whole job killed at 40%, then resumed
        server.reset_log()
        log("embedding job: killed and resumed")
        t0 = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "core.bench._dask_embed", str(work / "resumed"),
             server.base_url, str(len(texts)), str(tpm)],
            start_new_session=True,
        )  # fmt: skip
        watcher = _kill_when(server, int(0.4 * len(texts)),
                             lambda: os.killpg(child.pid, signal.SIGKILL))  # fmt: skip
        child.wait()
        watcher.stop.set()
        killed_at = sum(r.n_inputs for r in server.embedding_requests if r.status == 200)
        cluster, client = _cluster()
        resumed = _job(texts, work / "resumed", client, server.base_url, tpm)
        client.close()
        cluster.close()
        row = _counts(server, len(set(texts)), t0, time.monotonic(), tpm)
        row.update(_kill_counts(watcher.at_kill, server))
        row.update(label="whole job killed at 40%, then rerun", accepted_before_kill=killed_at,
                   skipped_shards=resumed.n_skipped)  # fmt: skip
        runs.append(row)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    env["load_at_end"] = _load()
    return {"env": env, "n_docs": len(texts), "workers": 2, "tpm": tpm, "runs": runs}


def _child(out: str, base_url: str, n: int, tpm: int) -> None:
    """The job run 3 kills: its own cluster, in its own process group."""
    _cluster_kept, client = _cluster()  # lives until the process is killed
    _job(documents(n), Path(out), client, base_url, tpm)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
