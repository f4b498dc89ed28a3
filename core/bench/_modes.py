"""Memory modes (core.search): bytes per vector, speed against float32, recall@10 on real text."""

from __future__ import annotations

import gc
import time

import numpy as np

from core.bench._data import Moments, draw
from core.bench._grid import K, log, time_cell
from core.bench._memory import peak_extra_bytes
from core.search._engine import row_norms, search
from core.search._metrics import get_metric, metric_names
from core.search._modes import MODES, build_index, recall_at_k

# Variants measured for recall: the defaults plus the knobs worth knowing about.
RECALL_VARIANTS = (
    ("float32", {}),
    ("float16", {}),
    ("int8", {}),
    ("int8", {"clip_quantile": 1e-4}),
    ("binary", {"rescore_factor": 5}),
    ("binary", {"rescore_factor": 10}),
    ("binary", {}),
    ("binary", {"rescore_factor": 50}),
)
METHODS = metric_names()  # the built-in metrics (nothing else is registered at import)


def _label(mode: str, options: dict) -> str:
    if not options:
        return mode
    return mode + " (" + ", ".join(f"{k}={v}" for k, v in options.items()) + ")"


def recall(data: dict) -> list[dict]:
    """recall@10 of each variant against exact float32 search (core.search), every method."""
    corpus, queries = data["corpus"], data["queries"]
    exact = {me: search(corpus, queries, K, me)[0] for me in METHODS}
    rows = []
    for mode, options in RECALL_VARIANTS:
        started = time.perf_counter()
        index = build_index(corpus, mode, **options)
        build_s = time.perf_counter() - started
        row = {
            "variant": _label(mode, options),
            "mode": mode,
            "options": options,
            "bytes_per_vector": index.bytes_per_vector,
            "build_s": build_s,
        }
        for me in METHODS:
            row[f"recall_{me}"] = recall_at_k(index.search(queries, K, me)[0], exact[me])
        rows.append(row)
        log(f"recall {row['variant']:34s} cosine {row['recall_cosine']:.4f}")
    return rows


def speed(moments: Moments, *, n: int, d: int, queries=(1, 10, 100), repeats=5) -> dict:
    """Search time of every mode at ``n`` rows (drawn to match the real corpus), vs float32."""
    x = draw(moments, n, d, seed=21)
    q_all = draw(moments, max(queries), d, seed=22)
    norms = row_norms(x)
    rows, memory = [], []
    for mode in MODES:
        started = time.perf_counter()
        index = build_index(x, mode)
        build_s = time.perf_counter() - started
        for me in METHODS:
            for m in queries:
                q = q_all[:m]
                t = time_cell(lambda q=q, me=me, ix=index: ix.search(q, K, me), repeats)
                rows.append(
                    {"mode": mode, "method": me, "m": m, "n": n, "d": d, "build_s": build_s, **t}
                )
                log(f"mode {mode:8s} {me:9s} m={m:<3d} {t['median_s'] * 1e3:9.2f} ms")
        for m in (min(queries), max(queries)):
            peak = peak_extra_bytes(lambda m=m, ix=index: ix.search(q_all[:m], K, "cosine"))
            memory.append(
                {
                    "mode": mode,
                    "m": m,
                    "peak_extra_bytes": peak,
                    "fraction_of_float32_matrix": peak / x.nbytes,
                    "index_bytes": index.nbytes,
                    "bytes_per_vector": index.bytes_per_vector,
                }
            )
        del index
        gc.collect(1)
    engine = {}
    for me in METHODS:
        for m in queries:
            t = time_cell(
                lambda m=m, me=me, x=x: search(
                    x, q_all[:m], K, me, check_finite=False, corpus_norms=norms
                ),
                repeats,
            )
            engine[f"{me}/{m}"] = t["median_s"]
    for r in rows:
        r["engine_s"] = engine[f"{r['method']}/{r['m']}"]
    del x
    gc.collect()
    result = {"n": n, "d": d, "rows": rows, "memory": memory}
    rebase(result)
    return result


def rebase(speed_result: dict) -> None:
    """Set each row's ``vs_float32``: its time over the faster float32 search measured for the
    same method and query count (the float32 index or ``engine.search``), so no mode gains
    from an unlucky float32 timing."""
    rows = speed_result["rows"]
    index32 = {(r["method"], r["m"]): r["median_s"] for r in rows if r["mode"] == "float32"}
    for r in rows:
        base = min(index32[(r["method"], r["m"])], r["engine_s"])
        r["float32_baseline_s"] = base
        r["vs_float32"] = r["median_s"] / base


def modes_summary(recall_rows: list[dict], speed_result: dict) -> list[dict]:
    """One line per default mode: bytes/vector, time ratio (one query and a batch), recall."""
    out = []
    defaults = {r["mode"]: r for r in recall_rows if not r["options"]}
    for mode in MODES:
        timing = {(r["method"], r["m"]): r for r in speed_result["rows"] if r["mode"] == mode}
        ms = sorted({m for _, m in timing})
        out.append(
            {
                "mode": mode,
                "bytes_per_vector": next(
                    r["bytes_per_vector"] for r in speed_result["memory"] if r["mode"] == mode
                ),
                "ms_one_query_cosine": timing[("cosine", ms[0])]["median_s"] * 1e3,
                "vs_float32_one_query": timing[("cosine", ms[0])]["vs_float32"],
                "vs_float32_batch": timing[("cosine", ms[-1])]["vs_float32"],
                "batch": ms[-1],
                "recall_cosine": defaults[mode]["recall_cosine"],
                "recall_min_method": float(
                    np.min([defaults[mode][f"recall_{me}"] for me in METHODS])
                ),
            }
        )
    return out


def hnsw(data: dict, *, repeats: int = 5, k: int = K) -> dict:
    """The approximate mode on the real corpus: build time, memory, recall@k against exact
    search and one-query / batch speed against the prepared exact engine, per method."""
    from core.search._hnsw import HnswIndex, available

    if not available():
        return {"skipped": "faiss-cpu is not installed"}
    corpus, queries = data["corpus"], data["queries"]
    norms = row_norms(corpus)
    index = HnswIndex(corpus)
    rows = []
    for me in METHODS:
        exact, _ = search(corpus, queries, k, me, check_finite=False, corpus_norms=norms)
        approx, _ = index.search(queries, k, me)  # builds this method's graph on first use
        space = getattr(get_metric(me).scorer, "ann_space", me)
        row = {"method": me, "n": int(corpus.shape[0]), "d": int(corpus.shape[1])}
        row["recall"] = float(recall_at_k(approx, exact))
        row["build_s"] = float(index.build_seconds[space])
        for m in (1, min(100, len(queries))):
            q = queries[:m]
            t_exact = time_cell(
                lambda q=q, me=me: search(corpus, q, k, me, check_finite=False, corpus_norms=norms),
                repeats,
            )["median_s"]
            t_hnsw = time_cell(lambda q=q, me=me: index.search(q, k, me), repeats)["median_s"]
            row[f"exact_s_{m}"], row[f"hnsw_s_{m}"] = t_exact, t_hnsw
            row[f"speedup_{m}"] = t_exact / t_hnsw
            log(f"hnsw {me:9s} m={m:<3d} exact {t_exact * 1e3:8.2f} ms hnsw {t_hnsw * 1e3:8.2f} ms")
        rows.append(row)
    graph_bytes = index.nbytes
    return {
        "rows": rows,
        "build_seconds": index.build_seconds,
        "index_bytes": int(graph_bytes),
        "bytes_per_vector": graph_bytes / corpus.shape[0] / len(index.graphs),
        "params": {
            "m": index.m,
            "ef_construction": index.ef_construction,
            "ef_search": index.ef_search,
        },
    }


EF_SWEEP = (128, 256, 512, 1024, 2048, 4096)


def hnsw_at_scale(moments: Moments, *, n: int, d: int, repeats: int = 5, k: int = K) -> dict:
    """The approximate mode at the target's size: one cosine graph over ``n`` rows drawn to
    match the real corpus (queries drawn apart, so none is a copy of a row), its build time
    and memory, recall@k against exact search and the time of 1 and 100 queries against the
    prepared exact engine."""
    from core.search._hnsw import DEFAULT_EF_SEARCH, HnswIndex, available

    if not available():
        return {"skipped": "faiss-cpu is not installed"}
    x = draw(moments, n, d, seed=41)
    queries = draw(moments, 100, d, seed=42)
    norms = row_norms(x)
    index = HnswIndex(x)
    started = time.perf_counter()
    index.graph("cos")
    build_s = time.perf_counter() - started
    log(f"hnsw at n={n:,}: built the cosine graph in {build_s:.1f} s")
    exact, _ = search(x, queries, k, "cosine", check_finite=False, corpus_norms=norms)
    t_exact = {
        m: time_cell(
            lambda m=m: search(x, queries[:m], k, "cosine", check_finite=False, corpus_norms=norms),
            repeats,
        )["median_s"]
        for m in (1, 100)
    }
    # efSearch is the knob that trades speed for recall at query time (no rebuild): sweep it
    # and report the default's row and the smallest efSearch that reaches the target recall.
    sweep = []
    for ef in EF_SWEEP:
        index.ef_search = ef
        approx, _ = index.search(queries, k, "cosine")
        entry = {"ef_search": ef, "recall": float(recall_at_k(approx, exact))}
        for m in (1, 100):
            q = queries[:m]
            t = time_cell(lambda q=q: index.search(q, k, "cosine"), repeats)["median_s"]
            entry[f"hnsw_s_{m}"], entry[f"speedup_{m}"] = t, t_exact[m] / t
        sweep.append(entry)
        log(
            f"hnsw n={n:,} efSearch={ef:<5d} recall {entry['recall']:.3f} "
            f"1 query {entry['hnsw_s_1'] * 1e3:.2f} ms ({entry['speedup_1']:.0f}x)"
        )
        if entry["recall"] >= 0.99:
            break
    met = [e for e in sweep if e["recall"] >= 0.95]
    chosen = met[0] if met else sweep[-1]
    row = {"method": "cosine", "n": n, "d": d, "build_s": build_s, **chosen}
    row["exact_s_1"], row["exact_s_100"] = t_exact[1], t_exact[100]
    index.ef_search = DEFAULT_EF_SEARCH
    graph = index.graphs["cos"]
    # The rows it copies plus level-0 links (2M int32 per node) and the upper levels' few more.
    graph_bytes = int(graph.ntotal * (graph.d * 4 + index.m * 2 * 4 * 1.1))
    return {
        "rows": [row],
        "sweep": sweep,
        "index_bytes": graph_bytes,
        "bytes_per_vector": graph_bytes / n,
        "params": {
            "m": index.m,
            "ef_construction": index.ef_construction,
            "ef_search": row["ef_search"],
        },
    }
