"""``python -m core embed FILE... --out COLLECTION``: parse files, embed them in batches, save.

The job shows what it will send (documents, tokens, dollars) before it starts, a progress bar
while it runs, and a summary at the end. Every finished request lands in the embedding cache
first, so after a crash, Ctrl-C or an exhausted quota the same command resumes and pays only for
what is missing.

Exit codes (see :mod:`core.cli`): 0 done, 2 bad input (files, arguments), 1 the provider failed,
3 storage (``--out`` or the cache full, read-only or not permitted; checked before the job).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli._endpoint_args import add_endpoint_arguments, endpoint_options
from core.data._parsing import DEFAULT_MAX_MB, SPLIT_MODES, SUPPORTED_EXTENSIONS, ParsedDocuments
from core.errors import InvalidInputError

EXIT_BAD_INPUT = 2
EXIT_PROVIDER_FAILED = 1
# Documents read from standard input (FILE "-") are parsed as a text file of this name.
STDIN_NAME = "stdin.txt"
EXIT_STORAGE = 3


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``embed`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "embed",
        help="embed text files into a searchable collection",
        description=(
            "Parse FILE(s) (" + ", ".join(SUPPORTED_EXTENSIONS) + "), embed every document "
            "in batches and save a collection. Rerunning after an interruption resumes: cached "
            "vectors are not paid for twice."
        ),
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="input files ('-' reads text from stdin)"
    )
    p.add_argument("--out", "-o", metavar="COLLECTION", help="output directory (not for --dry-run)")
    p.add_argument("--provider", help="openai, use-multilingual or sentence-transformers")
    p.add_argument("--model", help="model name (default: the provider's default)")
    p.add_argument("--dimensions", type=int, help="shorter vectors (OpenAI -3 models only)")
    p.add_argument("--batch-size", type=int, help="texts per request (default: provider's max)")
    p.add_argument("--concurrency", type=int, help="requests in flight (remote providers)")
    add_reading_arguments(p)
    add_cache_and_key_arguments(p)
    p.add_argument("--dry-run", action="store_true", help="parse and estimate only (no key needed)")
    add_endpoint_arguments(p)
    from core.cli._cluster import add_cluster_option

    add_cluster_option(p, embed=True)  # --cluster: a distributed job writing a sharded collection
    p.set_defaults(run=run_embed)
    return p


def add_reading_arguments(parser: argparse.ArgumentParser, *, chunking: bool = True) -> None:
    """Add the flags that say how to read FILE(s) (:func:`read_inputs` reads them).

    ``embed``, ``add`` and ``eval`` share this one set, so they cannot drift apart.
    ``chunking=False`` leaves out ``--chunk-size``/``--chunk-overlap`` (and defaults them to
    no chunking): ``eval`` labels whole documents by id, which chunks would split.
    """
    parser.add_argument("--split", choices=SPLIT_MODES, default="line", help="unit for .txt/.md")
    parser.add_argument("--text-column", help="CSV/JSONL/JSON/Parquet column holding the text")
    parser.add_argument("--encoding", help="text encoding of the files (default: detected)")
    if chunking:
        parser.add_argument(
            "--chunk-size", type=int, help="cut documents into chunks of N characters"
        )
        parser.add_argument(
            "--chunk-overlap", type=int, default=0, help="characters shared by chunks"
        )
    else:
        parser.set_defaults(chunk_size=None, chunk_overlap=0)
    parser.add_argument(
        "--max-mb",
        type=float,
        default=DEFAULT_MAX_MB,
        help=f"largest file accepted, in MB (default {DEFAULT_MAX_MB:g})",
    )
    parser.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="use the readable files even if some cannot be parsed (default: stop)",
    )


def add_cache_and_key_arguments(parser: argparse.ArgumentParser) -> None:
    """``--no-cache``, ``--cache-dir``, ``--api-key`` and ``--base-url``: the same four flags
    for every subcommand that embeds (``embed``, ``add``, ``eval``)."""
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument("--cache-dir", help="embedding cache folder (default: user cache folder)")
    parser.add_argument("--api-key", help="OpenAI key (default: OPENAI_API_KEY or .env)")
    parser.add_argument("--base-url", help="OpenAI-compatible server (default: OPENAI_BASE_URL)")


def check_reading_args(args: argparse.Namespace) -> None:
    """Reject bad values of the :func:`add_reading_arguments` flags before anything is read."""
    if args.chunk_size is not None and args.chunk_size < 1:
        raise InvalidInputError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.chunk_overlap and args.chunk_size is None:
        raise InvalidInputError("--chunk-overlap needs --chunk-size")
    if args.max_mb <= 0:
        raise InvalidInputError(f"--max-mb must be positive, got {args.max_mb}")


def check_embedding_args(args: argparse.Namespace) -> None:
    """The checks ``embed`` and ``add`` share: the reading flags, batches and the cache."""
    for name in ("batch_size", "concurrency"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    check_reading_args(args)
    if args.no_cache and args.cache_dir:
        raise InvalidInputError("--no-cache and --cache-dir contradict each other; pick one")


def _check_args(args: argparse.Namespace) -> None:
    """``embed``'s checks: the shared ones, then its own flags (--out, --batch-api)."""
    check_embedding_args(args)
    if not args.dry_run and not args.out:
        raise InvalidInputError("--out COLLECTION is required (only --dry-run needs none)")
    if args.batch_api and args.no_cache:
        raise InvalidInputError("--batch-api keeps its results in the cache: drop --no-cache")


def read_inputs(args: argparse.Namespace, files: list[str] | None = None) -> ParsedDocuments:
    """Read and parse every FILE; bad files are reported (and fatal unless --skip-bad-files).

    ``files`` defaults to ``args.files``; ``args`` carries the :func:`add_reading_arguments`.
    """
    from core.data._parsing import ParseError, check_file_size, parse_files

    names = args.files if files is None else files
    max_bytes = int(args.max_mb * 1_000_000)
    contents, too_large = [], []
    for name in names:
        if name == "-":  # documents from standard input, read as a .txt file
            data = sys.stdin.buffer.read(max_bytes + 1)
            try:
                check_file_size(STDIN_NAME, len(data), max_bytes)
            except ParseError as exc:
                too_large.append(exc)
            else:
                contents.append((STDIN_NAME, data))
            continue
        path = Path(name)
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise InvalidInputError(f"{name}: {what}; give the path of a file to embed")
        try:
            check_file_size(name, path.stat().st_size, max_bytes)  # before reading it all
        except ParseError as exc:
            too_large.append(exc)
            continue
        contents.append((name, path.read_bytes()))
    parsed = parse_files(
        contents,
        split=args.split,
        text_column=args.text_column,
        encoding=args.encoding,
        chunk_size=args.chunk_size,
        chunk_overlap=args.chunk_overlap,
        max_bytes=max_bytes,
    )
    errors = too_large + parsed.errors
    for warning in parsed.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors and not args.skip_bad_files:
        raise InvalidInputError(
            f"{len(errors)} of {len(names)} file(s) could not be read (see above); "
            "fix them, or pass --skip-bad-files to embed the others. Nothing was sent."
        )
    if not parsed.texts:
        raise InvalidInputError("no text to embed in the given files. Nothing was sent.")
    return parsed


def _cache(args: argparse.Namespace):
    if args.no_cache:
        return None
    from core.embedding._cache import EmbeddingCache

    cache = EmbeddingCache(args.cache_dir) if args.cache_dir else EmbeddingCache()
    cache.check_writable()  # a read-only or full cache fails now, not after paying
    return cache


def run_embed(args: argparse.Namespace) -> int:
    """Run the ``embed`` subcommand; returns the exit code (bad input raises InvalidInputError)."""
    from tqdm import tqdm

    from core.data import check_save_target
    from core.data._storage import check_writable, collection_bytes, save_failed
    from core.embedding.providers import get_embedder, resolve_provider
    from core.errors import EmbeddingJobError, RetriesExhaustedError, StorageError
    from core.services import embed_collection, plan_embedding

    _check_args(args)
    if not args.dry_run and not args.cluster:  # a cluster job may resume into its directory
        check_save_target(args.out)  # before reading, embedding or paying for anything
        check_writable(args.out)
    provider = resolve_provider(args.provider, args.model, args.api_key, args.base_url)
    options = endpoint_options(args, provider)
    if args.dry_run and provider == "openai":
        options["require_key"] = False  # an estimate needs no key
    parsed = read_inputs(args)
    if args.cluster:
        from core.cli._cluster import run_embed as run_embed_on_cluster

        return run_embed_on_cluster(args, parsed)
    embedder = get_embedder(
        provider=args.provider,  # None: resolved again to ``provider``, and the reason logged
        model=args.model,
        dimensions=args.dimensions,
        api_key=args.api_key,
        base_url=args.base_url,
        **options,
    )
    cache = _cache(args)
    if not args.dry_run:
        check_writable(args.out, collection_bytes(parsed.texts, embedder.dimension))
    plan = plan_embedding(
        parsed.texts, embedder, cache=cache, n_files=parsed.metadata["source"].nunique(),
        batch_api=args.batch_api,
    )  # fmt: skip
    if plan.language_warning:
        print(f"warning: {plan.language_warning}", file=sys.stderr)
    print(plan.describe())
    if args.dry_run:
        return 0
    bar = tqdm(total=len(parsed.texts), unit="text", desc="embedding", file=sys.stderr)

    def on_progress(p) -> None:
        bar.update(p.texts_done - bar.n)
        bar.set_postfix(batch=f"{p.batch_index}/{p.n_batches}", tokens=f"{p.tokens:,}")
        if p.note:  # a retry wait: "waiting 60 s: the server asked for 3600 s"
            bar.set_description(f"embedding ({p.note})", refresh=True)
        elif bar.desc != "embedding":
            bar.set_description("embedding")

    try:
        if args.batch_api:
            _run_batch_api(parsed.texts, embedder, cache, args)
        outcome = embed_collection(
            parsed.texts,
            parsed.metadata,
            embedder,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            cache=cache,
            progress=on_progress,
        )
    except EmbeddingJobError as exc:
        bar.close()  # before the message, so it is not printed onto the bar's line
        print(f"error: {exc}", file=sys.stderr)
        if cache is not None:
            transient = isinstance(exc.__cause__, RetriesExhaustedError)
            first = "the server kept failing" if transient else "fix what is said above"
            print(
                f"{first}, then rerun the same command to resume: finished batches are cached",
                file=sys.stderr,
            )
        return EXIT_STORAGE if isinstance(exc.__cause__, StorageError) else EXIT_PROVIDER_FAILED
    finally:
        bar.close()
    collection, result = outcome.collection, outcome.result
    try:
        collection.save(args.out)
    except OSError as exc:  # the disk filled up or went read-only during the job
        raise save_failed(args.out, exc, cache, len(collection)) from exc
    print(
        f"saved {len(collection):,} vectors ({embedder.dimension}-d) to {args.out}: "
        f"{result.n_requests} request(s), {result.n_cached:,} from cache, "
        f"{result.tokens_used:,} tokens, {result.elapsed_s:.1f} s"
    )
    _report_learnt(embedder, result)
    return 0


def _run_batch_api(texts, embedder, cache, args) -> None:
    """Send what is missing through the Batch API first; the normal path does the rest."""
    from tqdm import tqdm

    from core.embedding.providers._batch_api import run_batch_api

    bar = tqdm(total=None, unit="line", desc="batch", file=sys.stderr)

    def on_poll(p) -> None:
        bar.total = p.total
        bar.update(p.completed + p.failed - bar.n)
        bar.set_postfix(status=p.status, id=p.batch_id)

    def on_created(batch_id: str) -> None:
        print(
            f"batch {batch_id} created; if interrupted, rerun the same command to resume "
            "polling it (it is not paid for twice)",
            file=sys.stderr,
        )

    try:
        out = run_batch_api(
            texts, embedder, cache, state_dir=cache.directory, poll_interval_s=args.poll_interval,
            progress=on_poll, on_created=on_created,
        )  # fmt: skip
    finally:
        bar.close()
    if out.n_texts:
        resumed = " (resumed)" if out.resumed else ""
        print(
            f"Batch API{resumed}: {out.n_answered:,} of {out.n_texts:,} texts answered "
            f"({', '.join(out.statuses)}) in {out.elapsed_s:.1f} s; "
            f"{out.n_left:,} left for the normal path",
            file=sys.stderr,
        )


def _report_learnt(embedder, result) -> None:
    """Say what was learnt from the server, so the next run can state it."""
    notes = []
    if getattr(embedder, "dimension_source", "") == "server":
        notes.append(f"dimension {embedder.dimension} learnt from the server (--dimension)")
    if getattr(embedder, "encoding_learnt", False):
        notes.append("the server answers float arrays only (base64 refused)")
    if getattr(embedder, "working_batch", None):
        notes.append(f"the server took at most {embedder.working_batch} texts (--max-inputs)")
    for name, value in result.learnt_limits.items():
        flag = "--rpm" if name == "requests_per_minute" else "--tpm"
        notes.append(f"{name.replace('_', ' ')} {value:,} from the server's headers ({flag})")
    for note in notes:
        print(f"note: {note}")
