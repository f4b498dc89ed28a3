"""``python -m core embed|search`` against self-hosted server shapes, the keyless dry run and the
Batch API path, over real HTTP to the project's server on 127.0.0.1."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.cli import _main as cli
from core.data._collection import Collection
from core.server import SERVER_MODES, OpenAICompatibleServer, reference_embedding

TEXTS = [
    "The cat sleeps in the warm sun.",
    "我明天要坐火车去上海。",
    "Stock markets fell sharply today.",
]
TXT = TEXTS[0] + "\n" + TEXTS[1] + "\n\n" + TEXTS[2] + "\n"
NOMIC = "nomic-embed-text"
EXACT = 1e-6


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "notes.txt").write_text(TXT, encoding="utf-8")
    many = "\n".join(f"line {i} of a longer file about topic {i % 4}" for i in range(40))
    (tmp_path / "many.txt").write_text(many + "\n", encoding="utf-8")
    return tmp_path


def expected(texts, prefix="search_document: ", model=NOMIC, dims=None):
    return np.stack([reference_embedding(prefix + t, model, dims) for t in texts])


@pytest.mark.parametrize("mode", [m for m in SERVER_MODES if m != "openai"])
def test_embed_then_search_with_only_base_url_and_model(mode, inputs, capsys):
    with OpenAICompatibleServer(mode=mode) as server:
        args = ["embed", "notes.txt", "--model", NOMIC, "--base-url", server.base_url,
                "--out", "coll", "--cache-dir", "cache"]  # fmt: skip
        assert cli.main(args) == 0
        out = capsys.readouterr().out
        assert "local, free" in out and "(estimate)" in out
        assert "saved 3 vectors (768-d)" in out
        assert "dimension 768 learnt from the server" in out
        coll = Collection.load(inputs / "coll")
        assert_allclose(coll.embeddings, expected(TEXTS), atol=EXACT)
        assert coll.manifest.query_prefix == "search_query: "

        search = ["search", "coll", "warm cat", "-k", "2", "--base-url", server.base_url]
        assert cli.main(search) == 0
        shown = capsys.readouterr().out
        sent = [r.inputs for r in server.embedding_requests][-1]
    assert sent == ("search_query: warm cat",)  # the collection's query prefix
    assert "query: warm cat" in shown and "rank" in shown


def test_flags_state_dimension_limits_and_prefixes(inputs, capsys):
    with OpenAICompatibleServer(mode="tei", max_batch=2) as server:
        args = ["embed", "many.txt", "--model", "my-model", "--base-url", server.base_url,
                "--out", "coll", "--no-cache", "--dimension", "384", "--max-inputs", "2",
                "--document-prefix", "D: ", "--query-prefix", "Q: "]  # fmt: skip
        assert cli.main(args) == 0
        log = server.embedding_requests
    assert all(r.status == 200 and r.n_inputs <= 2 for r in log)  # no probe, no 413
    assert all(t.startswith("D: ") for r in log for t in r.inputs)
    m = Collection.load(inputs / "coll").manifest
    assert (m.dimension, m.query_prefix, m.document_prefix) == (384, "Q: ", "D: ")


def test_bad_endpoint_flags_are_refused_before_anything_is_sent(inputs, capsys):
    assert cli.main(["embed", "notes.txt", "--provider", "use-multilingual", "--rpm", "5",
                     "--out", "c"]) == 2  # fmt: skip
    assert "--rpm applies to --provider openai or a --base-url server" in capsys.readouterr().err
    assert cli.main(["embed", "notes.txt", "--model", "m", "--base-url", "http://127.0.0.1:9",
                     "--max-inputs", "0", "--out", "c"]) == 2  # fmt: skip
    assert "--max-inputs must be at least 1, got 0" in capsys.readouterr().err
    assert cli.main(["embed", "notes.txt", "--provider", "use-multilingual"]) == 2
    assert "--out COLLECTION is required (only --dry-run needs none)" in capsys.readouterr().err


def test_openai_dry_run_needs_no_key_and_no_out(inputs, capsys):
    assert cli.main(["embed", "notes.txt", "--provider", "openai", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "for openai / text-embedding-3-small" in out and "about $" in out
    assert not (inputs / "coll").exists()
    assert cli.main(["embed", "notes.txt", "--provider", "openai", "--dry-run", "--batch-api"]) == 0
    assert "with the Batch API" in capsys.readouterr().out


def test_dry_run_against_an_unknown_paid_server_says_price_unknown(inputs, capsys):
    args = ["embed", "notes.txt", "--model", NOMIC, "--base-url", "http://192.0.2.10/v1",
            "--dry-run"]  # fmt: skip
    assert cli.main(args) == 0  # no request: the dimension is not needed for an estimate
    assert "price unknown" in capsys.readouterr().out


def test_batch_api_path_assembles_in_order_and_retries_failed_lines(inputs, capsys):
    with OpenAICompatibleServer() as server:
        server.state.batch_failures.add("line-1")
        args = ["embed", "many.txt", "--model", "text-embedding-3-small", "--dimensions", "8",
                "--base-url", server.base_url, "--api-key", server.api_key, "--out", "coll",
                "--cache-dir", "cache", "--batch-api", "--poll-interval", "0.05",
                "--max-inputs", "10"]  # fmt: skip
        assert cli.main(args) == 0
        err = capsys.readouterr().err
        direct = server.embedding_requests
        assert len(server.state.batches) == 1
    assert "Batch API: 30 of 40 texts answered (completed)" in err
    assert sum(r.n_inputs for r in direct) == 10  # only the failed line, through the normal path
    texts = [f"line {i} of a longer file about topic {i % 4}" for i in range(40)]
    coll = Collection.load(inputs / "coll")
    want = expected(texts, prefix="", model="text-embedding-3-small", dims=8)
    assert_allclose(coll.embeddings, want, atol=EXACT)


def test_interrupted_batch_resumes_polling_instead_of_paying_again(inputs, capsys):
    from core.embedding.providers import get_embedder
    from core.embedding.providers._batch_api import run_batch_api

    texts = [f"resume text {i}" for i in range(12)]
    with OpenAICompatibleServer(batch_delay_ms=20) as server:
        from core.embedding._cache import EmbeddingCache

        cache = EmbeddingCache(inputs / "cache")
        embedder = get_embedder(model="text-embedding-3-small", dimensions=8,
                                base_url=server.base_url, api_key=server.api_key,
                                max_inputs_per_request=3)  # fmt: skip
        import threading

        stop = threading.Event()
        with pytest.raises(KeyboardInterrupt):
            run_batch_api(texts, embedder, cache, state_dir=inputs / "cache",
                          poll_interval_s=0.01, on_created=lambda _id: stop.set(),
                          cancel=stop)  # fmt: skip
        saved = list((inputs / "cache" / "batch-api").glob("*.json"))
        assert len(saved) == 1 and json.loads(saved[0].read_text())["batch_id"]
        again = run_batch_api(texts, embedder, cache, state_dir=inputs / "cache",
                              poll_interval_s=0.01)  # fmt: skip
        assert again.resumed and again.n_answered == 12 and len(server.state.batches) == 1
        assert not saved[0].exists()  # done: the saved id is gone
        assert server.embedding_requests == []
        cache.close()


def test_expired_batch_leaves_the_rest_to_the_normal_path(inputs):
    from core.embedding._batching import embed_texts
    from core.embedding._cache import EmbeddingCache
    from core.embedding.providers import get_embedder
    from core.embedding.providers._batch_api import run_batch_api

    texts = [f"expiring text {i}" for i in range(9)]
    with OpenAICompatibleServer() as server:
        server.state.batch_expire_after = 1
        cache = EmbeddingCache(inputs / "cache")
        embedder = get_embedder(model="text-embedding-3-small", dimensions=8,
                                base_url=server.base_url, api_key=server.api_key,
                                max_inputs_per_request=3)  # fmt: skip
        out = run_batch_api(texts, embedder, cache, poll_interval_s=0.01)
        assert (out.statuses, out.n_answered, out.n_left) == (["expired"], 3, 6)
        result = embed_texts(texts, embedder, cache=cache)
        assert result.n_cached == 3 and sum(r.n_inputs for r in server.embedding_requests) == 6
        cache.close()
    want = expected(texts, prefix="", model="text-embedding-3-small", dims=8)
    assert_allclose(result.vectors, want, atol=EXACT)
