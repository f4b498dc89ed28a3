"""``--cluster local|ADDRESS`` for ``search`` and ``embed``, and searching sharded collections.

``search`` on a sharded collection runs the single-process memory-mapped engine, or, with
``--cluster``, the Dask backend (:mod:`core.distributed`); ``embed --cluster`` runs a distributed
embedding job whose output is a sharded collection (one shard per partition, resumable).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from types import SimpleNamespace

from core.errors import ClusterError, EmbeddingJobError, InvalidInputError, MissingDependencyError

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2
CLUSTER_HELP = (
    "run on a Dask cluster: 'local' starts one on this machine, or a scheduler address such as "
    "tcp://10.0.0.5:8786 (needs the dask extra); default: this process"
)


def add_cluster_option(parser: argparse.ArgumentParser, *, embed: bool = False) -> None:
    """Add ``--cluster`` (and, for ``embed``, the distributed job's options) to ``parser``."""
    parser.add_argument("--cluster", metavar="local|ADDRESS", help=CLUSTER_HELP)
    parser.add_argument("--workers", type=int, help="workers of --cluster local (default: cores)")
    if embed:
        parser.add_argument(
            "--rows-per-shard", type=int, default=10_000,
            help="with --cluster: texts per partition and output shard (default 10000)",
        )  # fmt: skip
        # --rpm / --tpm (the endpoint options) hold for the whole cluster with --cluster.


def wants_cluster_search(args) -> bool:
    from core.data._shards import is_sharded

    return bool(args.cluster) or is_sharded(args.collection)


def _connect(args):
    from core.distributed import connect

    if args.workers is not None and args.workers < 1:
        raise InvalidInputError(f"--workers must be at least 1, got {args.workers}")
    if args.workers is not None and args.cluster != "local":
        raise InvalidInputError("--workers applies to --cluster local only")
    client = connect(args.cluster, n_workers=args.workers)
    n = len(client.scheduler_info(n_workers=-1)["workers"])
    where = (
        "a local Dask cluster" if args.cluster == "local" else f"the Dask cluster at {args.cluster}"
    )
    print(f"running on {where} ({n} worker{'s' if n != 1 else ''})", file=sys.stderr)
    return client


def run_search(args) -> int:
    """``search`` on a sharded collection and/or on a cluster."""
    from core.cli._main import format_results
    from core.data._collection import Collection
    from core.data._shards import ShardedCollection, is_sharded
    from core.embedding.providers import get_embedder

    if args.k < 1:
        raise InvalidInputError(f"-k must be at least 1, got {args.k}")
    for number, query in enumerate(args.query, start=1):
        if not query.strip():
            raise InvalidInputError(f"query {number} is empty; give the text to search for")
    if args.mmr is not None:  # before the queries are embedded (and paid for)
        from core.data._shards import check_mmr

        check_mmr(args.mmr, args.k, None)
    where = args.where
    if where:
        from core.data._filters import parse_where

        where = parse_where(where)  # a syntax error points at the bad part, before any work
    sharded = is_sharded(args.collection)
    collection = (ShardedCollection.open(args.collection) if sharded
                  else Collection.load(args.collection))  # fmt: skip
    spec = collection.spec
    embedder = get_embedder(provider=spec.provider, model=spec.model, dimensions=spec.dimensions,
                            api_key=args.api_key, base_url=args.base_url)  # fmt: skip
    vectors = embedder.embed_documents(list(args.query))
    try:
        client = _connect(args) if args.cluster else None
    except (ClusterError, MissingDependencyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if client is not None:
            from core.distributed import search as search_on_cluster

            ids, scores = search_on_cluster(collection, vectors, args.k, args.method,
                                            client=client, where=where, mmr=args.mmr)  # fmt: skip
        else:
            ids, scores = collection.search(vectors, args.k, args.method, where=where,
                                            mmr=args.mmr)  # fmt: skip
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if client is not None:
            client.close()
    if args.json:
        print(json.dumps(_json(args, collection, sharded, ids, scores), ensure_ascii=False,
                         indent=2))  # fmt: skip
        return 0
    width = shutil.get_terminal_size((100, 20)).columns
    for query, row_ids, row_scores in zip(args.query, ids, scores, strict=True):
        view, local_ids = _rows(collection, row_ids, sharded)
        print(f"\nquery: {query}  ({args.method}, top {len(row_ids)})")
        print(format_results(view, local_ids, row_scores, width))
    return 0


def _json(args, collection, sharded: bool, ids, scores) -> dict:
    """``--json``: per query, its results with global id, score, text and metadata."""
    from core.cli._main import hits_json

    queries = []
    for query, row_ids, row_scores in zip(args.query, ids, scores, strict=True):
        if sharded:
            table = collection.documents_at(row_ids).reset_index(drop=True)
            texts = table.pop("text").astype(str).tolist()
        else:
            table = collection.metadata.iloc[list(map(int, row_ids))].reset_index(drop=True)
            texts = [collection.texts[int(i)] for i in row_ids]
        queries.append({"query": query, "results": hits_json(row_ids, row_scores, texts, table)})
    return {
        "collection": str(args.collection), "method": args.method, "k": args.k,
        "model": collection.spec.model, "cluster": args.cluster, "queries": queries,
    }  # fmt: skip


def _rows(collection, ids, sharded: bool):
    """The hit rows only (a sharded collection reads just the shards holding them)."""
    if not sharded:
        return collection, ids
    table = collection.documents_at(ids).reset_index(drop=True)
    texts = table.pop("text").astype(str).tolist()
    if "source" not in table.columns and "location" not in table.columns:
        table["location"] = [f"#{int(i)}" for i in ids]  # the global row, as the table shows it
    return SimpleNamespace(metadata=table, texts=texts), list(range(len(ids)))


def run_embed(args, parsed) -> int:
    """``embed --cluster``: a distributed embedding job writing a sharded collection."""
    from tqdm import tqdm

    from core.distributed import embed_to_shards
    from core.embedding.providers import default_provider
    from core.embedding.providers._openai import resolve_api_key, resolve_base_url

    for name in ("rows_per_shard", "tpm", "rpm"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.dry_run:
        print(f"{len(parsed.texts):,} documents; --cluster: nothing sent (dry run)")
        return 0
    provider = args.provider or default_provider(args.api_key)
    # Workers may run elsewhere: give them the key and endpoint resolved here.
    api_key = resolve_api_key(args.api_key) if provider == "openai" else None
    base_url = resolve_base_url(args.base_url) if provider == "openai" else None
    try:
        client = _connect(args)
    except (ClusterError, MissingDependencyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    bar = tqdm(total=len(parsed.texts), unit="text", desc="embedding", file=sys.stderr)

    def on_progress(p) -> None:
        bar.update(p.texts_done - bar.n)
        bar.set_postfix(shards=f"{p.shards_done}/{p.n_shards}")

    try:
        result = embed_to_shards(
            parsed.texts, args.out, client=client, provider=provider, model=args.model,
            dimensions=args.dimensions, api_key=api_key, base_url=base_url,
            metadata=parsed.metadata, rows_per_shard=args.rows_per_shard,
            tokens_per_minute=args.tpm, requests_per_minute=args.rpm,
            batch_size=args.batch_size, concurrency=args.concurrency, progress=on_progress,
        )  # fmt: skip
    except (EmbeddingJobError, ClusterError) as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        bar.close()
        client.close()
    print(
        f"saved {len(result.collection):,} vectors ({result.collection.dimension}-d) to "
        f"{args.out} as {result.n_shards} shard(s) ({result.n_skipped} already done): "
        f"{result.n_requests} request(s), {result.tokens_used:,} tokens, {result.elapsed_s:.1f} s"
    )
    return 0


def run_shard(args) -> int:
    """``shard COLLECTION --rows-per-shard N [--out DIR]``."""
    from core.data._shards import shard_collection

    if args.rows_per_shard < 1:
        raise InvalidInputError(f"--rows-per-shard must be at least 1, got {args.rows_per_shard}")
    source = os.path.normpath(args.collection)
    if args.out:
        sharded = shard_collection(source, args.out, args.rows_per_shard)
        where = args.out
    else:  # in place: write beside it, then swap the directories
        parent, name = os.path.split(os.path.abspath(source))
        staging = os.path.join(parent, f".{name}.sharding")
        if os.path.exists(staging):
            shutil.rmtree(staging)  # an earlier, cut-short conversion
        sharded = shard_collection(source, staging, args.rows_per_shard)
        old = os.path.join(parent, f".{name}.unsharded")
        os.replace(source, old)
        os.replace(staging, source)
        shutil.rmtree(old)
        where = source
    print(f"{where}: {len(sharded):,} vectors in {len(sharded.shards)} shard(s) of up to "
          f"{args.rows_per_shard:,} rows")  # fmt: skip
    return 0


def register_shard(subparsers) -> argparse.ArgumentParser:
    """Add the ``shard`` subcommand."""
    p = subparsers.add_parser(
        "shard",
        help="convert a collection into a sharded one (for --cluster and past one machine)",
        description="Rewrite COLLECTION as shards of N rows (vectors .npy + documents Parquet per "
        "shard, one manifest). In place unless --out is given.",
    )
    p.add_argument("collection", help="collection directory")
    p.add_argument("--rows-per-shard", type=int, required=True, metavar="N")
    p.add_argument("--out", help="write the sharded copy here instead (new or empty directory)")
    p.set_defaults(run=run_shard)
    return p
