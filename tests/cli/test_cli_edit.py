"""``add`` / ``delete`` / ``search --where`` against the project's OpenAI-compatible server."""

from __future__ import annotations

import pytest

from core.cli import _main as cli
from core.data._collection import Collection
from core.server import _server as openai_server


@pytest.fixture
def coll(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with openai_server.OpenAICompatibleServer() as srv:
        monkeypatch.setenv("OPENAI_API_KEY", srv.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        (tmp_path / "faq.csv").write_text("text,year\nreset password,2020\nopen account,2024\n")
        (tmp_path / "more.json").write_text('[{"text": "close account"}, {"text": "open account"}]')
        args = ["embed", "faq.csv", "--out", "c", "--provider", "openai", "--dimensions", "8"]
        assert cli.main([*args, "--cache-dir", "cache"]) == 0
        srv.reset_log()
        yield srv


def test_add_embeds_only_texts_the_collection_lacks(coll, capsys):
    assert cli.main(["add", "c", "more.json", "--cache-dir", "cache"]) == 0
    assert [t for r in coll.embedding_requests for t in r.inputs] == ["close account"]
    grown = Collection.load("c")
    assert grown.texts[-2:] == ["close account", "open account"]
    assert grown.metadata["source"].tolist()[-1] == "more.json"
    assert "+2" in capsys.readouterr().out


def test_delete_by_where_and_by_id(coll, capsys):
    before = Collection.load("c")
    assert cli.main(["delete", "c", "--where", "year >= 2021", "--dry-run"]) == 0
    assert "1 of 2 documents would go" in capsys.readouterr().out
    assert len(Collection.load("c")) == 2
    assert cli.main(["delete", "c", "--id", before.ids[0]]) == 0
    after = Collection.load("c")
    assert after.texts == ["open account"] and after.ids == before.ids[1:]


def test_search_where_filters_before_top_k(coll, capsys):
    assert cli.main(["search", "c", "password", "-k", "5", "--where", 'year = "2024"']) == 0
    out = capsys.readouterr().out
    assert "top 1" in out and "open account" in out and "reset password" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["delete", "c"], "say what to delete: --id ID"),
        (["delete", "c", "--id", "nope"], r"1 id\(s\) not in the collection: 'nope'"),
        (["search", "c", "q", "--where", "year >"], "bad filter at character 7: expected a value"),
        (["search", "c", "q", "--where", "nope = 1"], "unknown metadata column 'nope'"),
    ],
)
def test_bad_edits_exit_2_with_the_bad_part_named(coll, capsys, argv, message):
    import re

    assert cli.main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_export_writes_every_registered_format(coll, tmp_path, capsys):
    from core.data._formats import from_bytes

    assert cli.main(["export", "c", "--format", "projector", "--out", "proj"]) == 0
    assert (tmp_path / "proj" / "vectors.tsv").read_text().count("\n") == 2
    assert (tmp_path / "proj" / "metadata.tsv").read_text().splitlines()[0].startswith("id\ttext")
    assert cli.main(["export", "c", "--format", "parquet", "--out", "c.parquet"]) == 0
    assert from_bytes("c.parquet", (tmp_path / "c.parquet").read_bytes()).ids == (
        Collection.load("c").ids
    )
    assert cli.main(["export", "c", "--format", "npz", "--out", "proj"]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err


def test_add_reads_files_in_the_encoding_given(coll, tmp_path, capsys):
    lines = ["熊猫主要吃竹子", "北京是中国的首都"]
    (tmp_path / "gbk.txt").write_bytes("\n".join(lines).encode("gbk"))
    assert cli.main(["add", "c", "gbk.txt", "--encoding", "gbk", "--cache-dir", "cache"]) == 0
    assert "not UTF-8" not in capsys.readouterr().err  # taken as given, not detected
    assert Collection.load("c").texts[-2:] == lines
    assert [t for r in coll.embedding_requests for t in r.inputs] == lines


def test_add_checks_the_reading_flags_before_loading_anything(coll, capsys):
    assert cli.main(["add", "c", "more.json", "--chunk-overlap", "5"]) == 2
    assert "--chunk-overlap needs --chunk-size" in capsys.readouterr().err
    assert len(Collection.load("c")) == 2
