"""`python -m core info` and `search`, run as a user would: a real process, the real model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli._main import main
from core.data._collection import Collection
from core.embedding._types import EmbedderSpec

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def collection_dir(tmp_path_factory):
    from core.embedding.providers import get_embedder

    texts = [
        "How to bake sourdough bread at home",
        "如何在家里烤面包",
        "The central bank raised interest rates again",
        "Jupiter is the largest planet in the solar system",
    ]
    embedder = get_embedder("use-multilingual")
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    path = tmp_path_factory.mktemp("cli") / "kitchen"
    meta = pd.DataFrame(
        {"source": ["notes.txt"] * 4, "location": [f"line {i}" for i in range(1, 5)]}
    )
    Collection.create(texts, vectors, embedder.spec, meta).save(path)
    return path


def test_help_lists_the_subcommands(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("info", "search", "embed"):
        assert command in result.stdout


def test_info_describes_the_collection(collection_dir, tmp_path):
    result = run_cli("info", str(collection_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "documents    4" in result.stdout
    assert "use-multilingual" in result.stdout and "dimension    512" in result.stdout
    assert "normalized   yes" in result.stdout


def test_search_prints_a_ranked_table(collection_dir, tmp_path):
    result = run_cli("search", str(collection_dir), "baking bread", "-k", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(line for line in lines if line.strip().startswith("1 "))
    second = next(line for line in lines if line.strip().startswith("2 "))
    # The English recipe and its Chinese translation are the two best; the rest is not listed.
    assert all("sourdough" in row or "面包" in row for row in (first, second))
    assert "Jupiter" not in result.stdout


def test_search_euclidean_scores_are_negative(collection_dir, capsys):
    assert main(["search", str(collection_dir), "planets", "-k", "1", "--method", "euclidean"]) == 0
    row = next(
        line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("1 ")
    )
    assert "Jupiter" in row and float(row.split()[1]) < 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "{missing}"], "no collection at"),
        (["search", "{collection}", "q", "-k", "0"], "-k must be at least 1, got 0"),
    ],
)
def test_bad_input_exits_2_with_a_message(args, message, collection_dir, tmp_path, capsys):
    args = [a.format(missing=tmp_path / "nope", collection=collection_dir) for a in args]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_unknown_method_is_refused_by_the_parser(collection_dir, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search", str(collection_dir), "q", "--method", "manhattan"])
    assert exc.value.code == 2
    assert "invalid choice: 'manhattan'" in capsys.readouterr().err


def test_spec_round_trips_through_the_manifest(collection_dir):
    assert Collection.load(collection_dir).spec == EmbedderSpec(
        "use-multilingual", "universal-sentence-encoder-multilingual-3", None
    )


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_query_is_refused(query, collection_dir, capsys):
    assert main(["search", str(collection_dir), "bread", query]) == 2
    assert "query 2 is empty" in capsys.readouterr().err


def test_version_names_the_package_version(tmp_path):
    import core

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"embedding-workbench {core.__version__}"


def test_info_json_is_one_document_on_stdout(collection_dir, tmp_path):
    import json

    result = run_cli("info", str(collection_dir), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["documents"] == 4
    assert document["provider"] == "use-multilingual"
    assert document["dimension"] == 512
    assert document["metadata_columns"] == ["source", "location"]
    assert set(document["memory_mb"]) >= {"float32", "float16"}


def test_search_json_holds_ranked_results_with_text_and_metadata(collection_dir, tmp_path):
    import json

    result = run_cli(
        "search", str(collection_dir), "bread baking", "planets", "-k", "2", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # nothing but the JSON document on stdout
    assert [q["query"] for q in document["queries"]] == ["bread baking", "planets"]
    bread, planets = document["queries"]
    assert bread["results"][0]["text"] == "How to bake sourdough bread at home"
    assert planets["results"][0]["metadata"] == {"source": "notes.txt", "location": "line 4"}
    assert [r["rank"] for r in bread["results"]] == [1, 2]
    assert bread["results"][0]["score"] >= bread["results"][1]["score"]


def test_search_json_errors_go_to_stderr_with_exit_2(collection_dir, tmp_path):
    result = run_cli("search", str(collection_dir), "  ", "--json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "query 1 is empty" in result.stderr
