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


def test_filters_mmr_and_json_on_a_sharded_collection_and_a_cluster(server, tmp_path, capsys):
    """--where and --mmr are honoured on a sharded collection, locally and with --cluster (the
    same JSON either way), and equal the unsharded collection's own filtered / MMR search."""
    import json

    import pandas as pd

    vectors = np.stack([reference_embedding(t, MODEL, 8) for t in DOCS])
    meta = pd.DataFrame({"colour": COLOURS, "n": range(6)})
    spec = EmbedderSpec("openai", MODEL, 8)
    Collection.create(DOCS, vectors, spec, meta).save(tmp_path / "plain")
    assert cli.main(["shard", str(tmp_path / "plain"), "--rows-per-shard", "4", "--out",
                     str(tmp_path / "sharded")]) == 0  # fmt: skip
    capsys.readouterr()
    query = DOCS[1]

    def found(target, *flags):
        argv = ["search", str(target), query, "-k", "3", "--json", *flags]
        assert cli.main(argv) == 0, capsys.readouterr().err
        hits = json.loads(capsys.readouterr().out)["queries"][0]["results"]
        return [(h["id"], h["text"], h["metadata"]["n"]) for h in hits]

    both = ["--where", "n != 4", "--mmr", "0.2"]
    for flags in (["--where", "n >= 2"], ["--mmr", "0.1"], both):
        assert found(tmp_path / "sharded", *flags) == found(tmp_path / "plain", *flags)
    assert all(n >= 2 for _, _, n in found(tmp_path / "sharded", "--where", "n >= 2"))
    assert found(tmp_path / "sharded", "--mmr", "0.1") != found(tmp_path / "sharded")
    on_cluster = found(tmp_path / "sharded", *both, "--cluster", "local", "--workers", "1")
    assert on_cluster == found(tmp_path / "plain", *both)
    assert 4 not in [n for _, _, n in on_cluster]
    assert cli.main(["search", str(tmp_path / "sharded"), query, "--where", "shade = 'red'"]) == 2
    assert "unknown metadata column 'shade'" in capsys.readouterr().err
    assert cli.main(["search", str(tmp_path / "sharded"), query, "--mmr", "2"]) == 2
    assert "must be a number in [0, 1]" in capsys.readouterr().err
