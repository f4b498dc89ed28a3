"""A tiny run of the benchmark harness: every section is written and well formed; no timings."""

from __future__ import annotations

import json
import re

import pytest

from core.bench.__main__ import main

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    md, js = out / "BENCHMARKS.md", out / "bench.json"
    code = main(
        [
            "--sizes", "300", "700",
            "--dims", "16", "72",
            "--queries", "1", "3",
            "--modes-n", "1500",
            "--hnsw-n", "1500",
            "--memory-n", "1200",
            "--claims-n", "400",
            "--recall-source", "synthetic",
            "--repeats", "1",
            "--md", str(md),
            "--json", str(js),
        ]
    )  # fmt: skip
    assert code == 0
    return md.read_text(encoding="utf-8"), json.loads(js.read_text(encoding="utf-8"))


def test_json_has_every_section_and_cell(run):
    _, result = run
    assert {"environment", "grid", "claims", "memory", "modes", "targets"} <= set(result)
    env = result["environment"]
    assert env["cores"] >= 1 and env["blas"] and env["packages"]["numpy"]
    cells = result["grid"]["cells"]
    contenders = {c["contender"] for c in cells}
    assert {"engine", "engine one-shot", "faiss", "tutorial", "tutorial loop"} <= contenders
    # 2 sizes x 2 dims x 2 query counts x 3 methods for each always-run contender.
    for name in ("engine", "faiss", "tutorial"):
        assert sum(c["contender"] == name for c in cells) == 24
    assert all(c["median_s"] > 0 and c["samples"] >= 1 for c in cells)
    # The Python loop runs for one query only, so the other query count is listed as skipped.
    assert all(c["m"] == 1 for c in cells if c["contender"] == "tutorial loop")
    assert any(s.get("contender") == "tutorial loop" for s in result["grid"]["skipped"])
    floors = result["grid"]["floors"]
    assert len(floors) == 4 and all(f["stream"]["seconds"] > 0 for f in floors)


def test_modes_recall_is_computed_and_memory_is_measured(run):
    _, result = run
    modes = result["modes"]
    summary = {s["mode"]: s for s in modes["summary"]}
    assert set(summary) == {"float32", "float16", "int8", "binary"}
    assert summary["float32"]["recall_cosine"] == 1.0  # exact search against itself
    assert 0 < summary["binary"]["bytes_per_vector"] < summary["int8"]["bytes_per_vector"]
    assert summary["int8"]["bytes_per_vector"] < summary["float16"]["bytes_per_vector"]
    assert all(0 <= r["recall_dot"] <= 1 for r in modes["recall"])
    assert all(r["peak_extra_bytes"] >= 0 for r in result["memory"])
    assert {t["target"].split(":")[0] for t in result["targets"]} >= {
        "float16",
        "int8",
        "binary + rescoring",
    }


def test_markdown_has_the_tables(run):
    md, result = run
    for heading in (
        "## Targets",
        "## Exact search",
        "## The tutorial's claims",
        "## Peak extra memory",
        "## Memory modes",
    ):
        assert heading in md
    assert "1,477x" in md and "| engine |" in md
    assert md.count("### n = ") == len(result["grid"]["floors"])


def test_render_rewrites_the_same_markdown_from_the_json(run, tmp_path):
    md, result = run
    js = tmp_path / "bench.json"
    js.write_text(json.dumps(result), encoding="utf-8")
    again = tmp_path / "again.md"
    assert main(["--render", "--json", str(js), "--md", str(again)]) == 0
    text = again.read_text(encoding="utf-8")
    note = re.search(r" Text re-rendered from that JSON on .+? \(no new measurements\)\.", text)
    assert note is not None
    assert text.replace(note.group(0), "") == md  # same numbers, same tables
