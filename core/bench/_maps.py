"""``python -m core.bench._maps``: time to lay out, cluster and label 10k, 100k and 1M vectors.

Synthetic data with known structure (a mixture of 20 Gaussian topics in 128 dimensions, float32,
with a topic word per text so the labels have something to find), so the sizes are cheap to
make. UMAP and t-SNE lay out a sample (20,000 and 5,000 rows by default) and place the rest by
their neighbours; HDBSCAN clusters at most 50,000 points and gives the rest their nearest
sample's label. Writes ``benchmarks/results/maps.json`` and ``maps.md`` with the machine's load
average, which matters: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from core.bench._env import BLAS_ENV
from core.viz._clusters import ClusterParams
from core.viz._labels import summarise_clusters
from core.viz._layout import LayoutParams, fit_layout, umap_available
from core.viz._maps import cluster_layout

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"


def corpus(n: int, dim: int = 128, topics: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    truth = rng.integers(0, topics, n)
    x = centres[truth] + 0.6 * rng.standard_normal((n, dim), dtype=np.float32)
    texts = [f"topic{t} word{i % 50} common text" for i, t in enumerate(truth)]
    return np.ascontiguousarray(x), texts


def run(sizes, methods) -> dict:
    rows = []
    for n in sizes:
        x, texts = corpus(n)
        for method in methods:
            load = os.getloadavg()
            t0 = time.perf_counter()
            layout = fit_layout(x, LayoutParams(method=method))
            t1 = time.perf_counter()
            ids = cluster_layout(layout, ClusterParams())  # as compute_map
            t2 = time.perf_counter()
            summarise_clusters(texts, ids)
            t3 = time.perf_counter()
            rows.append(
                {
                    "n": n,
                    "method": method,
                    "laid_out": len(layout.fit_rows) if method != "pca" else n,
                    "layout_s": round(t1 - t0, 2),
                    "cluster_s": round(t2 - t1, 2),
                    "label_s": round(t3 - t2, 2),
                    "total_s": round(t3 - t0, 2),
                    "clusters": int(ids.max() + 1),
                    "load_avg_1m_before": round(load[0], 2),
                }
            )
            print(rows[-1], flush=True)
    return {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "dim": 128,
        "rows": rows,
        "note": (
            "The first UMAP row also pays this process's one-off preparation (UMAP's helper "
            "process, with numba's disk cache warm, and the first neighbour search's compiled "
            "code); UMAP's layout time covers both its 2-D and its 10-D run; labels are by "
            "counts (ranking them by a local model adds about 0.1 s per map of 8 clusters); "
            "BLAS variables set for the run: "
            + (
                ", ".join(k for k in BLAS_ENV if k in os.environ)
                or "none of " + " / ".join(BLAS_ENV)
            )
        ),
    }


def figure_sizes(sizes=(10_000, 100_000, 1_000_000)) -> list[dict]:
    """What the browser receives: the map figure's JSON size and the time to build it."""
    from core.viz._map_figure import map_figure

    out = []
    rng = np.random.default_rng(0)
    for n in sizes:
        xy = rng.standard_normal((n, 2)).astype(np.float32)
        texts = [
            f"document {i} about topic {i % 20} with a few more words of text" for i in range(n)
        ]
        cats = [f"cluster {i % 20}" for i in range(n)]
        t0 = time.perf_counter()
        fig = map_figure(xy, texts, categories=cats)
        payload = fig.to_json()
        out.append(
            {
                "n": n,
                "view": "density + 20,000-point sample" if n > 100_000 else "every point (WebGL)",
                "build_s": round(time.perf_counter() - t0, 2),
                "json_mb": round(len(payload) / 2**20, 1),
            }
        )
        print(out[-1], flush=True)
    return out


def markdown(result: dict) -> str:
    lines = [
        "## Maps: layout + clusters + labels",
        "",
        f"Synthetic 20-topic vectors, {result['dim']} dimensions, float32; {result['machine']}; "
        "`python -m core.bench._maps`. UMAP / t-SNE lay out the sampled rows and place the rest "
        "by their 10 nearest laid-out neighbours; HDBSCAN runs on at most 50,000 points.",
        "",
        "| documents | method | laid out | layout s | clusters s | labels s | total s | "
        "clusters | load avg |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['n']:,} | {r['method']} | {r['laid_out']:,} | {r['layout_s']} | "
            f"{r['cluster_s']} | {r['label_s']} | {r['total_s']} | {r['clusters']} | "
            f"{r['load_avg_1m_before']} |"
        )
    lines += ["", result["note"] + ".", ""]
    if result.get("figures"):
        lines += [
            "What the browser receives (map figure JSON, short hover texts):",
            "",
            "| documents | view | build s | JSON MB |",
            "| ---: | --- | ---: | ---: |",
        ]
        for f in result["figures"]:
            lines.append(f"| {f['n']:,} | {f['view']} | {f['build_s']} | {f['json_mb']} |")
        lines.append("")
    first = result.get("first_umap")
    if first:
        lines += [
            "Choosing UMAP on the Map page of a fresh app server (the sample, 72 documents; "
            "`python benchmarks/map_first_umap.py [--fresh-install] [--pause S]`, one run each, "
            "same machine and session):",
            "",
            "| version | click → UMAP map drawn s | server RSS before the Map page MB | "
            "after the UMAP map MB |",
            "| --- | ---: | ---: | ---: |",
        ]
        for r in first["runs"]:
            lines.append(
                f"| {r['version']} | {r['seconds_to_umap_map']} | {r['rss_before_map_mb']} | "
                f"{r['rss_after_umap_mb']} |"
            )
        lines += ["", first["note"], ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m core.bench._maps", description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--methods", nargs="+", default=["pca", "umap", "tsne"])
    p.add_argument(
        "--figures-only", action="store_true", help="only the figure sizes, merged into maps.json"
    )
    args = p.parse_args()
    if args.figures_only:
        result = json.loads((OUT / "maps.json").read_text(encoding="utf-8"))
        result["figures"] = figure_sizes()
        (OUT / "maps.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (OUT / "maps.md").write_text(markdown(result), encoding="utf-8")
        return
    methods = [m for m in args.methods if m != "umap" or umap_available()]
    result = run(args.sizes, methods)
    result["figures"] = figure_sizes()
    previous = OUT / "maps.json"
    if previous.is_file():  # measured in a browser by benchmarks/map_first_umap.py: kept
        kept = json.loads(previous.read_text(encoding="utf-8")).get("first_umap")
        if kept:
            result["first_umap"] = kept
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "maps.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (OUT / "maps.md").write_text(markdown(result), encoding="utf-8")


if __name__ == "__main__":
    main()
