"""``shard``, ``search --cluster`` and ``embed --cluster`` end to end, with the local server."""

from __future__ import annotations

import numpy as np
import pytest

from core.cli import _main as cli
from core.data import Collection
from core.data._shards import ShardedCollection, is_sharded
from core.embedding import EmbedderSpec
from core.server import OpenAICompatibleServer, reference_embedding

pytest.importorskip("distributed")

KEY = "sk-test-workbench-0123456789"
MODEL = "text-embedding-3-small"
COLOURS = ["red", "green", "blue", "gold", "grey", "pink"]
DOCS = [f"note {i}: the {w} report" for i, w in enumerate(COLOURS)]


@pytest.fixture
def server(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with OpenAICompatibleServer(api_key=KEY) as s:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", s.base_url)
        yield s


@pytest.fixture
def collection(server, tmp_path):
    vectors = np.stack([reference_embedding(t, MODEL, 8) for t in DOCS])
    Collection.create(DOCS, vectors, EmbedderSpec("openai", MODEL, 8)).save(tmp_path / "coll")
    return tmp_path / "coll"


def test_shard_in_place_then_search_locally_and_on_a_local_cluster(collection, capsys):
    assert cli.main(["shard", str(collection), "--rows-per-shard", "4"]) == 0
    assert "6 vectors in 2 shard(s)" in capsys.readouterr().out
    assert is_sharded(collection)
    assert [s.count for s in ShardedCollection.open(collection, verify=True).shards] == [4, 2]
    assert cli.main(["info", str(collection)]) == 0  # still readable as one collection
    assert "documents    6" in capsys.readouterr().out

    query = DOCS[5]
    assert cli.main(["search", str(collection), query, "-k", "3"]) == 0
    local = capsys.readouterr().out
    first = local.splitlines()[4]
    assert first.split()[0] == "1" and "note 5: the pink report" in first
    code = cli.main(["search", str(collection), query, "-k", "3", "--cluster", "local",
                     "--workers", "1"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr()
    assert out.out == local  # the same table, ids and scores
    assert "running on a local Dask cluster (1 worker)" in out.err


def test_embed_on_a_cluster_writes_shards_and_resumes(server, tmp_path, capsys):
    (tmp_path / "docs.txt").write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    argv = ["embed", "docs.txt", "--out", "out", "--provider", "openai", "--model", MODEL,
            "--dimensions", "8", "--cluster", "local", "--workers", "1",
            "--rows-per-shard", "4", "--tpm", "100000"]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr()
    assert "saved 6 vectors (8-d) to out as 2 shard(s) (0 already done)" in out.out
    assert "shards=2/2" in out.err  # the progress bar counts shards and texts
    sharded = ShardedCollection.open(tmp_path / "out", verify=True)
    assert sharded.to_collection().texts == DOCS
    assert sharded.documents_at([0])["source"].tolist() == ["docs.txt"]
    n_requests = len(server.embedding_requests)
    assert cli.main(argv) == 0
    assert "(2 already done): 0 request(s)" in capsys.readouterr().out
    assert len(server.embedding_requests) == n_requests


def test_bad_cluster_options(collection, capsys):
    assert cli.main(["search", str(collection), "x", "--cluster", "local", "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    code = cli.main(["search", str(collection), "x", "--cluster", "tcp://127.0.0.1:1",
                     "--workers", "2"])  # fmt: skip
    assert code == 2
    assert "--workers applies to --cluster local only" in capsys.readouterr().err
    assert cli.main(["shard", str(collection), "--rows-per-shard", "0"]) == 2
    assert "--rows-per-shard must be at least 1" in capsys.readouterr().err
    assert cli.main(["shard", "missing", "--rows-per-shard", "2", "--out", "x"]) == 2
    assert "not a directory" in capsys.readouterr().err
