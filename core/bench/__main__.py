"""``python -m core.bench [--quick]``: run every benchmark and write BENCHMARKS.md + JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from core.bench import _claims as claims
from core.bench import _hnsw_scale
from core.bench import _kernels as kernel_candidates
from core.bench import _modes as modes
from core.bench._data import Moments, draw, recall_set
from core.bench._env import describe
from core.bench._grid import GridSpec, log, run_grid
from core.bench._report import markdown, write_atomic, write_json
from core.bench._targets import evaluate

ROOT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a small grid (about a minute)")
    p.add_argument("--md", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "bench.json")
    p.add_argument(
        "--recall-source",
        choices=("real", "synthetic"),
        default="real",
        help="real: docstring corpus embedded by core/bench/_recall_corpus.py (cached); "
        "synthetic: clustered vectors, for smoke tests only",
    )
    p.add_argument("--sizes", type=int, nargs="+", help="override corpus sizes")
    p.add_argument("--dims", type=int, nargs="+", help="override dimensions")
    p.add_argument("--queries", type=int, nargs="+", help="override query counts")
    p.add_argument("--modes-n", type=int, help="rows for the memory-mode speed test")
    p.add_argument("--memory-n", type=int, help="rows for the peak-memory measurement")
    p.add_argument("--hnsw-n", type=int, help="rows for the approximate mode at scale (1M)")
    p.add_argument("--claims-n", type=int, default=10_000, help="rows for the tutorial claims")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the Markdown from the existing JSON (same numbers, no measuring)",
    )
    return p


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    env = describe()
    data = recall_set(args.recall_source)
    moments = Moments.of(data["corpus"], data["meta"]["source"])
    spec = GridSpec(repeats=args.repeats)
    if args.quick:
        spec.sizes, spec.dims, spec.queries = (2_000, 20_000), (64, 384), (1, 10)
        spec.loop_max_n = 2_000
    spec.sizes = tuple(args.sizes or spec.sizes)
    spec.dims = tuple(args.dims or spec.dims)
    spec.queries = tuple(args.queries or spec.queries)
    grid = run_grid(spec, moments)
    small = min(spec.dims), max(spec.dims)
    claim_rows = claims.tutorial_claims(
        moments,
        dims=small,
        n=args.claims_n,
        n_dtype=args.claims_n if args.quick else 10 * args.claims_n,
        repeats=args.repeats,
    )
    memory_rows = claims.search_memory(
        moments,
        n=args.memory_n or (20_000 if args.quick else 1_000_000),
        d=min(spec.dims),
        queries=(1, max(spec.queries)),
    )
    recall_rows = modes.recall(data)
    speed = modes.speed(
        moments,
        n=args.modes_n or (20_000 if args.quick else 1_000_000),
        d=data["corpus"].shape[1],
        queries=tuple(sorted({1, max(spec.queries)})),
        repeats=args.repeats,
    )
    summary = modes.modes_summary(recall_rows, speed)
    hnsw = modes.hnsw(data, repeats=args.repeats)
    in_run = bool(args.hnsw_n or args.quick)
    if in_run:
        hnsw_scale = modes.hnsw_at_scale(
            moments, n=args.hnsw_n or 20_000, d=min(spec.dims), repeats=args.repeats
        )
    else:  # 1M rows take too long to build inside this run: measured by its own command
        hnsw_scale = _hnsw_scale.load() or {
            "skipped": "not measured yet: run python -m core.bench._hnsw_scale"
        }
    n_kernels = args.modes_n or (20_000 if args.quick else 1_000_000)
    kernel_rows = kernel_candidates.candidates(
        draw(moments, n_kernels, data["corpus"].shape[1], seed=31),
        draw(moments, max(spec.queries), data["corpus"].shape[1], seed=32),
        repeats=args.repeats,
    )
    env["load_average_at_end"] = os.getloadavg()
    return {
        "command": "python -m core.bench" + (" --quick" if args.quick else ""),
        "argv": sys.argv[1:],
        "environment": env,
        "grid_spec": {k: v for k, v in vars(spec).items() if k != "notes"},
        "grid": grid,
        "claims": claim_rows,
        "memory": memory_rows,
        "modes": {
            "recall": recall_rows,
            "recall_meta": {k: v for k, v in data["meta"].items() if k != "examples"},
            "speed": speed,
            "summary": summary,
            "hnsw": hnsw,
            "hnsw_at_scale": hnsw_scale,
            "hnsw_at_scale_in_run": in_run,
            "kernels": kernel_rows,
        },
        "targets": evaluate(
            grid,
            memory_rows,
            summary,
            speed["rows"],
            _hnsw_target(result_modes={"hnsw": hnsw, "hnsw_at_scale": hnsw_scale}),
        ),
        "elapsed_s": time.perf_counter() - started,
        "finished": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def _hnsw_target(result_modes: dict):
    """The HNSW measurement the target is judged on: at scale where it was measured."""
    scale = result_modes.get("hnsw_at_scale")
    return scale if scale and scale.get("rows") else result_modes.get("hnsw")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.render:
        result = json.loads(args.json.read_text(encoding="utf-8"))
        speed = result["modes"]["speed"]
        modes.rebase(speed)
        summary = modes.modes_summary(result["modes"]["recall"], speed)
        result["modes"]["summary"] = summary
        stored = _hnsw_scale.load()  # measured apart: the newest measurement counts
        if stored and stored.get("rows") and not result["modes"].get("hnsw_at_scale_in_run"):
            result["modes"]["hnsw_at_scale"] = stored
        hnsw = _hnsw_target(result["modes"])
        result["targets"] = evaluate(result["grid"], result["memory"], summary, speed["rows"], hnsw)
        result["rendered"] = time.strftime("%Y-%m-%d %H:%M %Z")
        write_json(result, args.json)
        write_atomic(args.md, markdown(result))
        log(f"rewrote {args.md} from {args.json}")
        return 0
    result = run(args)
    try:
        result["json_path"] = str(args.json.resolve().relative_to(ROOT))
    except ValueError:
        result["json_path"] = str(args.json)
    write_json(result, args.json)
    write_atomic(args.md, markdown(result))
    log(f"wrote {args.md} and {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
