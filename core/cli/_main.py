"""Command line: ``python -m core info|search|embed ...`` for headless batch jobs.

Exit codes: 0 success, 2 bad input (arguments, files, collections), 1 the provider failed
(rerun to resume), 130 interrupted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap

from core.cli import _edit as cli_edit
from core.data._collection import Collection, CollectionError
from core.errors import EmbeddingJobError, InvalidInputError
from core.search._engine import Metric
from core.search._memory import memory_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="Embedding Workbench: batch text embedding, normalisation and exact search.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="describe a saved collection")
    info.add_argument("collection", help="collection directory")
    info.set_defaults(run=run_info)

    find = sub.add_parser("search", help="search a saved collection with a text query")
    find.add_argument("collection", help="collection directory")
    find.add_argument("query", nargs="+", help="query text (several queries: several arguments)")
    find.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    find.add_argument(
        "--method",
        default="cosine",
        choices=[m.value for m in Metric],
        help="similarity (default cosine; euclidean scores are negative distances)",
    )
    find.add_argument("--api-key", help="OpenAI key (default: OPENAI_API_KEY or .env)")
    find.add_argument("--base-url", help="OpenAI-compatible server (default: OPENAI_BASE_URL)")
    find.set_defaults(run=run_search)
    cli_edit.add_where_argument(find)  # --where, --mmr

    # Subcommands defined in other modules register here.
    from core.cli import _embed as cli_embed

    cli_embed.register(sub)
    cli_edit.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (CollectionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except EmbeddingJobError as exc:  # the provider failed; its message says what to fix
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; finished batches are cached, rerun to resume", file=sys.stderr)
        return 130


def run_info(args) -> int:
    collection = Collection.load(args.collection)
    m = collection.manifest
    lines = [
        f"collection   {args.collection}",
        f"documents    {m.count:,}",
        f"provider     {m.provider}",
        f"model        {m.model}",
        f"dimension    {m.dimension}",
        f"dtype        {m.dtype}",
        f"normalized   {'yes' if m.normalized else 'no'}",
        f"created      {m.created}",
        f"hash         {m.content_hash[:16]}",
        f"metadata     {', '.join(collection.metadata.columns) or '(none)'}",
        "memory       "
        + ", ".join(
            f"{r['dtype']} {r['total_mb']:.2f} MB" for r in memory_table(m.count, m.dimension)
        ),
    ]
    print("\n".join(lines))
    return 0


def run_search(args) -> int:
    from core.embedding.providers import get_embedder

    if args.k < 1:
        raise InvalidInputError(f"-k must be at least 1, got {args.k}")
    for number, query in enumerate(args.query, start=1):
        if not query.strip():
            raise InvalidInputError(
                f"query {number} is empty; give the text to search for, e.g. "
                '"how do I reset my password"'
            )
    collection = Collection.load(args.collection)
    spec = collection.spec
    embedder = get_embedder(
        provider=spec.provider,
        model=spec.model,
        dimensions=spec.dimensions,
        api_key=args.api_key,
        base_url=args.base_url,
    )
    vectors = embedder.embed_documents(list(args.query))
    ids, scores = collection.search(vectors, args.k, args.method, where=args.where, mmr=args.mmr)
    width = shutil.get_terminal_size((100, 20)).columns
    for query, row_ids, row_scores in zip(args.query, ids, scores, strict=True):
        print(f"\nquery: {query}  ({args.method}, top {len(row_ids)})")
        print(format_results(collection, row_ids, row_scores, width))
    return 0


def format_results(collection: Collection, ids, scores, width: int = 100) -> str:
    """A readable table: rank, score, source, text (cut to the terminal width)."""
    meta = collection.metadata
    sources = []
    for i in ids:
        parts = [str(meta.iloc[i][c]) for c in ("source", "location") if c in meta.columns]
        sources.append(" ".join(parts) or f"#{i}")
    src_width = min(max((len(s) for s in sources), default=6), 30)
    header = f"{'rank':>4}  {'score':>8}  {'source':<{src_width}}  text"
    text_width = max(width - len(header) + 4, 20)
    rows = [header, "-" * min(width, len(header) + text_width - 4)]
    for rank, (i, score, source) in enumerate(zip(ids, scores, sources, strict=True), start=1):
        text = " ".join(collection.texts[i].split())
        text = textwrap.shorten(text, text_width, placeholder="…") if text else "(empty)"
        rows.append(f"{rank:>4}  {score:>8.4f}  {source[:src_width]:<{src_width}}  {text}")
    return "\n".join(rows)
