"""``python -m core.bench._hnsw_scale [--n N]``: the approximate mode at the target's size.

Building an HNSW graph over 1M rows takes tens of minutes on two cores, too long to sit inside
every ``python -m core.bench`` run, so it is measured by its own command and kept in
``benchmarks/results/hnsw_scale.json``; ``python -m core.bench`` judges the HNSW target on it
when it exists (and says where the number comes from).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from core.bench import _modes as modes
from core.bench._data import Moments, recall_set
from core.bench._env import describe
from core.bench._report import write_json

RESULT = Path("benchmarks") / "results" / "hnsw_scale.json"


def load() -> dict | None:
    """The stored measurement, or None."""
    return json.loads(RESULT.read_text(encoding="utf-8")) if RESULT.is_file() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.bench._hnsw_scale", description=__doc__)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=RESULT)
    p.add_argument(
        "--recall-source",
        choices=("real", "synthetic"),
        default="real",
        help="whose mean and covariance the rows are drawn with (see python -m core.bench)",
    )
    args = p.parse_args(argv)
    started = time.perf_counter()
    env = describe()
    data = recall_set(args.recall_source)
    moments = Moments.of(data["corpus"], data["meta"]["source"])
    result = modes.hnsw_at_scale(moments, n=args.n, d=args.d, repeats=args.repeats)
    env["load_average_at_end"] = os.getloadavg()
    result.update(
        {
            "command": f"python -m core.bench._hnsw_scale --n {args.n} "
            f"--recall-source {args.recall_source}",
            "environment": env,
            "elapsed_s": time.perf_counter() - started,
            "finished": time.strftime("%Y-%m-%d %H:%M %Z"),
        }
    )
    write_json(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
