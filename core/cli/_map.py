"""``embedding-workbench map COLLECTION --method pca|umap|tsne --out map.parquet``.

Writes one row per document, in collection order: ``x``, ``y`` (the layout), ``cluster`` (int,
-1 for noise) and ``label`` (the cluster's automatic label), so a notebook draws the same
picture as the dashboard. The result is cached in ``COLLECTION/maps/`` and reused.

When the collection was embedded by a local model (the offline default, sentence-transformers),
that model ranks each cluster's candidate label terms, as on the dashboard; ``--count-labels``
labels by word counts alone (no model is loaded). A remote provider's collection is labelled by
counts: no request is sent for labels.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.data._collection import Collection
from core.errors import InvalidInputError, WorkbenchError
from core.viz._clusters import CLUSTER_METHODS, ClusterParams
from core.viz._layout import LAYOUT_METHODS, LAYOUT_METRICS, LayoutParams, default_neighbours
from core.viz._maps import load_or_compute_map


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "map",
        help="lay out, cluster and label a saved collection (x, y, cluster, label per document)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("collection", help="collection directory")
    p.add_argument("--method", choices=LAYOUT_METHODS, default="pca", help="layout (default pca)")
    p.add_argument("--out", required=True, help="output file: .parquet or .csv")
    p.add_argument(
        "--neighbors", type=int, help="UMAP neighbourhood size (default: 15, less below 120 docs)"
    )
    p.add_argument("--min-dist", type=float, default=0.0, help="UMAP minimum distance (0)")
    p.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity (30)")
    p.add_argument("--metric", choices=LAYOUT_METRICS, default="cosine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--max-exact", type=int, help="lay out at most this many documents; place the rest"
    )
    p.add_argument("--clusters", choices=CLUSTER_METHODS, default="hdbscan")
    p.add_argument("-k", type=int, default=8, help="k-means: number of clusters (8)")
    p.add_argument("--min-cluster-size", type=int, help="HDBSCAN: smallest cluster (~2%%)")
    p.add_argument(
        "--count-labels",
        action="store_true",
        help="label clusters by word counts only, without the collection's local model",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InvalidInputError(f"--out {out}: write a .parquet or .csv file")
    collection = Collection.load(args.collection)
    layout = LayoutParams(
        method=args.method,
        n_neighbors=args.neighbors or default_neighbours(len(collection)),
        min_dist=args.min_dist,
        perplexity=args.perplexity,
        metric=args.metric,
        seed=args.seed,
        max_exact_rows=args.max_exact,
    )
    clusters = ClusterParams(
        method=args.clusters, k=args.k, min_cluster_size=args.min_cluster_size, seed=args.seed
    )

    def progress(message: str, _fraction: float) -> None:
        print(message, file=sys.stderr)

    result, cached = load_or_compute_map(
        collection,
        args.collection,
        layout,
        clusters,
        progress=progress,
        term_embedder=None if args.count_labels else _local_model(collection),
    )
    frame = result.to_frame()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if out.suffix.lower() == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(out)
    if result.layout.note:
        print(result.layout.note, file=sys.stderr)
    print(
        f"{'cached' if cached else 'computed'} {result.layout.used_method} map of "
        f"{len(frame):,} documents -> {out}"
    )
    if result.label_note:
        print(result.label_note, file=sys.stderr)
    print(f"labels by {result.labels_by}")
    for s in result.summaries:
        print(f"  {s.cluster:>4}  {s.size:>7,}  {s.label}")
    return 0


def _local_model(collection: Collection):
    """The collection's own model when it runs on this machine, else None."""
    from core.embedding.providers import embedder_for_collection, provider_info

    try:
        if provider_info(collection.spec.provider).remote:
            return None
        return embedder_for_collection(collection.manifest)
    except (WorkbenchError, ImportError) as exc:
        print(
            f"labels by word counts: the collection's model is not available ({exc})",
            file=sys.stderr,
        )
        return None
