"""Embedding throughput: local providers, the OpenAI path under latency and a TPM limit, RPM and
TPM limits together, and the Batch API path.

    python -m core.bench._embedding            # about 3-4 minutes on 2 cores

Writes ``benchmarks/results/embedding.json`` and ``benchmarks/results/EMBEDDING.md``.

1. Local providers (``use-multilingual``, ``sentence-transformers`` when installed) embed a fixed
   synthetic bilingual corpus through :func:`core.embedding.embed_texts` (cache off).
2. The OpenAI path runs against the project's own server (``python -m core.server`` in a
   separate process) with 200 ms latency per request and a tokens-per-minute limit it enforces
   with 429 + Retry-After over a sliding minute:

   - the tutorial's loop: batches of 100 sent one after another with
     ``client.embeddings.create(...)``;
   - this engine: ``embed_texts`` with 4 requests in flight and the TPM pacer;
   - this engine without the pacer, to show what the limit does to a job that ignores it.

   - this engine against a server enforcing RPM and TPM together, told both limits, then
     learning them from the server's ``x-ratelimit-*`` headers;
   - the Batch API path end to end (no latency), beside the normal path.

   Each run gets a fresh server (an empty rate-limit window); the server's own counters (accepted
   tokens, 429s) are read over HTTP. Utilisation = accepted tokens per second / (limit / 60).
"""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import openai

from core.bench._timing import measure
from core.embedding._batching import embed_texts
from core.embedding._tokens import token_counter

# Relative to the working directory: benchmarks run from the repository root.
RESULTS_DIR = Path("benchmarks") / "results"
SEED = 20_240_601
MODEL = "text-embedding-3-small"
DIMENSIONS = 256  # same for every OpenAI-path run; keeps 160k result vectors in memory small
LATENCY_MS = 200
TPM = 3_000_000
CONCURRENCY = 4
N_LOCAL = 1_000
N_SEQUENTIAL = 10_000
ENGINE_SECONDS = 65  # long enough to cross the 60 s window: the limit really binds
API_KEY = "sk-bench-local-000000"
TUTORIAL_BATCH = 100
# RPM + TPM run: 300 requests of 100 texts (about 2,600 tokens) a minute is 13k tokens/s, under
# the 900k tokens a minute (15k/s): the request limit binds, the token limit is close.
LIMITS_RPM = 300
LIMITS_TPM = 900_000
LIMITS_BATCH = 100
LIMITS_SECONDS = 65
N_BATCH_API = 20_000

_EN_WORDS = (
    "vector embedding search batch model query document cosine distance normalise matrix numpy "
    "token request latency cache retry server client dashboard corpus index memory float python "
    "semantic similar nearest neighbour cluster language english chinese benchmark throughput"
)
_ZH_WORDS = (
    "向量 嵌入 检索 批量 模型 查询 文档 余弦 距离 矩阵 缓存 语义 相似 聚类 语言 中文 英文 基准"
)
_EN, _ZH = tuple(_EN_WORDS.split()), tuple(_ZH_WORDS.split())


def make_corpus(n: int, seed: int = SEED) -> list[str]:
    """``n`` distinct synthetic sentences, 8-24 words, about one in four Chinese."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        words = _ZH if rng.random() < 0.25 else _EN
        sep = "" if words is _ZH else " "
        body = sep.join(rng.choice(words) for _ in range(rng.randint(8, 24)))
        texts.append(f"{body} #{i}")
    return texts


class ServerProcess:
    """``python -m core.server`` in a child process (its own GIL, like a real service)."""

    def __init__(
        self,
        tokens_per_minute: int | None,
        *,
        requests_per_minute: int | None = None,
        headers: bool = False,
        latency_ms: float = LATENCY_MS,
    ) -> None:
        cmd = [sys.executable, "-m", "core.server", "--port", "0", "--api-key", API_KEY]
        cmd += ["--latency-ms", str(latency_ms)]
        if tokens_per_minute is not None:
            cmd += ["--tpm", str(tokens_per_minute)]
        if requests_per_minute is not None:
            cmd += ["--rpm", str(requests_per_minute)]
        if headers:
            cmd += ["--rate-limit-headers"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip().removeprefix("OPENAI_BASE_URL=")

    def stats(self) -> dict:
        url = self.base_url.removesuffix("/v1") + "/_workbench/stats"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_KEY}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def bench_local(texts: list[str], n_tokens: int) -> list[dict]:
    try:
        from core.embedding.providers import get_embedder
    except ImportError:  # registry not there yet: the offline default directly
        get_embedder = None
    rows = []
    for provider in ("use-multilingual", "sentence-transformers"):
        try:
            if get_embedder is not None:
                embedder = get_embedder(provider)
            else:
                from core.embedding.providers._local import UseMultilingualEmbedder

                if provider != "use-multilingual":
                    raise ImportError("no provider registry")
                embedder = UseMultilingualEmbedder()
        except (ImportError, ValueError) as exc:
            rows.append({"provider": provider, "skipped": str(exc)})
            continue
        timing = measure(lambda e=embedder: embed_texts(texts, e, cache=None), repeats=3)
        rows.append(
            {
                "provider": provider,
                "model": embedder.spec.model,
                "dimension": embedder.dimension,
                "n_texts": len(texts),
                "median_s": round(timing.median_s, 3),
                "texts_per_s": round(len(texts) / timing.median_s, 1),
                "cl100k_tokens_per_s": round(n_tokens / timing.median_s, 1),
            }
        )
        print(f"  {provider}: {rows[-1]['texts_per_s']} texts/s", flush=True)
    return rows


def _openai_row(name: str, n_texts: int, seconds: float, before: dict, after: dict) -> dict:
    tokens = after["tokens_accepted"] - before["tokens_accepted"]
    by_status = after["by_status"]
    return {
        "run": name,
        "n_texts": n_texts,
        "elapsed_s": round(seconds, 2),
        "texts_per_s": round(n_texts / seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1),
        "requests": after["requests"] - before["requests"],
        "http_429": by_status.get("429", 0),
        "max_in_flight": after["max_in_flight"],
        "tpm_utilisation": round(tokens / seconds / (TPM / 60), 3),
    }


def bench_tutorial_loop(texts: list[str]) -> dict:
    with ServerProcess(TPM) as server:
        client = openai.OpenAI(api_key=API_KEY, base_url=server.base_url)
        vectors: list[list[float]] = []

        def loop() -> None:
            for start in range(0, len(texts), TUTORIAL_BATCH):
                batch = texts[start : start + TUTORIAL_BATCH]
                response = client.embeddings.create(input=batch, model=MODEL, dimensions=DIMENSIONS)
                vectors.extend(item.embedding for item in response.data)

        before = server.stats()
        timing = measure(loop, repeats=1, warmup=0)
        row = _openai_row("tutorial loop (batches of 100, sequential)", len(texts),
                          timing.median_s, before, server.stats())  # fmt: skip
        assert len(vectors) == len(texts)
    return row


def bench_engine(texts: list[str], *, paced: bool) -> dict:
    from core.embedding.providers._openai import make_openai_embedder

    with ServerProcess(TPM) as server:
        embedder = make_openai_embedder(
            MODEL, DIMENSIONS, api_key=API_KEY, base_url=server.base_url, timeout=30,
            tokens_per_minute=TPM if paced else None,
        )  # fmt: skip
        results = []
        before = server.stats()
        timing = measure(
            lambda: results.append(
                embed_texts(texts, embedder, cache=None, concurrency=CONCURRENCY, max_retries=10)
            ),
            repeats=1,
            warmup=0,
        )
        name = f"engine (concurrency {CONCURRENCY}, {'TPM pacer' if paced else 'no pacer'})"
        row = _openai_row(name, len(texts), timing.median_s, before, server.stats())
        row["engine_retries"] = results[0].n_retries
        assert results[0].vectors.shape == (len(texts), DIMENSIONS)
    return row


def bench_rpm_tpm(texts: list[str], *, from_headers: bool) -> dict:
    """A server enforcing RPM and TPM together; the engine told both, or learning them from
    the server's x-ratelimit headers."""
    from core.embedding.providers._openai import make_openai_embedder

    with ServerProcess(LIMITS_TPM, requests_per_minute=LIMITS_RPM, headers=True) as server:
        settings = {} if from_headers else {
            "tokens_per_minute": LIMITS_TPM, "requests_per_minute": LIMITS_RPM,
        }  # fmt: skip
        embedder = make_openai_embedder(
            MODEL, DIMENSIONS, api_key=API_KEY, base_url=server.base_url, timeout=30, **settings
        )
        results = []
        before = server.stats()
        timing = measure(
            lambda: results.append(
                embed_texts(
                    texts,
                    embedder,
                    cache=None,
                    concurrency=CONCURRENCY,
                    max_retries=10,
                    batch_size=LIMITS_BATCH,
                )
            ),
            repeats=1,
            warmup=0,
        )
        after = server.stats()
    seconds = timing.median_s
    tokens = after["tokens_accepted"] - before["tokens_accepted"]
    accepted = after["by_status"].get("200", 0) - before["by_status"].get("200", 0)
    how = "learnt from x-ratelimit headers" if from_headers else "RPM + TPM settings"
    return {
        "run": f"engine, {how}",
        "n_texts": len(texts),
        "elapsed_s": round(seconds, 2),
        "texts_per_s": round(len(texts) / seconds, 1),
        "requests": accepted,
        "http_429": after["by_status"].get("429", 0),
        "rpm_share": round(accepted / seconds / (LIMITS_RPM / 60), 3),
        "tpm_share": round(tokens / seconds / (LIMITS_TPM / 60), 3),
        "learnt": results[0].learnt_limits,
    }


def bench_batch_api(texts: list[str]) -> dict:
    """The Batch API path end to end on the local server (no latency): JSONL, upload, batch,
    poll, download, assemble from the cache; and the normal path on the same server."""
    import tempfile

    from core.embedding._cache import EmbeddingCache
    from core.embedding.providers._batch_api import run_batch_api
    from core.embedding.providers._openai import make_openai_embedder

    with ServerProcess(None, latency_ms=0) as server, tempfile.TemporaryDirectory() as tmp:
        embedder = make_openai_embedder(
            MODEL, DIMENSIONS, api_key=API_KEY, base_url=server.base_url, timeout=60
        )
        cache = EmbeddingCache(Path(tmp) / "batch")
        out = {}

        def batch_path() -> None:
            out["batch"] = run_batch_api(texts, embedder, cache, poll_interval_s=0.25)
            out["result"] = embed_texts(texts, embedder, cache=cache)

        batch_timing = measure(batch_path, repeats=1, warmup=0)
        direct = EmbeddingCache(Path(tmp) / "direct")
        direct_timing = measure(
            lambda: embed_texts(texts, embedder, cache=direct, concurrency=CONCURRENCY),
            repeats=1, warmup=0,
        )  # fmt: skip
        cache.close()
        direct.close()
        assert out["result"].n_cached == len(texts) and out["result"].n_requests == 0
    return {
        "n_texts": len(texts),
        "batch_api_s": round(batch_timing.median_s, 2),
        "batch_lines": (len(texts) + 2047) // 2048,
        "normal_path_s": round(direct_timing.median_s, 2),
        "poll_interval_s": 0.25,
    }


def write_markdown(report: dict, path: Path) -> None:
    local = report["local"]
    runs = report["openai_path"]["runs"]
    lines = [
        "# Embedding throughput",
        "",
        f"Measured {report['date']} on {report['machine']['cpus']} CPUs "
        f"(load average at start {report['machine']['load_avg_1m']}), "
        "`python -m core.bench._embedding`. "
        f"Token counts: {report['corpus']['token_method']}.",
        "",
        f"Corpus: {report['corpus']['n_texts']} synthetic bilingual sentences, "
        f"{report['corpus']['avg_tokens']} cl100k tokens on average.",
        "",
        "## Local providers (embed_texts, cache off)",
        "",
        "| provider | model | dim | texts | median s | texts/s | cl100k tokens/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in local:
        if "skipped" in row:
            lines.append(f"| {row['provider']} | skipped: {row['skipped']} | | | | | |")
        else:
            lines.append(
                f"| {row['provider']} | {row['model']} | {row['dimension']} | {row['n_texts']} | "
                f"{row['median_s']} | {row['texts_per_s']} | {row['cl100k_tokens_per_s']} |"
            )
    server = report["openai_path"]["server"]
    lines += [
        "",
        "## OpenAI path against the local server",
        "",
        f"Server: {server['latency_ms']} ms per request, limit {server['tokens_per_minute']:,} "
        f"tokens per sliding minute (429 + Retry-After), {MODEL} at {DIMENSIONS} dimensions.",
        "",
        "| run | texts | s | texts/s | tokens/s | requests | 429s | max in flight | TPM used |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['run']} | {r['n_texts']} | {r['elapsed_s']} | {r['texts_per_s']} | "
            f"{r['tokens_per_s']} | {r['requests']} | {r['http_429']} | {r['max_in_flight']} | "
            f"{r['tpm_utilisation']:.1%} |"
        )
    goals = report["openai_path"]["goals"]
    lines += [
        "",
        f"- Engine with pacer vs tutorial loop: **{goals['speedup_vs_tutorial']}x** texts/s "
        f"(goal >= 4x: {'met' if goals['speedup_met'] else 'NOT met'}).",
        f"- TPM limit used by the paced engine: **{goals['tpm_utilisation']:.1%}** "
        f"(goal >= 90 %: {'met' if goals['utilisation_met'] else 'NOT met'}).",
        f"- Without the pacer the engine spent the sliding minute's budget at once, got "
        f"{runs[2]['http_429']} 429s (the pacer: {runs[1]['http_429']}) and waited out their "
        "Retry-After; the shared Retry-After gate pauses every worker, so a 429 does not turn "
        "into a storm. Over a run this short it can beat 100 % only because a sliding-window "
        "limiter lets the first minute's budget go in a burst; the pacer holds a steady rate "
        "just under the limit instead.",
        "- Local-provider numbers are CPU-bound and sensitive to other load on the machine "
        "(load average above).",
        "",
    ]
    limits = report.get("rpm_tpm")
    if limits:
        lines += [
            "## RPM and TPM limits together",
            "",
            f"Measured {limits.get('date', report['date'])} (load average at start "
            f"{limits.get('load_avg_1m', report['machine']['load_avg_1m'])}). "
            f"Server: {LATENCY_MS} ms per request, {limits['rpm']:,} requests and "
            f"{limits['tpm']:,} tokens per sliding minute (429 + Retry-After), x-ratelimit "
            f"headers on every answer; batches of {LIMITS_BATCH} texts, {CONCURRENCY} in flight. "
            "Share = accepted per second / (limit / 60).",
            "",
            "| run | texts | s | texts/s | requests | 429s | RPM share | TPM share | learnt |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in limits["runs"]:
            learnt = ", ".join(f"{k} {v:,}" for k, v in r["learnt"].items()) or "-"
            lines.append(
                f"| {r['run']} | {r['n_texts']} | {r['elapsed_s']} | {r['texts_per_s']} | "
                f"{r['requests']} | {r['http_429']} | {r['rpm_share']:.1%} | "
                f"{r['tpm_share']:.1%} | {learnt} |"
            )
        lines += [
            "",
            "- The request limit binds first here (each request carries about "
            f"{limits['tokens_per_request']:,} tokens); both pacers run at once and neither "
            "limit is exceeded. A share below the pacers' 98 % target is time the client "
            "spent elsewhere (parsing, planning, other load: see the load average), not waiting "
            "on a pacer.",
            "",
        ]
    batch = report.get("batch_api")
    if batch:
        lines += [
            "## Batch API path on the local server",
            "",
            f"Measured {batch.get('date', report['date'])} (load average at start "
            f"{batch.get('load_avg_1m', report['machine']['load_avg_1m'])}). "
            f"{batch['n_texts']:,} texts in {batch['batch_lines']} JSONL lines, no latency, "
            f"polled every {batch['poll_interval_s']} s: write, upload, create, poll, download, "
            "then assemble from the cache in input order.",
            "",
            "| path | texts | end-to-end s |",
            "|---|---:|---:|",
            f"| Batch API (`--batch-api`) | {batch['n_texts']} | {batch['batch_api_s']} |",
            f"| normal path, {CONCURRENCY} in flight | {batch['n_texts']} | "
            f"{batch['normal_path_s']} |",
            "",
            "- On OpenAI a batch completes within 24 h at about half the price; the local server "
            "runs it at once, so this measures the client's own overhead (JSONL, upload, "
            "download, decoding, cache), not OpenAI's queue.",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _measure_limits(report: dict, corpus: list[str], counts: list[int]) -> None:
    n_limits = int(LIMITS_RPM / 60 * LIMITS_SECONDS * LIMITS_BATCH)
    limit_runs = []
    stamp = _stamp()
    for from_headers in (False, True):
        print(f"RPM + TPM, from_headers={from_headers}...", flush=True)
        limit_runs.append(bench_rpm_tpm(corpus[:n_limits], from_headers=from_headers))
        print(f"  {limit_runs[-1]}", flush=True)
    report["rpm_tpm"] = {
        "rpm": LIMITS_RPM, "tpm": LIMITS_TPM, "runs": limit_runs,
        "tokens_per_request": round(sum(counts[:LIMITS_BATCH])), **stamp,
    }  # fmt: skip
    print("Batch API...", flush=True)
    report["batch_api"] = {**bench_batch_api(corpus[:N_BATCH_API]), **_stamp()}
    print(f"  {report['batch_api']}", flush=True)


def _limits_only() -> None:
    """Re-measure the RPM + TPM and Batch API sections; keep the rest of the last report."""
    path = RESULTS_DIR / "embedding.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    counter = token_counter()
    corpus = make_corpus(report["corpus"]["n_texts"])
    n = max(int(LIMITS_RPM / 60 * LIMITS_SECONDS * LIMITS_BATCH), N_BATCH_API)
    _measure_limits(report, corpus, counter.count_many(corpus[:n]))
    _atomic_write(
        path, lambda p: p.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    )
    _atomic_write(RESULTS_DIR / "EMBEDDING.md", lambda p: write_markdown(report, p))
    print(f"wrote {path} and EMBEDDING.md", flush=True)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _stamp() -> dict:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=("all", "limits"),
        default="all",
        help="limits: measure only the RPM + TPM and Batch API sections, keeping the others "
        "from the last full run in embedding.json",
    )
    if parser.parse_args(argv).only == "limits":
        _limits_only()
        return
    counter = token_counter()
    sample = counter.count_many(make_corpus(2_000))
    # Enough texts for the paced engine to run about ENGINE_SECONDS at the limit.
    corpus = make_corpus(int(TPM / 60 * ENGINE_SECONDS / (sum(sample) / len(sample))))
    counts = counter.count_many(corpus)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "corpus": {
            "n_texts": len(corpus),
            "avg_tokens": round(sum(counts) / len(counts), 1),
            "token_method": counter.method,
        },
    }
    print("local providers...", flush=True)
    report["local"] = bench_local(corpus[:N_LOCAL], sum(counts[:N_LOCAL]))
    print("tutorial loop...", flush=True)
    runs = [bench_tutorial_loop(corpus[:N_SEQUENTIAL])]
    print(f"  {runs[-1]}", flush=True)
    for paced in (True, False):
        print(f"engine, pacer={paced}...", flush=True)
        runs.append(bench_engine(corpus, paced=paced))
        print(f"  {runs[-1]}", flush=True)
    _measure_limits(report, corpus, counts)
    speedup = runs[1]["texts_per_s"] / runs[0]["texts_per_s"]
    report["openai_path"] = {
        "server": {"latency_ms": LATENCY_MS, "tokens_per_minute": TPM, "dimensions": DIMENSIONS},
        "runs": runs,
        "goals": {
            "speedup_vs_tutorial": round(speedup, 2),
            "speedup_met": speedup >= 4,
            "tpm_utilisation": runs[1]["tpm_utilisation"],
            "utilisation_met": runs[1]["tpm_utilisation"] >= 0.9,
        },
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    _atomic_write(
        RESULTS_DIR / "embedding.json",
        lambda p: p.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
    )
    _atomic_write(RESULTS_DIR / "EMBEDDING.md", lambda p: write_markdown(report, p))
    print(f"wrote {RESULTS_DIR / 'embedding.json'} and EMBEDDING.md", flush=True)


if __name__ == "__main__":
    main()
