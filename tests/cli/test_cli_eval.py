"""``embedding-workbench eval``: the issue's command line with both real offline models, a
collection directory as DOCS, the sample, and bad input with exit code 2."""

from __future__ import annotations

import json

import pytest

from core.cli import _main as cli
from core.data import SAMPLE_DOCUMENTS
from core.data._collection import Collection
from core.embedding.providers import get_embedder

DOCS = (
    "id,text\n"
    "cat,The cat sat on the mat\n"
    "stocks,Stock prices fell sharply today\n"
    "mao,猫坐在垫子上\n"
    "bread,How do I bake bread at home?\n"
)
QUERIES = "query,relevant\na cat on a rug,cat;mao\n股市大跌,stocks\nbaking a loaf,bread\n"
KEYS = {"config", "recall@k", "mrr@k", "ndcg@k", "map@k", "per_query"}


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / "docs.csv").write_text(DOCS, encoding="utf-8")
    (tmp_path / "q.csv").write_text(QUERIES, encoding="utf-8")
    return tmp_path


def test_the_issue_command_prints_one_object_per_configuration(files, capsys):
    code = cli.main(
        [
            "eval", "docs.csv", "--id-column", "id", "--text-column", "text",
            "--queries", "q.csv", "--config", "use-multilingual",
            "--config", "sentence-transformers:all-MiniLM-L6-v2", "-k", "10", "--json",
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    records = json.loads(out)
    assert [r["config"] for r in records] == [
        "use-multilingual",
        "sentence-transformers:all-MiniLM-L6-v2",
    ]
    for record in records:
        assert set(record) >= KEYS and record["k"] == 10
        assert [q["query"] for q in record["per_query"]] == [
            "a cat on a rug",
            "股市大跌",
            "baking a loaf",
        ]
        assert record["per_query"][0]["relevant"] == ["cat", "mao"]
        assert 0 <= record["ndcg@k"] <= 1
    use = records[0]["per_query"]
    assert use[1]["ranked"][0] == "stocks"  # the Chinese query finds the English document
    assert "local model, no cost" in err


def test_a_collection_directory_and_memory_modes_in_the_table(files, capsys):
    embedder = get_embedder("use-multilingual")
    texts = [d.text for d in SAMPLE_DOCUMENTS[:9]]
    import pandas as pd

    meta = pd.DataFrame({"id": [d.id for d in SAMPLE_DOCUMENTS[:9]]})
    Collection.create(texts, embedder.embed_batch(texts).vectors, embedder.spec, meta).save("kb")
    (files / "kq.csv").write_text("query,relevant\n怎样烤面包？,cooking-01\n", encoding="utf-8")
    code = cli.main(["eval", "kb", "--queries", "kq.csv", "--mode", "int8", "-k", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "use-multilingual,mode=int8" in out and "recall@3" in out
    assert "9 documents, 1 labelled queries, 2 configuration(s), k=3" in err


def test_the_sample_table_has_intervals_and_query_groups(files, capsys):
    assert cli.main(["eval", "--sample", "--resamples", "200", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "config", "recall@10", "mrr@10", "ndcg@10", "map@10",
        "embed", "s", "ms/query", "index", "MB", "$/1M", "tok", "corpus", "$",
    ]  # fmt: skip
    assert "ndcg@10 by query group:" in out and "cross-lingual" in out
    assert "95% bootstrap interval over queries (200 resamples)" in out


def test_the_sample_dry_run_sends_nothing(files, capsys):
    assert cli.main(["eval", "--sample", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "72 documents, 32 labelled queries" in err


def test_eval_reads_documents_in_the_encoding_given(files, capsys):
    from core.cli._eval import read_corpus

    latin = "id,text\ncafe,Un café crème à Genève\nbread,Le pain de campagne\n"
    (files / "latin.csv").write_bytes(latin.encode("latin-1"))
    argv = ["eval", "latin.csv", "--id-column", "id", "-q", "q.csv", "--encoding", "latin-1"]
    corpus = read_corpus(cli.build_parser().parse_args(argv))
    assert corpus.texts == ["Un café crème à Genève", "Le pain de campagne"]
    assert corpus.ids == ["cafe", "bread"]
    assert "not UTF-8" not in capsys.readouterr().err  # taken as given, not detected


def test_eval_without_an_encoding_names_the_flag_that_sets_it(files, capsys):
    (files / "gbk.csv").write_bytes("id,text\npanda,熊猫主要吃竹子\n".encode("gbk"))
    assert cli.main(["eval", "gbk.csv", "--id-column", "id"]) == 2  # no --queries: stops there
    err = capsys.readouterr().err
    assert "gbk.csv: not UTF-8; read as " in err  # detection guesses (short text: big5)
    assert "choose its encoding (--encoding)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["eval", "docs.csv", "--id-column", "id"],
            r"give the labelled queries with --queries FILE",
        ),
        (
            ["eval", "--queries", "q.csv"],
            r"give the document files \(or one collection directory\)",
        ),
        (
            ["eval", "docs.csv", "--id-column", "key", "--queries", "q.csv"],
            r"docs\.csv: no id column 'key'; columns besides the text: id",
        ),
        (
            ["eval", "docs.csv", "--id-column", "id", "-q", "q.csv", "-c", "bert"],
            r"unknown provider 'bert'",
        ),
        (
            ["eval", "docs.csv", "--id-column", "id", "-q", "q.csv", "-k", "0"],
            r"-k must be at least 1, got 0",
        ),
        (
            [
                "eval",
                "docs.csv",
                "--id-column",
                "id",
                "-q",
                "q.csv",
                "-c",
                "openai:text-embedding-3-small",
            ],
            r"OPENAI_API_KEY",
        ),
    ],
)
def test_bad_input_exits_2_with_the_reason(files, capsys, argv, message):
    import re

    assert cli.main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_reference_to_no_document_names_the_line(files, capsys):
    (files / "bad.csv").write_text("query,relevant\nok,cat\nhmm,dog\n", encoding="utf-8")
    code = cli.main(["eval", "docs.csv", "--id-column", "id", "--queries", "bad.csv"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: bad.csv, line 3: 'dog' matches no document: no document has the id 'dog'" in err


def test_an_openai_compatible_server_estimate_first_one_run_for_two_dimensions_then_cache(
    files, capsys, openai_server
):
    from tests.fixtures_openai import TEST_API_KEY

    argv = [
        "eval", "docs.csv", "--id-column", "id", "-q", "q.csv",
        "-c", "openai:text-embedding-3-small", "-c", "openai:text-embedding-3-small,dim=64",
        "--api-key", TEST_API_KEY, "--base-url", openai_server.base_url,
        "--cache-dir", str(files / "cache"), "--json",
    ]  # fmt: skip
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    # The estimate line (other stderr lines, such as the provider choice, may come first).
    (estimate,) = [line for line in err.splitlines() if "distinct texts not cached" in line]
    assert "text-embedding-3-small: 7 distinct texts not cached;" in estimate
    assert "tokens to send, about $" in estimate
    sent = openai_server.embedding_requests
    assert sum(r.n_inputs for r in sent) == 7  # 4 documents + 3 queries, once for both dimensions
    full, short = json.loads(out)
    assert (full["dimension"], short["dimension"]) == (1536, 64)
    assert full["usd_per_million_tokens"] == 0.02 and full["corpus_tokens"] > 0
    assert full["cached_texts"] == 0

    openai_server.reset_log()
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "0 distinct texts not cached; 0 tokens to send, about $0.0000" in err
    assert openai_server.embedding_requests == []
    assert json.loads(out)[0]["cached_texts"] == 7
