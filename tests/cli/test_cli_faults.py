"""``python -m core embed`` against disk faults and SIGTERM (issue 9, findings 6 and 7): real
read-only and full file systems (tmpfs), a real signal to a real CLI process mid-job, the
project's server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.cli import _main as cli
from core.data._collection import Collection
from core.embedding._cache import EmbeddingCache
from core.server._server import Fault, OpenAICompatibleServer
from tests.fixtures_openai import TEST_API_KEY
from tests.storage_support import read_only_dir, remount_read_only, small_disk

REPO = Path(__file__).resolve().parents[2]
N_TEXTS = 300


@pytest.fixture
def job(tmp_path, monkeypatch, openai_server):
    """A 300-line input, the OpenAI provider pointed at the local server, a private cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    (tmp_path / "notes.txt").write_text(
        "\n".join(f"note number {i} about storage" for i in range(N_TEXTS)) + "\n",
        encoding="utf-8",
    )
    return tmp_path


def embed(*extra: str, dims: str = "512") -> int:
    return cli.main(
        ["embed", "notes.txt", "--provider", "openai", "--dimensions", dims, "--batch-size",
         "100", "--concurrency", "1", *extra]
    )  # fmt: skip


def test_a_read_only_out_is_refused_before_anything_is_sent(job, openai_server, capsys):
    with read_only_dir(job / "ro"):
        code = embed("--out", "ro/coll", "--cache-dir", "cache")
    err = capsys.readouterr().err
    assert code == 3
    assert "error: cannot write --out ro/coll: " in err
    assert "nothing was sent" in err
    assert openai_server.log == []


def test_a_read_only_cache_dir_is_refused_before_anything_is_sent(job, openai_server, capsys):
    with read_only_dir(job / "rocache") as cache_dir:
        code = embed("--out", "coll", "--cache-dir", str(cache_dir))
    err = capsys.readouterr().err
    assert code == 3
    assert f"error: the embedding cache {cache_dir}/embeddings.sqlite3 cannot be written" in err
    assert "--no-cache" in err
    assert openai_server.log == [] and not (job / "coll").exists()


def test_a_disk_too_small_for_the_collection_is_refused_before_the_job(job, openai_server, capsys):
    with small_disk(job / "small", "1m"):  # 300 x 512 float32 = 600 KiB + texts + 1 MiB margin
        code = embed("--out", "small/coll", "--cache-dir", "cache")
    err = capsys.readouterr().err
    assert code == 3
    assert "error: not enough space for --out small/coll: about 0.6 MiB needed" in err
    assert openai_server.log == []


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_disk_failing_during_the_job_keeps_every_vector_in_the_cache(
    job, openai_server, capsys, fault
):
    """The check passes, then the disk fills up (or goes read-only) while the job runs: the save
    fails with exit 3 and a message saying where the vectors are; the rerun sends nothing."""
    reached, release = threading.Event(), threading.Event()
    openai_server.inject(None, Fault.paused(reached, release))
    result: list[int] = []
    with small_disk(job / "disk", "3m") as disk:
        worker = threading.Thread(
            target=lambda: result.append(embed("--out", "disk/coll", "--cache-dir", "cache"))
        )
        worker.start()
        assert reached.wait(60), "the job never reached its second request"
        if fault == "full":
            with open(disk / "filler", "wb") as filler, pytest.raises(OSError):
                while True:  # fill it to the last byte
                    filler.write(b"\0" * 65536)
                    filler.flush()
        else:
            remount_read_only(disk)
        release.set()
        worker.join(60)
        err = capsys.readouterr().err
        assert result == [3]
        reason = "the disk is full" if fault == "full" else "the file system is read-only"
        assert f"error: could not save the collection to disk/coll: {reason}" in err
        assert f"all {N_TEXTS} vectors are safe in the embedding cache" in err
        assert "rerun the same command — nothing is sent again" in err
        leftovers = list((disk / "coll").glob("*")) if (disk / "coll").exists() else []
        assert [p.name for p in leftovers] == []  # no half-written version
    sent = sum(r.n_inputs for r in openai_server.log if r.status == 200)
    assert sent == N_TEXTS
    assert EmbeddingCache(job / "cache").count() == N_TEXTS
    openai_server.reset_log()
    assert embed("--out", "coll", "--cache-dir", "cache") == 0  # space found elsewhere
    assert openai_server.log == []  # nothing paid twice
    assert len(Collection.load(job / "coll")) == N_TEXTS


def test_sigterm_mid_job_is_clean_cached_and_exits_143(tmp_path):
    """A real SIGTERM to a real CLI process with requests in flight (the server adds latency):
    exit 143, every answered request is in the cache, the rerun sends only the rest."""
    texts = [f"paid sentence {i}" for i in range(400)]
    (tmp_path / "paid.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    reached, release = threading.Event(), threading.Event()
    with OpenAICompatibleServer(api_key=TEST_API_KEY, latency_ms=150) as server:
        server.inject(*([None] * 6), Fault.paused(reached, release))
        env = {**os.environ, "OPENAI_API_KEY": TEST_API_KEY, "OPENAI_BASE_URL": server.base_url}
        argv = [sys.executable, "-m", "core", "embed", str(tmp_path / "paid.txt"),
                "--provider", "openai", "--dimensions", "8", "--batch-size", "20",
                "--concurrency", "3", "--cache-dir", str(tmp_path / "cache"),
                "--out", str(tmp_path / "coll")]  # fmt: skip
        process = subprocess.Popen(argv, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        try:
            assert reached.wait(120), "the job never reached its seventh request"
            process.send_signal(signal.SIGTERM)
            release.set()
            _, err = process.communicate(timeout=120)
        finally:
            process.kill()
        assert process.returncode == 143
        assert "terminated (SIGTERM); finished batches are cached" in err
        assert "Traceback" not in err
        answered = {t for r in server.log if r.status == 200 for t in r.inputs}
        assert 7 * 20 <= len(answered) < len(texts)
        assert EmbeddingCache(tmp_path / "cache").count() == len(answered)
        assert not (tmp_path / "coll").exists()
        server.reset_log()
        rerun = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        assert rerun.returncode == 0, rerun.stderr
        resent = [t for r in server.log if r.status == 200 for t in r.inputs]
        assert sorted(resent) == sorted(set(texts) - answered)
