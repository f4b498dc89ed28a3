"""Load test: N concurrent browser sessions doing real work against one ``streamlit run``.

    python benchmarks/load_sessions.py --sessions 10 --rounds 3
    python benchmarks/load_sessions.py --sessions 10 --rounds 2 --map   # + a UMAP map each

Starts the app on 127.0.0.1 (as the browser tests do), drives ``--sessions`` Chromium contexts at
once through ``tests/browser/load_sessions.py`` (load the sample, search, upload a private file,
embed, search for it), ``--rounds`` times, and samples the resident memory of the server and
its child processes every 0.25 s. Writes benchmarks/results/LOAD.md and load.json: errors,
leaks, per-session times, RSS at start, peak per round and at the end. With ``--map`` each
session also opens the Map page and draws the sample's UMAP map (umap-learn must be
installed): the figures go to LOAD-MAP.md and load-map.json, and the numba cache starts empty
(``NUMBA_CACHE_DIR`` in a temporary folder), as on a fresh install.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.bench._app_server import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    app_env,
    streamlit_app,
)
from tests.browser.load_sessions import run_rounds  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def rss_mib(pid: int) -> float:
    """Resident memory of the server and every process it started (UMAP's compile helper)."""
    import psutil

    try:
        server = psutil.Process(pid)
        tree = [server, *server.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 2**20


def _env(tmp: str, fresh_numba: bool) -> dict[str, str]:
    """The server's environment: no OpenAI settings, a cache of its own and, for ``--map``, an
    empty numba cache (as on a fresh install)."""
    numba = {"NUMBA_CACHE_DIR": str(Path(tmp) / "numba")} if fresh_numba else {}
    return app_env(EMBEDDING_WORKBENCH_CACHE_DIR=str(Path(tmp) / "cache"), **numba)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--map", action="store_true", help="each session draws a UMAP map too")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        streamlit_app(_env(tmp, args.map), timeout_s=90) as app,
    ):
        with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=10) as response:
            assert response.read().strip() == b"ok", "the app is not healthy"
        pid = app.pid
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        t0 = time.monotonic()

        def sample() -> None:
            while not stop.wait(0.25):
                samples.append((time.monotonic() - t0, rss_mib(pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        start_rss = rss_mib(pid)
        sampler.start()
        marks: list[float] = []
        done: list[list] = []

        def on_round(round_, outcomes) -> None:
            marks.append(time.monotonic() - t0)
            done.append(list(outcomes))
            print(f"round {round_ + 1}: {sum(len(o.problems) for o in outcomes)} problem(s), "
                  f"RSS {rss_mib(pid):,.0f} MiB", flush=True)  # fmt: skip
            write_report(args, done, marks, samples, start_rss, rss_mib(pid))

        try:
            asyncio.run(
                run_rounds(app.url, Path(tmp), sessions=args.sessions, rounds=args.rounds,
                           chromium=str(CHROMIUM), args=CHROMIUM_ARGS, on_round=on_round,
                           with_map=args.map)
            )  # fmt: skip
        finally:
            stop.set()
            sampler.join()
            end_rss = rss_mib(pid)
    problems = write_report(args, done, marks, samples, start_rss, end_rss)
    return 0 if not problems else 1


def write_report(args, results, marks, samples, start_rss: float, end_rss: float) -> list[str]:
    """Write LOAD.md and load.json for the rounds done so far; returns the problems found."""
    bounds = [0.0, *marks]
    per_round = []
    for r, outcomes in enumerate(results):
        window = [m for t, m in samples if bounds[r] <= t <= bounds[r + 1]] or [end_rss]
        per_round.append({
            "round": r + 1,
            "sessions": len(outcomes),
            "problems": [p for o in outcomes for p in (f"{o.name}: {x}" for x in o.problems)],
            "session_seconds_median": sorted(o.seconds for o in outcomes)[len(outcomes) // 2],
            "session_seconds_max": max(o.seconds for o in outcomes),
            "round_seconds": bounds[r + 1] - bounds[r],
            "peak_rss_mib": max(window),
            "rss_at_end_mib": window[-1],
        })  # fmt: skip
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "sessions": args.sessions,
        "rounds": len(results),
        "rss_start_mib": start_rss,
        "rss_end_mib": end_rss,
        "rss_peak_mib": max((m for _, m in samples), default=end_rss),
        # Community Cloud's smallest documented allowance, and how long it was exceeded.
        "seconds_above_690_mb": 0.25 * sum(m * 2**20 > 690e6 for _, m in samples),
        "rounds_detail": per_round,
        "errors_or_leaks": sum(len(r["problems"]) for r in per_round),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "load-map" if args.map else "load"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Load test: concurrent browser sessions against one app server",
        "",
        f"`python benchmarks/load_sessions.py --sessions {args.sessions} --rounds {args.rounds}"
        f"{' --map' if args.map else ''}` "
        f"({len(results)} round(s) done),"
        f" {report['when']}, {report['machine']}. Each session: load the sample, run the sample "
        "searches, "
        + ("draw the sample's UMAP map (numba's cache empty at start), " if args.map else "")
        + "upload a private 3-line file, embed it, search for it; then check the page "
        "for errors and for any other session's text.",
        "",
        f"RSS of the server and its child processes: {start_rss:,.0f} MiB at start, peak "
        f"{report['rss_peak_mib']:,.0f} MiB, {end_rss:,.0f} MiB at the end; above 690 MB "
        f"(Community Cloud's smallest allowance) for {report['seconds_above_690_mb']:.0f} s. "
        f"Errors or leaks: {report['errors_or_leaks']}.",
        "",
        "| round | sessions | problems | median s | max s | round s | peak RSS MiB "
        "| RSS at end MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in per_round:
        lines.append(
            f"| {r['round']} | {r['sessions']} | {len(r['problems'])} | "
            f"{r['session_seconds_median']:.1f} | {r['session_seconds_max']:.1f} | "
            f"{r['round_seconds']:.1f} | {r['peak_rss_mib']:,.0f} | {r['rss_at_end_mib']:,.0f} |"
        )
    problems = [p for r in per_round for p in r["problems"]]
    if problems:
        lines += ["", "Problems:", "", *(f"- {p}" for p in problems)]
    (RESULTS / f"{stem.upper()}.md").write_text("\n".join(lines) + "\n")
    return problems


if __name__ == "__main__":
    sys.exit(main())
