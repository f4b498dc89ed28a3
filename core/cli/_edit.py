"""``add``, ``delete`` and ``export``: change a saved collection (each change an atomic new
version), or write it in another format.

    embedding-workbench add COLLECTION FILE...      parse FILE(s), embed only the new texts
    embedding-workbench delete COLLECTION --id ID   (or --where 'source = "old.csv"')
    embedding-workbench export COLLECTION --format projector --out DIR

``add`` reads files like ``embed`` does (same options), embeds with the collection's own model
through the embedding cache (a text the collection already holds is not embedded again), and
saves. ``delete`` removes documents by id or by a metadata filter. ``search --where`` filters.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import InvalidInputError


def register(subparsers) -> None:
    """Add the ``add`` and ``delete`` subcommands to ``subparsers``."""
    from core.cli._embed import add_cache_and_key_arguments, add_reading_arguments

    add = subparsers.add_parser(
        "add",
        help="add documents from files to a saved collection",
        description="Parse FILE(s), embed the texts the collection does not hold yet with its "
        "own model (cached vectors are not paid for twice) and save a new version.",
    )
    add.add_argument("collection", help="collection directory")
    add.add_argument("files", nargs="+", metavar="FILE", help="input files")
    add_reading_arguments(add)
    add.add_argument("--batch-size", type=int, help="texts per request")
    add.add_argument("--concurrency", type=int, help="requests in flight (remote providers)")
    add_cache_and_key_arguments(add)
    add.add_argument("--dry-run", action="store_true", help="parse and count only")
    add.set_defaults(run=run_add, provider=None, model=None, dimensions=None)

    delete = subparsers.add_parser(
        "delete",
        help="delete documents from a saved collection",
        description="Delete documents by id (--id, repeatable) or by a metadata filter "
        "(--where), and save a new version.",
    )
    delete.add_argument("collection", help="collection directory")
    delete.add_argument("--id", dest="ids", action="append", default=[], metavar="ID")
    delete.add_argument("--where", help="metadata filter, e.g. 'source = \"old.csv\"'")
    delete.add_argument("--dry-run", action="store_true", help="say what would go, change nothing")
    delete.set_defaults(run=run_delete)
    register_export(subparsers)


def register_export(subparsers) -> None:
    """Add the ``export`` subcommand (every format of :data:`core.data.EXPORTS`)."""
    from core.data._formats import EXPORTS

    export = subparsers.add_parser(
        "export",
        help="write a saved collection as one file, or as the TensorFlow Projector's TSVs",
        description="Formats: "
        + "; ".join(f"{f.name}: {f.label}" for f in EXPORTS.values())
        + ". projector writes vectors.tsv and metadata.tsv into the --out folder.",
    )
    export.add_argument("collection", help="collection directory")
    export.add_argument("--format", required=True, choices=list(EXPORTS), dest="export_format")
    export.add_argument("--out", "-o", required=True, help="output file (projector: a folder)")
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.data._collection import Collection
    from core.data._formats import EXPORTS
    from core.data._projector import write_projector

    collection = Collection.load(args.collection)
    out = Path(args.out)
    if args.export_format == "projector":
        if out.exists() and not out.is_dir():
            raise InvalidInputError(f"--out {out} is a file; the Projector export needs a folder")
        paths = write_projector(collection, out)
        print(f"wrote {', '.join(str(p) for p in paths)}: load both at projector.tensorflow.org")
        return 0
    if out.is_dir():
        raise InvalidInputError(
            f"--out {out} is a folder; give a file name like collection.parquet"
        )
    out.write_bytes(EXPORTS[args.export_format].write(collection))
    print(f"wrote {out} ({len(collection):,} documents)")
    return 0


def add_where_argument(parser: argparse.ArgumentParser) -> None:
    """``--where`` (metadata filter) and ``--mmr`` (diversity) for a search subcommand."""
    parser.add_argument(
        "--where",
        help="metadata filter applied before top-k, e.g. 'source = \"faq.csv\" and year >= 2020'",
    )
    parser.add_argument(
        "--mmr",
        type=float,
        metavar="LAMBDA",
        help="re-rank by maximal marginal relevance (1 = relevance only, 0 = most diverse)",
    )


def run_add(args: argparse.Namespace) -> int:
    from core.cli._embed import _cache, check_embedding_args, read_inputs
    from core.data._collection import Collection, describe_spec
    from core.embedding.providers import get_embedder

    check_embedding_args(args)  # it writes to COLLECTION: no --out to check
    collection = Collection.load(args.collection)
    parsed = read_inputs(args)
    known = set(collection.texts)
    new = len({t for t in parsed.texts if t not in known})
    print(
        f"{len(parsed.texts):,} documents to add to {len(collection):,}; {new:,} distinct "
        f"texts are not in the collection yet ({describe_spec(collection.spec)})"
    )
    if args.dry_run:
        return 0
    spec = collection.spec
    embedder = get_embedder(
        provider=spec.provider,
        model=spec.model,
        dimensions=spec.dimensions,
        api_key=args.api_key,
        base_url=args.base_url,
    )
    grown = collection.add(
        parsed.texts,
        embedder,
        metadata=parsed.metadata,
        cache=_cache(args),
        batch_size=args.batch_size,
        concurrency=args.concurrency,
    )
    grown.save(args.collection)
    print(f"saved {len(grown):,} documents to {args.collection} (+{len(parsed.texts):,})")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from core.data._collection import Collection

    if not args.ids and not args.where:
        raise InvalidInputError("say what to delete: --id ID (repeatable) or --where FILTER")
    collection = Collection.load(args.collection)
    rows = set()
    if args.ids:
        rows.update(int(r) for r in collection.rows_of(args.ids))
    if args.where:
        matched = collection.select(args.where)
        if matched.size == 0:
            print(f"no document matches --where {args.where!r}", file=sys.stderr)
        rows.update(int(r) for r in matched)
    ids = [collection.ids[r] for r in sorted(rows)]
    print(f"{len(ids):,} of {len(collection):,} documents {'would go' if args.dry_run else 'go'}")
    if args.dry_run:
        for doc_id in ids:
            print(f"  {doc_id}  {collection.texts[collection.rows_of([doc_id])[0]][:70]}")
    if args.dry_run or not ids:
        return 0
    smaller = collection.delete(ids)
    smaller.save(args.collection)
    print(f"saved {len(smaller):,} documents to {args.collection}")
    return 0
