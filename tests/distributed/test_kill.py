"""Real kills during distributed embedding jobs, counted at the project's own server.

The server answers a known number of requests and then holds the next ones unanswered
(``hold_after``); once every sending thread of the job waits on a held request, each answer it
got has been recorded by the job (the engine caches a request's vectors before its thread sends
another), so at the kill the server's log says exactly which texts were delivered and which were
in flight. Then a real SIGKILL: of the whole ``embed --cluster local`` process group, or of one
worker process of a LocalCluster. What must hold, from the server's record: every text is
embedded, no text delivered before the kill is sent again, and the only texts sent twice are
those of the requests in flight at the kill. The vectors equal an uninterrupted run's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from core.data._shards import ShardedCollection
from core.distributed import embed_to_shards
from core.server import OpenAICompatibleServer, reference_embedding

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-workbench-0123456789"
MODEL = "text-embedding-3-small"
DIM = 8


def _texts(n: int, tag: str) -> list[str]:
    return [f"{tag} document {i} about item {i % 7}" for i in range(n)]


def _delivered_and_in_flight(server) -> tuple[Counter, Counter]:
    """Texts of the answered requests, and of the requests held unanswered, right now."""
    records = server.embedding_requests
    delivered = Counter(t for r in records if r.status == 200 for t in r.inputs)
    in_flight = Counter(t for r in records if r.status == 0 for t in r.inputs)
    return delivered, in_flight


def _check_resume(server, texts, delivered: Counter, in_flight: Counter, collection) -> None:
    sent = Counter(t for r in server.embedding_requests if r.status == 200 for t in r.inputs)
    assert set(sent) == set(texts)  # every text embedded
    assert max(delivered.values()) == 1 and in_flight
    twice = {t for t, n in sent.items() if n > 1}
    assert not twice & set(delivered)  # nothing delivered before the kill was sent again
    assert twice <= set(in_flight)  # only what was in flight at the kill
    assert max(sent.values()) == 2
    got = collection.to_collection()
    assert got.texts == texts
    # Bit-identical to an uninterrupted run (the server's vectors for these texts).
    assert_array_equal(
        got.embeddings, np.stack([reference_embedding(t, MODEL, DIM) for t in texts])
    )


def test_the_killed_cli_job_resumes_and_sends_only_what_was_in_flight(tmp_path):
    texts = _texts(120, "cli")
    (tmp_path / "docs.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    # One worker with one thread: one partition (40 texts, 8 requests of 5) at a time, 2 requests
    # in flight. 11 answers: the first shard is written, the second has 3 of its 8 requests.
    argv = [sys.executable, "-m", "core", "embed", "docs.txt", "--out", "out", "--provider",
            "openai", "--model", MODEL, "--dimensions", str(DIM), "--cluster", "local",
            "--workers", "1", "--rows-per-shard", "40", "--batch-size", "5",
            "--concurrency", "2"]  # fmt: skip
    with OpenAICompatibleServer(api_key=KEY) as server:
        env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url,
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        server.hold_after(11)
        job = subprocess.Popen(argv, cwd=tmp_path, env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            server.wait_held(2, timeout=120)
            delivered, in_flight = _delivered_and_in_flight(server)
            os.killpg(job.pid, signal.SIGKILL)  # the CLI, its scheduler and its worker
            job.wait(timeout=60)
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
            job.communicate()
            server.release()
        assert job.returncode == -signal.SIGKILL
        assert sum(delivered.values()) == 11 * 5 and sum(in_flight.values()) == 2 * 5
        rerun = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=300)  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr
        assert "as 3 shard(s) (1 already done): 13 request(s)" in rerun.stdout
        _check_resume(server, texts, delivered, in_flight,
                      ShardedCollection.open(tmp_path / "out", verify=True))  # fmt: skip
    assert not (tmp_path / "out" / ".partial").exists()
    assert not list((tmp_path / "out" / "shards").glob(".*"))  # no staged file left behind


def test_a_worker_killed_mid_job_loses_only_its_requests_in_flight(two_workers, tmp_path):
    """Two partitions of 6 requests on two worker processes, 2 requests in flight each; after 3
    answers the other 4 requests are held, and a worker running a partition is killed."""
    texts = _texts(120, "worker")
    with OpenAICompatibleServer(api_key=KEY) as server:
        server.hold_after(3)
        outcome: dict = {}

        def run_job():
            try:
                outcome["result"] = embed_to_shards(
                    texts, tmp_path / "out", client=two_workers, provider="openai", model=MODEL,
                    dimensions=DIM, api_key=KEY, base_url=server.base_url,
                    provider_options={"timeout": 60.0}, rows_per_shard=60, batch_size=10,
                    concurrency=2,
                )  # fmt: skip
            except Exception as exc:  # reported by the assertion below
                outcome["error"] = exc

        job = threading.Thread(target=run_job, daemon=True)
        job.start()
        try:
            server.wait_held(4, timeout=120)
            delivered, in_flight = _delivered_and_in_flight(server)
            running = {w: keys for w, keys in two_workers.processing().items() if keys}
            victim_address = sorted(running)[0]
            victim = two_workers.run(os.getpid, workers=[victim_address])[victim_address]
            os.kill(victim, signal.SIGKILL)
        finally:
            server.release()
            job.join(timeout=180)
        assert "error" not in outcome, outcome.get("error")
        assert sum(delivered.values()) == 3 * 10 and sum(in_flight.values()) == 4 * 10
        _check_resume(server, texts, delivered, in_flight, outcome["result"].collection)
    two_workers.wait_for_workers(2, timeout=60)
    assert victim not in two_workers.run(os.getpid).values()  # its nanny started a new one
