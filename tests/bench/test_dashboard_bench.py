"""The dashboard benchmark at a tiny size (2,000 documents) in real Chromium: every section is
measured and written, well formed; no timings are checked. Also the Search page's opt-in marks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.bench import _dashboard
from ui import timings

needs_chromium = pytest.mark.skipif(
    not _dashboard.chromium_available(),
    reason=f"Chromium ({_dashboard.CHROMIUM}) and Playwright are needed for the dashboard "
    "benchmark (apt-get install chromium; pip install -r requirements-dev.txt)",
)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("dashboard")
    # Its own process: Playwright's sync API must not leave an event loop in this one.
    command = [
        sys.executable, "-m", "core.bench._dashboard",
        "--docs", "2000", "--searches", "2", "--repeats", "1", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=_dashboard.ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((out / "dashboard.json").read_text(encoding="utf-8"))
    return data, (out / "DASHBOARD.md").read_text(encoding="utf-8")


@needs_chromium
def test_every_measurement_is_recorded(result):
    data, _ = result
    env = data["environment"]
    assert set(env["env"]) >= {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}
    assert len(env["load_average_at_start"]) == 3 and len(data["load_average_at_end"]) == 3
    assert data["collection_file"]["docs"] == 2000 and data["collection_file"]["dim"] == 512
    fresh = data["fresh_processes"]
    assert [i["module"] for i in fresh["imports"]] == [n for n, _ in _dashboard.IMPORT_STEPS]
    assert fresh["model"]["model_load_s"] > 0 and fresh["model"]["sample_embed_s"] > 0
    stages = data["cold_start"]["stages_s"]
    assert len(stages) == 5 and all(s > 0 for s in stages.values())
    searches = data["large"]["searches"]
    assert [s["first"] for s in searches] == [True, False]


@needs_chromium
def test_each_search_is_broken_down_on_one_clock(result):
    data, _ = result
    for row in [data["cold_start"]["first_search"], *data["large"]["searches"]]:
        assert list(row["server_ms"]) == [*_dashboard.SERVER_STEPS]
        assert row["ws_messages"] > 0 and row["ws_bytes"] > 0
        # The server's run ends after it starts, and the page is drawn after the click.
        assert row["click_to_run_start_ms"] < row["run_end_ms"] and row["total_ms"] > 0
        assert row["after_server_ms"] == pytest.approx(row["total_ms"] - row["run_end_ms"])
        assert row["embed_ms"] >= 0 and row["search_ms"] >= 0
    later = data["large"]["later_median"]
    assert later["total_ms"] > 0 and set(later["server_ms"]) == set(_dashboard.SERVER_STEPS)


@needs_chromium
def test_markdown_has_the_tables_and_the_explanation(result):
    _, md = result
    assert md.startswith("# The dashboard's own latency")
    for heading in ("### Search on 2,000 documents × 512", "### Cold start", "### What dominates"):
        assert heading in md
    assert "Load average (1, 5, 15 min) at the start" in md and "OPENBLAS_CORETYPE=" in md
    assert "| **results and map drawn** |" in md
    assert md.count("- **") == 3  # first search, later search, cold start


def test_marks_are_off_unless_asked_for(tmp_path, monkeypatch):
    monkeypatch.delenv(timings.TIMINGS_ENV, raising=False)
    lap = timings.laps("search")
    lap("step")
    lap.done(submitted=True)
    assert list(tmp_path.iterdir()) == []

    path = tmp_path / "timings.jsonl"
    monkeypatch.setenv(timings.TIMINGS_ENV, str(path))
    lap = timings.laps("search")
    lap("first")
    lap("second")
    lap.done(submitted=True)
    (line,) = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert line["page"] == "search" and line["submitted"] is True
    names = [name for name, _ in line["marks"]]
    assert names == ["first", "second", "end"]
    seconds = [s for _, s in line["marks"]]
    assert seconds == sorted(seconds) and seconds[0] >= 0
