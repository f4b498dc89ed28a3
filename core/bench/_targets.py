"""The issue's performance targets, checked against one run's numbers."""

from __future__ import annotations

from collections import defaultdict

from core.search._metrics import get_metric


def _index(cells):
    by = defaultdict(dict)
    for c in cells:
        by[(c["n"], c["d"], c["m"], c["method"])][c["contender"]] = c["median_s"]
    return by


def _floor_lookup(floors):
    return {(f["n"], f["d"]): f for f in floors}


def cell_ratios(grid: dict) -> list[dict]:
    """Per cell: floor (max of stream and GEMM), each contender's time and ratio to it."""
    floors = _floor_lookup(grid["floors"])
    rows = []
    for (n, d, m, method), times in sorted(_index(grid["cells"]).items()):
        f = floors[(n, d)]
        stream = f["stream"]["seconds"]
        gemm = (f["gemm"].get(m) or f["gemm"][str(m)])["seconds"]  # str keys after JSON
        floor = max(stream, gemm)
        rows.append(
            {
                "n": n,
                "d": d,
                "m": m,
                "method": method,
                "stream_s": stream,
                "gemm_s": gemm,
                "floor_s": floor,
                "times": times,
                "ratios": {name: t / floor for name, t in times.items()},
            }
        )
    return rows


def evaluate(
    grid: dict, memory_rows: list, summary: list, speed_rows: list, hnsw: dict | None = None
) -> list[dict]:
    """One row per target: the worst measured value, whether it is met, and where it is not.

    ``speed_rows`` are the memory modes' timings (``modes.speed(...)["rows"]``): each mode's
    speed target is checked for one query and for the largest batch, over every method.
    """
    ratios = cell_ratios(grid)
    out = []

    def add(target, value, met, misses, detail=""):
        out.append(
            {"target": target, "measured": value, "met": met, "misses": misses, "detail": detail}
        )

    vs_faiss = [
        (r, r["times"]["engine"] / r["times"]["faiss"])
        for r in ratios
        if "engine" in r["times"] and "faiss" in r["times"]
    ]
    misses = [f"{_where(r)}: {x:.2f}x" for r, x in vs_faiss if x > 1.0]
    worst = max((x for _, x in vs_faiss), default=float("nan"))
    add(
        "engine at least as fast as FAISS exact search in every cell",
        f"worst engine/FAISS {worst:.2f}x; {len(vs_faiss) - len(misses)}/{len(vs_faiss)} cells",
        not misses,
        misses,
    )
    one = [(r, r["times"]["engine"] / r["stream_s"]) for r in ratios if r["m"] == 1]
    big = [(r, x) for r, x in one if r["n"] * r["d"] * 4 > 64 * 2**20]
    misses = [f"{_where(r)}: {x:.2f}x" for r, x in big if x > 1.5]
    add(
        "one query within 1.5x of the streaming floor (matrices larger than the caches)",
        f"worst {max((x for _, x in big), default=float('nan')):.2f}x",
        not misses,
        misses,
        (
            "not counted, small matrices sit in cache where fixed per-call costs dominate: "
            + ", ".join(f"{_where(r)} {x:.2f}x" for r, x in one if (r, x) not in big)
        )
        if len(one) > len(big)
        else "",
    )
    batch = [(r, r["times"]["engine"] / r["gemm_s"]) for r in ratios if r["m"] == max_m(ratios)]
    misses = [f"{_where(r)}: {x:.2f}x" for r, x in batch if x > 1.5]
    add(
        f"batch of {max_m(ratios)} within 1.5x of the bare GEMM",
        f"worst {max((x for _, x in batch), default=float('nan')):.2f}x",
        not misses,
        misses,
    )
    eu = _index(grid["cells"])
    pairs = []
    for (n, d, m, method), times in eu.items():
        if get_metric(method).is_distance and "engine" in times:
            cos = eu.get((n, d, m, "cosine"), {}).get("engine")
            if cos:
                pairs.append(((n, d, m), times["engine"] / cos))
    misses = [f"n={n:,} d={d} m={m}: {x:.2f}x" for (n, d, m), x in pairs if x > 1.2]
    add(
        "euclidean within 1.2x of cosine",
        f"worst {max((x for _, x in pairs), default=float('nan')):.2f}x",
        not misses,
        misses,
    )
    eng = [r for r in memory_rows if r["contender"] == "engine"]
    worst = max((r["fraction_of_matrix"] for r in eng), default=float("nan"))
    add(
        "peak extra memory <= 10% of the matrix",
        f"worst {worst:.1%}",
        worst <= 0.10,
        [
            f"m={r['m']} {r['method']}: {r['fraction_of_matrix']:.1%}"
            for r in eng
            if r["fraction_of_matrix"] > 0.10
        ],
    )
    both = [r for r in ratios if {"engine", "engine one-shot"} <= set(r["times"])]
    one_shot = [(r, r["times"]["engine one-shot"] / r["times"]["engine"]) for r in both]
    misses = [f"{_where(r)}: {x:.2f}x" for r, x in one_shot if x > 1.15]
    add(
        "one-shot search(corpus, queries) within 1.15x of the prepared path in every cell",
        f"worst {max((x for _, x in one_shot), default=float('nan')):.2f}x; "
        f"{len(one_shot) - len(misses)}/{len(one_shot)} cells",
        not misses,
        misses,
    )
    bare = [
        (r, r["times"]["engine"] / r["times"]["numpy"])
        for r in ratios
        if r["m"] == 1 and {"engine", "numpy"} <= set(r["times"])
    ]
    misses = [f"{_where(r)}: {x:.2f}x" for r, x in bare if x > 1.1]
    add(
        "one query, prepared, within 1.1x of bare D @ q + argpartition (numpy)",
        f"worst {max((x for _, x in bare), default=float('nan')):.2f}x; "
        f"{len(bare) - len(misses)}/{len(bare)} cells",
        not misses,
        misses,
    )
    out.extend(_mode_targets(summary, speed_rows))
    if hnsw and hnsw.get("rows"):
        rows = hnsw["rows"]
        low = [f"{r['method']}: recall {r['recall']:.3f}" for r in rows if r["recall"] < 0.95]
        slow = [f"{r['method']}: {r['speedup_1']:.1f}x" for r in rows if r["speedup_1"] < 10]
        n = rows[0]["n"]
        add(
            f"hnsw: recall@10 >= 0.95 at >= 10x the exact engine's speed for one query "
            f"(measured at n={n:,}; the target is 1M)",
            ", ".join(
                f"{r['method']} recall {r['recall']:.3f} at {r['speedup_1']:.1f}x" for r in rows
            ),
            not low and not slow and n >= 1_000_000,
            low + slow + ([] if n >= 1_000_000 else [f"measured at n={n:,}, not 1M"]),
        )
    return out


def _mode_targets(summary: list, speed_rows: list) -> list[dict]:
    """The memory-mode targets, one row per mode and query count, judged on the slowest method
    (the time ratio is to the faster exact float32 search of the same method and count)."""
    modes = {r["mode"]: r for r in summary}
    f32_bytes = modes["float32"]["bytes_per_vector"]
    # (target, max time ratio to float32, min recall, query counts it applies to: "one" the
    # single query, "batch" the largest batch). Issue 14's goals for one query; the batch goals
    # of float16 and int8 are the earlier ones (a batch is compute-bound: a GEMM either way).
    goals = [
        ("float16", "float16: half the memory at <= 0.6x float32 time", 0.6, None, "one"),
        ("float16", "float16: half the memory at <= 1.3x float32 time", 1.3, None, "batch"),
        ("int8", "int8: recall@10 >= 0.99 at <= 0.4x float32 time at 1M", 0.4, 0.99, "one"),
        ("int8", "int8: recall@10 >= 0.99 and faster than float32 at 1M", 1.0, 0.99, "batch"),
        (
            "binary",
            "binary + rescoring: recall@10 >= 0.95 and >= 3x faster than float32 at 1M",
            1 / 3,
            0.95,
            "both",
        ),
    ]
    counts = sorted({r["m"] for r in speed_rows})
    out = []
    for mode, target, max_ratio, min_recall, which in goals:
        info = modes[mode]
        memory = info["bytes_per_vector"] / f32_bytes
        batch = [counts[-1]] if len(counts) > 1 else []  # a run without batches judges none
        chosen = {"one": [counts[0]], "batch": batch, "both": [counts[0], *batch]}
        for m in sorted(set(chosen[which])):
            rows = [r for r in speed_rows if r["mode"] == mode and r["m"] == m]
            worst = max(rows, key=lambda r: r["vs_float32"])
            slow = [r for r in rows if not _faster_enough(r["vs_float32"], max_ratio)]
            recall_ok = min_recall is None or info["recall_min_method"] >= min_recall
            memory_ok = mode != "float16" or memory <= 0.51
            label = "1 query" if m == 1 else f"batch of {m}"
            measured = [f"{memory:.2f}x memory"] if mode == "float16" else []
            if min_recall is not None:
                measured.append(f"recall {info['recall_min_method']:.4f}")
            measured.append(f"slowest method {worst['method']} {_speed_words(worst['vs_float32'])}")
            out.append(
                {
                    "target": f"{target} ({label})",
                    "measured": ", ".join(measured),
                    "met": recall_ok and memory_ok and not slow,
                    "misses": [f"{r['method']}: {_speed_words(r['vs_float32'])}" for r in slow],
                    "detail": "",
                }
            )
    return out


def _faster_enough(ratio: float, max_ratio: float) -> bool:
    # "faster than float32" (1.0) is strict; the other goals are upper bounds.
    return ratio < max_ratio if max_ratio == 1.0 else ratio <= max_ratio


def _speed_words(ratio: float) -> str:
    """A time ratio to float32 as a reader says it: "1.17x the time" or "4.2x faster"."""
    return f"{1 / ratio:.1f}x faster" if ratio < 1 else f"{ratio:.2f}x the time"


def max_m(ratios):
    return max(r["m"] for r in ratios)


def _where(r):
    return f"n={r['n']:,} d={r['d']} m={r['m']} {r['method']}"
