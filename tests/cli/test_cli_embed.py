"""``python -m core embed``: end to end with the real offline model and the local OpenAI server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.cli import _main as cli
from core.data._collection import Collection
from core.server import _server as openai_server

TXT = (
    "The cat sleeps in the warm sun.\n我明天要坐火车去上海。\n\nStock markets fell sharply today.\n"
)
CSV = "id,text,topic\n1,How do I bake bread at home?,cooking\n2,家里怎么烤面包？,cooking\n"
N_DOCS = 5
TXT_BYTES = len(TXT.encode("utf-8"))


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    """Two small input files in an isolated working directory (no .env can be found)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "notes.txt").write_text(TXT, encoding="utf-8")
    (tmp_path / "recipes.csv").write_text(CSV, encoding="utf-8")
    return tmp_path


def run(*argv: str) -> int:
    return cli.main(["embed", *argv])


def test_embed_txt_and_csv_with_use_then_rerun_is_served_from_cache(inputs, capsys):
    args = ["notes.txt", "recipes.csv", "--out", "coll", "--cache-dir", "cache"]
    assert run(*args, "--provider", "use-multilingual") == 0
    first = capsys.readouterr()
    assert "5 documents from 2 file(s)" in first.out
    assert "saved 5 vectors (512-d) to coll: 1 request(s), 0 from cache" in first.out
    assert "embedding: 100%" in first.err  # the progress bar ran to the end

    coll = Collection.load(inputs / "coll")
    assert coll.texts == [
        "The cat sleeps in the warm sun.",
        "我明天要坐火车去上海。",
        "Stock markets fell sharply today.",
        "How do I bake bread at home?",
        "家里怎么烤面包？",
    ]
    meta = coll.metadata
    assert list(meta["source"]) == ["notes.txt"] * 3 + ["recipes.csv"] * 2
    assert list(meta["location"]) == ["line 1", "line 2", "line 4", "row 1", "row 2"]
    assert list(meta["topic"].iloc[3:]) == ["cooking", "cooking"]
    assert coll.manifest.provider == "use-multilingual"
    assert coll.manifest.normalized
    assert_allclose(np.linalg.norm(coll.embeddings, axis=1), 1.0, atol=1e-5)
    sims = coll.embeddings @ coll.embeddings.T
    assert sims[3, 4] > 0.5  # the English and Chinese bread questions agree

    assert run(*args) == 0  # default provider without a key: use-multilingual
    second = capsys.readouterr().out
    assert "not cached: 0 distinct texts" in second
    assert "0 request(s), 5 from cache" in second


def test_dry_run_estimates_and_writes_nothing(inputs, capsys):
    assert run("notes.txt", "--out", "coll", "--no-cache", "--dry-run") == 0
    assert "3 documents from 1 file(s)" in capsys.readouterr().out
    assert not (inputs / "coll").exists()


def test_chunking_options_reach_the_parser(inputs, capsys):
    (inputs / "long.md").write_text(" ".join(f"word{i}" for i in range(40)), encoding="utf-8")
    code = run("long.md", "--out", "c", "--no-cache", "--chunk-size", "60", "--chunk-overlap", "8")
    assert code == 0
    coll = Collection.load(inputs / "c")
    assert len(coll) > 3
    assert all(len(t) <= 60 for t in coll.texts)
    assert list(coll.metadata["chunk"]) == list(range(len(coll)))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.txt"], r"missing\.txt: does not exist"),
        (["recipes.csv", "--text-column", "body"], r"no column 'body'\. Available columns: 'id'"),
        (["notes.txt", "--batch-size", "0"], r"--batch-size must be at least 1"),
        (["notes.txt", "--max-mb", "0.00001"], rf"notes\.txt: the file is {TXT_BYTES} bytes; the"),
        (["notes.txt", "--chunk-overlap", "5"], r"--chunk-overlap needs --chunk-size"),
        (["notes.txt", "--chunk-size", "10", "--chunk-overlap", "10"], r"overlap < size"),
        (["notes.txt", "--provider", "cohere"], r"unknown provider 'cohere'; choose one of"),
        (
            ["notes.txt", "--model", "text-embedding-3-small"],
            r"needs an API key: give one with --api-key",
        ),
        (["notes.txt", "--dimensions", "64"], r"fixed dimension.*Leave it unset"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_writes_nothing(inputs, capsys, argv, message):
    assert run(*argv, "--out", "coll", "--no-cache") == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (inputs / "coll").exists()


def test_one_bad_file_stops_the_job_unless_skipped(inputs, capsys):
    (inputs / "bad.txt").write_bytes(b"text\x00\x01binary")
    assert run("notes.txt", "bad.txt", "--out", "coll", "--no-cache") == 2
    err = capsys.readouterr().err
    assert "bad.txt, byte 4: this looks like a binary file" in err
    assert "pass --skip-bad-files" in err
    assert not (inputs / "coll").exists()
    assert run("notes.txt", "bad.txt", "--out", "coll", "--no-cache", "--skip-bad-files") == 0
    assert len(Collection.load(inputs / "coll")) == 3


def test_python_dash_m_core_embed_is_wired(inputs):
    done = subprocess.run(
        [sys.executable, "-m", "core", "embed", "nope.csv", "--out", "x"],
        capture_output=True,
        text=True,
        cwd=inputs,
        env={"PYTHONPATH": str(Path(cli.__file__).parents[2]), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert done.returncode == 2
    assert "nope.csv: does not exist" in done.stderr


# ---- OpenAI provider against the project's OpenAI-compatible server on 127.0.0.1 -------------


@pytest.fixture
def server(inputs, monkeypatch):
    with openai_server.OpenAICompatibleServer() as srv:
        monkeypatch.setenv("OPENAI_API_KEY", srv.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        yield srv


def test_openai_embed_then_rerun_sends_zero_requests(server, inputs, capsys):
    args = ["notes.txt", "recipes.csv", "--out", "coll", "--cache-dir", "cache"]
    assert run(*args, "--provider", "openai", "--dimensions", "256") == 0
    out = capsys.readouterr().out
    found = re.search(r"; ([\d,]+) tokens( \(upper bound\))?, about \$", out)
    assert found, out
    tokens = int(found.group(1).replace(",", ""))
    assert tokens > 20
    sent = [t for r in server.embedding_requests for t in r.inputs]
    assert sorted(sent) == sorted(Collection.load(inputs / "coll").texts)
    coll = Collection.load(inputs / "coll")
    assert coll.embeddings.shape == (N_DOCS, 256)
    assert coll.manifest.provider == "openai"

    server.reset_log()
    assert run(*args) == 0  # a key is configured: the default provider is now openai
    coll = Collection.load(inputs / "coll")
    assert (coll.manifest.provider, coll.embeddings.shape) == ("openai", (N_DOCS, 1536))
    assert len(server.embedding_requests) == 1  # native dimension: not cached yet
    server.reset_log()
    assert run(*args, "--provider", "openai", "--dimensions", "256") == 0
    assert server.embedding_requests == []  # everything came from the cache


def test_interrupted_openai_job_resumes_paying_only_for_the_rest(server, inputs, capsys):
    args = ["notes.txt", "recipes.csv", "--out", "coll", "--cache-dir", "cache"]
    args += ["--provider", "openai", "--batch-size", "2", "--concurrency", "1"]
    server.inject(None, openai_server.Fault.quota_exceeded())
    assert run(*args) == 1
    err = capsys.readouterr().err
    assert "quota" in err and "rerun the same command to resume" in err
    assert not (inputs / "coll").exists()
    first_batch = [t for r in server.embedding_requests if r.status == 200 for t in r.inputs]
    assert len(first_batch) == 2

    server.reset_log()
    assert run(*args) == 0
    resent = [t for r in server.embedding_requests for t in r.inputs]
    assert len(resent) == N_DOCS - 2
    assert not set(resent) & set(first_batch)
    assert "2 from cache" in capsys.readouterr().out


def _cli_process(argv, cwd: Path, **env) -> subprocess.CompletedProcess:
    """``python -m core ARGV`` as a separate process (what a user's terminal shows)."""
    base = {"PYTHONPATH": str(Path(cli.__file__).parents[2]), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "core", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **env},
        timeout=120,
    )


def _assert_rejected_key_message(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "the API key was rejected" in done.stderr and "--api-key" in done.stderr
    # The message starts a line of its own (not glued to the progress bar).
    assert any(
        line.startswith("error: OpenAI request failed (401") for line in done.stderr.split("\n")
    )


def test_embed_with_a_rejected_key_exits_1_saying_what_to_fix(server, inputs):
    done = _cli_process(
        ["embed", "notes.txt", "--out", "coll", "--provider", "openai", "--cache-dir", "cache"],
        inputs,
        OPENAI_API_KEY="sk-wrong-key",
        OPENAI_BASE_URL=server.base_url,
    )
    _assert_rejected_key_message(done)
    assert "fix what is said above, then rerun the same command to resume" in done.stderr
    assert not (inputs / "coll").exists()


def test_search_with_a_rejected_key_exits_1_without_a_traceback(server, inputs):
    assert run("notes.txt", "--out", "coll", "--provider", "openai", "--cache-dir", "c") == 0
    done = _cli_process(
        ["search", "coll", "sunshine"],
        inputs,
        OPENAI_API_KEY="sk-wrong-key",
        OPENAI_BASE_URL=server.base_url,
        EMBEDDING_WORKBENCH_CACHE_DIR=str(inputs / "c"),
    )
    _assert_rejected_key_message(done)


@pytest.mark.parametrize(
    ("kind", "message"),
    [("file", "it is a file"), ("folder", "holds other files and is not a collection")],
)
def test_out_that_is_not_a_collection_is_refused_before_anything_is_sent(
    server, inputs, capsys, kind, message
):
    target = inputs / "target"
    if kind == "file":
        target.write_text("my notes", encoding="utf-8")
    else:
        target.mkdir()
        (target / "thesis.docx").write_bytes(b"mine")
    assert run("notes.txt", "--out", "target", "--provider", "openai") == 2
    assert message in capsys.readouterr().err
    assert server.embedding_requests == []
    if kind == "folder":
        assert [p.name for p in target.iterdir()] == ["thesis.docx"]


def test_dash_reads_documents_from_stdin(inputs):
    env = {
        "PYTHONPATH": str(Path(cli.__file__).parents[2]),
        "PATH": "/usr/bin:/bin",
        "HOME": str(inputs),
    }
    done = subprocess.run(
        [sys.executable, "-m", "core", "embed", "-", "--out", "piped", "--no-cache",
         "--provider", "use-multilingual"],
        input="first piped line\n第二行来自标准输入\n",
        capture_output=True,
        text=True,
        cwd=inputs,
        env=env,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 documents from 1 file(s)" in done.stdout
    coll = Collection.load(inputs / "piped")
    assert coll.texts == ["first piped line", "第二行来自标准输入"]
    assert list(coll.metadata["source"]) == ["stdin.txt", "stdin.txt"]
