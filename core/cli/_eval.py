"""``embedding-workbench eval DOCS... --queries q.csv --config ... -k 10 [--json]``.

Which model (dimension, memory mode, metric) retrieves *these* documents best? Embeds the
documents and the labelled queries with every configuration (vectors already in the cache are
not paid for again; the estimate is printed before anything is sent), scores each query and
prints one row per configuration — or, with ``--json``, a JSON array with one object per
configuration (see :func:`core.eval.to_records`).

Exit codes (see :mod:`core.cli`): 0 done, 2 bad input, 1 the provider failed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from core.cli._embed import (
    add_cache_and_key_arguments,
    add_reading_arguments,
    check_reading_args,
    read_inputs,
)
from core.errors import InvalidInputError
from core.search._modes import MODES


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "eval",
        help="compare models, dimensions, memory modes and metrics on labelled queries",
        description=(
            "Score configurations on your documents and labelled queries: recall, precision, "
            "hit rate, MRR, nDCG and MAP at k, with bootstrap confidence intervals, embedding "
            "time, search latency, index memory and cost. A configuration is "
            "PROVIDER[:MODEL][,dim=N][,mode=MODE][,metric=METRIC], e.g. use-multilingual, "
            "sentence-transformers:all-MiniLM-L6-v2,mode=int8 or "
            "openai:text-embedding-3-small,dim=256."
        ),
    )
    p.add_argument(
        "docs",
        nargs="*",
        metavar="DOCS",
        help="document files (.txt .md .csv .jsonl .pdf) or one collection directory",
    )
    p.add_argument("--queries", "-q", metavar="FILE", help="labelled queries (.csv or .jsonl)")
    p.add_argument(
        "--sample",
        action="store_true",
        help="use the built-in bilingual sample corpus and its labelled queries",
    )
    p.add_argument(
        "--config",
        "-c",
        action="append",
        metavar="CONFIG",
        help="a configuration to compare (repeat it; default: use-multilingual)",
    )
    p.add_argument(
        "--mode",
        action="append",
        choices=MODES,
        help="also try every configuration in this memory mode (repeat it)",
    )
    p.add_argument("-k", type=int, default=10, help="cut-off of every metric (default 10)")
    p.add_argument("--id-column", help="CSV column / JSONL key holding each document's id")
    add_reading_arguments(p, chunking=False)  # labels name whole documents, not chunks
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (0)")
    p.add_argument("--json", action="store_true", help="print a JSON array, one per config")
    add_cache_and_key_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="read and estimate only")
    p.set_defaults(run=run_eval)
    return p


def _configs(args):
    from core.eval import parse_config

    configs = [parse_config(text) for text in (args.config or ["use-multilingual"])]
    if not args.mode:
        return configs
    variants = [replace(c, mode=m) for c in configs for m in dict.fromkeys([c.mode, *args.mode])]
    return list({c.label: c for c in variants}.values())


def read_corpus(args):
    """The documents to rank: the sample, a collection directory, or parsed files."""
    from core.eval import EvalCorpus

    if args.sample:
        if args.docs:
            raise InvalidInputError("give DOCS or --sample, not both")
        return EvalCorpus.sample()
    if not args.docs:
        raise InvalidInputError(
            "give the document files (or one collection directory) to evaluate on, or --sample"
        )
    if len(args.docs) == 1 and Path(args.docs[0]).is_dir():
        from core.data._collection import Collection

        collection = Collection.load(args.docs[0])
        meta = collection.metadata
        id_column = args.id_column or ("id" if "id" in meta.columns else None)
        return EvalCorpus.from_frame(
            list(collection.texts), meta, id_column=id_column, name=args.docs[0]
        )
    parsed = read_inputs(args, files=args.docs)
    return EvalCorpus.from_frame(
        parsed.texts, parsed.metadata, id_column=args.id_column, name=", ".join(args.docs)
    )


def _cache(args):
    if args.no_cache and args.cache_dir:
        raise InvalidInputError("--no-cache and --cache-dir contradict each other; pick one")
    if args.no_cache:
        return None
    from core.embedding._cache import EmbeddingCache

    return EmbeddingCache(args.cache_dir) if args.cache_dir else EmbeddingCache()


def run_eval(args: argparse.Namespace) -> int:
    """Run the ``eval`` subcommand; returns the exit code (bad input raises ValueError)."""
    import json

    from core.embedding.providers import get_embedder
    from core.eval import compare, estimate_costs, read_labels, sample_labels, to_records

    if args.k < 1:
        raise InvalidInputError(f"-k must be at least 1, got {args.k}")
    if args.resamples < 1:
        raise InvalidInputError(f"--resamples must be at least 1, got {args.resamples}")
    check_reading_args(args)
    configs = _configs(args)
    corpus = read_corpus(args)
    if args.queries:
        queries = read_labels(args.queries, corpus)
    elif args.sample:
        queries = sample_labels()
    else:
        raise InvalidInputError(
            "give the labelled queries with --queries FILE (.csv or .jsonl with columns "
            "'query' and 'relevant')"
        )
    cache = _cache(args)

    def embedder_for(config):
        provider, model, dimensions = config.embedding_source
        options = {"api_key": args.api_key, "base_url": args.base_url}
        if provider != "openai":
            options = {}
        return get_embedder(provider=provider, model=model, dimensions=dimensions, **options)

    estimates = estimate_costs(corpus, queries, configs, cache=cache, embedder_for=embedder_for)
    print(
        f"{len(corpus):,} documents, {len(queries):,} labelled queries, "
        f"{len(configs)} configuration(s), k={args.k}",
        file=sys.stderr,
    )
    for (provider, _, _), estimate in estimates.items():
        if provider == "openai":
            bound = "" if estimate.exact else " (upper bound)"
            price = estimate.price_text
            about = "about " if price.startswith("$") else ""
            cost = f"{estimate.tokens:,} tokens to send{bound}, {about}{price}"
        else:
            cost = "local model, no cost"
        print(
            f"  {provider} / {estimate.model}: {estimate.n_texts:,} distinct texts not cached; "
            f"{cost}",
            file=sys.stderr,
        )
    if args.dry_run:
        return 0
    comparison = compare(
        corpus,
        queries,
        configs,
        k=args.k,
        cache=cache,
        embedder_for=embedder_for,
        n_resamples=args.resamples,
        seed=args.seed,
        progress=lambda message: print(message, file=sys.stderr),
    )
    for note in comparison.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(to_records(comparison), ensure_ascii=False, indent=2))
    else:
        print(format_comparison(comparison))
    return 0


def format_comparison(comparison) -> str:
    """A readable table: one row per configuration, metrics with their confidence intervals."""
    from core.eval import group_table

    k = comparison.k
    head = ["config", f"recall@{k}", f"mrr@{k}", f"ndcg@{k}", f"map@{k}"]
    head += ["embed s", "ms/query", "index MB", "$/1M tok", "corpus $"]
    rows = []
    for r in comparison.results:
        cells = [r.label]
        for name in ("recall@k", "mrr@k", "ndcg@k", "map@k"):
            low, high = r.ci[name]
            cells.append(f"{r.means[name]:.3f} [{low:.3f}, {high:.3f}]")
        cells += [
            f"{r.embed_s:.2f}",
            f"{r.search_ms_per_query:.3f}",
            f"{r.index_bytes / 2**20:.3f}",
            f"{r.usd_per_million_tokens:.2f}",
            f"{r.corpus_usd:.4f}",
        ]
        rows.append(cells)
    widths = [max(len(str(x)) for x in column) for column in zip(head, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    groups = group_table(comparison, "ndcg@k")
    if not groups.empty:
        lines.append(f"\nndcg@{k} by query group:")
        lines.extend("  " + line for line in groups.round(3).to_string(index=False).splitlines())
    level = round(100 * comparison.confidence)
    lines.append(
        f"\n{len(comparison.queries)} queries; [low, high] is a {level}% bootstrap interval over "
        f"queries ({comparison.n_resamples} resamples)"
    )
    return "\n".join(lines)
