"""Collections that change: what an edit costs against rebuilding what it invalidates.

    python -m core.bench._edits            # about a minute on 2 cores

Writes ``benchmarks/results/collection_edits.json`` and ``benchmarks/results/COLLECTION_EDITS.md``.
Synthetic unit vectors (seeded); no embedding is timed (an edit embeds only the new texts, which
is counted, not timed, in the tests). Each row times both sides on the same matrices:

- a memory-mode index carried through an edit (:meth:`core.search.QuantIndex.updated`: delete
  1%, append 1%) against building it afresh on the edited matrix;
- near-duplicate pairs after appending 1% (:func:`core.search.extend_strongest_pairs`) against a
  full :func:`core.search.strongest_pairs` pass;
- a search filtered to 10% of the documents (gathered, then exact) against the unfiltered one.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.bench._env import describe
from core.bench._timing import measure
from core.data._collection import Collection
from core.embedding._types import EmbedderSpec
from core.search import build_index, extend_strongest_pairs, normalize, strongest_pairs

RESULTS_DIR = Path("benchmarks") / "results"
SEED = 20_261_201
N_INDEX, N_PAIRS, DIM = 100_000, 10_000, 384
SHARE = 0.01


def _vectors(rng, n: int) -> np.ndarray:
    return normalize(rng.standard_normal((n, DIM), dtype=np.float32))


def run() -> dict:
    rng = np.random.default_rng(SEED)
    rows = []
    x = _vectors(rng, N_INDEX)
    n_change = int(SHARE * N_INDEX)
    keep = np.setdiff1d(np.arange(N_INDEX), rng.choice(N_INDEX, n_change, replace=False))
    edited = np.concatenate([x[keep], _vectors(rng, n_change) * np.float32(0.5)])
    source = np.concatenate([keep, np.full(n_change, -1)])
    for mode in ("float16", "int8", "binary"):
        index = build_index(x, mode)
        carried = measure(lambda index=index: index.updated(source, edited), repeats=3)
        fresh = measure(lambda mode=mode: build_index(edited, mode), repeats=3)
        rows.append(
            {
                "what": f"{mode} index, {N_INDEX:,} x {DIM}, -1% +1% rows",
                "edit_ms": carried.median_ms,
                "rebuild_ms": fresh.median_ms,
            }
        )
    y = _vectors(rng, N_PAIRS)
    n_old = N_PAIRS - int(SHARE * N_PAIRS)
    old = strongest_pairs(y[:n_old], 0.3)
    extend = measure(lambda: extend_strongest_pairs(old, y, n_old, 0.3), repeats=3)
    full = measure(lambda: strongest_pairs(y, 0.3), repeats=3)
    rows.append(
        {
            "what": f"near-duplicate pairs, {N_PAIRS:,} x {DIM}, +1% rows",
            "edit_ms": extend.median_ms,
            "rebuild_ms": full.median_ms,
        }
    )
    spec = EmbedderSpec("synthetic", "gaussian", None)
    meta = pd.DataFrame({"shard": np.arange(N_INDEX) % 10})
    c = Collection.create([""] * N_INDEX, x, spec, meta, normalized=True)
    q = _vectors(rng, 16)
    c.search(q, 10)  # norms kept
    filtered = measure(lambda: c.search(q, 10, where={"shard": 3}), repeats=5)
    unfiltered = measure(lambda: c.search(q, 10), repeats=5)
    rows.append(
        {
            "what": f"16 queries, k=10, {N_INDEX:,} x {DIM}: filter to 10% (vs no filter)",
            "edit_ms": filtered.median_ms,
            "rebuild_ms": unfiltered.median_ms,
        }
    )
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": SEED,
        "environment": describe(),
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        "# Collections that change: edit vs rebuild",
        "",
        f"Measured {result['created']} by `python -m core.bench._edits` (seed {result['seed']};"
        " median of 3-5 runs; synthetic unit vectors).",
        "",
        "| what | after the edit (ms) | afresh (ms) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        ratio = row["rebuild_ms"] / row["edit_ms"] if row["edit_ms"] else float("nan")
        lines.append(
            f"| {row['what']} | {row['edit_ms']:,.1f} | {row['rebuild_ms']:,.1f} | {ratio:.1f}x |"
        )
    lines += [
        "",
        "The last row compares a filtered search with the unfiltered one (not an edit): the",
        "filter gathers the passing rows, so it costs a copy of them plus an exact search over",
        "them.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    result = run()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "collection_edits.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS_DIR / "COLLECTION_EDITS.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
