"""The command line, ``embedding-workbench`` (or ``python -m core``): info, search, embed, ….

A thin front end: it parses arguments, calls :mod:`core.services` and the library, and prints.
Human-readable output by default; ``--json`` (``info``, ``search``) prints one JSON document on
stdout, with messages on stderr.

Exit codes: :data:`EXIT_OK` 0 success, :data:`EXIT_PROVIDER_FAILED` 1 the provider failed (rerun
to resume), :data:`EXIT_BAD_INPUT` 2 bad input (arguments, files, collections),
:data:`EXIT_STORAGE` 3 storage (disk full, read-only, no permission; the vectors are cached),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM; handled like Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import textwrap

from core import __version__
from core.cli import _edit as cli_edit
from core.cli._embed import EXIT_STORAGE
from core.cli._signals import interrupted_exit, terminate_as_interrupt
from core.data import Collection
from core.errors import EmbeddingJobError, InvalidInputError, StorageError, WorkbenchError
from core.search import memory_table
from core.search._metrics import metric_names
from core.surface import set_surface

EXIT_OK = 0
EXIT_PROVIDER_FAILED = 1
EXIT_BAD_INPUT = 2
PROG = "embedding-workbench"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Embedding Workbench: batch text embedding, normalisation and exact search.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="describe a saved collection")
    info.add_argument("collection", help="collection directory")
    info.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    info.set_defaults(run=run_info)

    find = sub.add_parser("search", help="search a saved collection with a text query")
    find.add_argument("collection", help="collection directory")
    find.add_argument("query", nargs="+", help="query text (several queries: several arguments)")
    find.add_argument("-k", type=int, default=10, help="results per query (default 10)")
    find.add_argument(
        "--method",
        default="cosine",
        choices=metric_names(),
        help="metric (default cosine; a distance's scores are its negatives)",
    )
    find.add_argument("--api-key", help="OpenAI key (default: OPENAI_API_KEY or .env)")
    find.add_argument("--base-url", help="OpenAI-compatible server (default: OPENAI_BASE_URL)")
    find.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    find.set_defaults(run=run_search)
    cli_edit.add_where_argument(find)  # --where, --mmr

    # Subcommands defined in other modules register here.
    from core.cli import _cluster as cli_cluster
    from core.cli import _embed as cli_embed
    from core.cli import _eval as cli_eval
    from core.cli import _map as cli_map

    cli_cluster.add_cluster_option(find)
    cli_embed.register(sub)
    cli_eval.register(sub)
    cli_cluster.register_shard(sub)
    cli_map.register(sub)
    cli_edit.register(sub)
    return parser


class _StderrHandler(logging.Handler):
    """Log records as plain lines on the current ``sys.stderr`` (looked up at each record)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _say_provider_choice_on_stderr() -> None:
    """Show the providers package's INFO line (which provider and model, and why) on stderr."""
    logger = logging.getLogger("core.embedding.providers")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _say_provider_choice_on_stderr()
    set_surface("cli")  # messages from core name --flags, not the app's boxes
    try:
        with terminate_as_interrupt():
            return args.run(args) or EXIT_OK
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except (InvalidInputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (EmbeddingJobError, WorkbenchError) as exc:  # the provider failed; says what to fix
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORAGE if isinstance(exc.__cause__, StorageError) else EXIT_PROVIDER_FAILED
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see core.cli._signals)
        code, message = interrupted_exit(exc)
        print(message, file=sys.stderr)
        return code


def run_info(args) -> int:
    collection = Collection.load(args.collection)
    m = collection.manifest
    memory = memory_table(m.count, m.dimension)
    if args.json:
        document = {
            "collection": str(args.collection),
            "documents": m.count,
            "provider": m.provider,
            "model": m.model,
            "dimension": m.dimension,
            "dtype": m.dtype,
            "normalized": bool(m.normalized),
            "created": m.created,
            "content_hash": m.content_hash,
            "metadata_columns": list(collection.metadata.columns),
            "memory_mb": {r["dtype"]: round(float(r["total_mb"]), 4) for r in memory},
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return EXIT_OK
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
        "memory       " + ", ".join(f"{r['dtype']} {r['total_mb']:.2f} MB" for r in memory),
    ]
    print("\n".join(lines))
    return EXIT_OK


def run_search(args) -> int:
    from core.cli import _cluster as cli_cluster
    from core.embedding.providers import embedder_for_collection
    from core.services import check_queries
    from core.services import run_search as search_collection

    if cli_cluster.wants_cluster_search(args):  # --cluster, or a sharded collection
        return cli_cluster.run_search(args)

    if args.k < 1:
        raise InvalidInputError(f"-k must be at least 1, got {args.k}")
    queries = check_queries(args.query)
    collection = Collection.load(args.collection)
    # The collection's model, dimension and query prefix (asymmetric models).
    embedder = embedder_for_collection(
        collection.manifest, api_key=args.api_key, base_url=args.base_url
    )
    # Paid query vectors are cached like documents; local ones are cheaper to recompute.
    query_cache = "default" if embedder.limits.remote else None
    report = search_collection(
        collection, queries, embedder, method=args.method, k=args.k, query_cache=query_cache,
        where=args.where, mmr=args.mmr,
    )  # fmt: skip
    if args.json:
        print(json.dumps(search_json(collection, report), ensure_ascii=False, indent=2))
        return EXIT_OK
    width = shutil.get_terminal_size((100, 20)).columns
    for query, row_ids, row_scores in zip(report.queries, report.ids, report.scores, strict=True):
        print(f"\nquery: {query}  ({args.method}, top {len(row_ids)})")
        print(format_results(collection, row_ids, row_scores, width))
    return EXIT_OK


def search_json(collection: Collection, report) -> dict:
    """A search report as one JSON-ready dict: per query, its results with text and metadata."""
    results = []
    for query, row_ids, row_scores in zip(report.queries, report.ids, report.scores, strict=True):
        table = collection.metadata.iloc[list(map(int, row_ids))].reset_index(drop=True)
        texts = [collection.texts[int(i)] for i in row_ids]
        results.append({"query": query, "results": hits_json(row_ids, row_scores, texts, table)})
    return {
        "collection": collection.manifest.content_hash,
        "method": report.method,
        "k": report.k,
        "model": collection.manifest.model,
        "search_ms": round(report.search_ms, 3),
        "queries": results,
    }


def hits_json(row_ids, row_scores, texts: list[str], table) -> list[dict]:
    """One query's results for ``--json``: rank, id, score, text and metadata, best first
    (``texts`` and the rows of ``table`` in the same order as the ids)."""
    return [
        {
            "rank": rank,
            "id": int(i),
            "score": float(score),
            "text": texts[rank - 1],
            "metadata": {c: _jsonable(table.iloc[rank - 1][c]) for c in table.columns},
        }
        for rank, (i, score) in enumerate(zip(row_ids, row_scores, strict=True), start=1)
    ]


def _jsonable(value):
    if hasattr(value, "item"):  # NumPy scalars
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN: a missing value
        return None
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


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
