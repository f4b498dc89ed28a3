"""Standing notes for BENCHMARKS.md, and the explanation printed under each missed target."""

from __future__ import annotations

NOTES = [
    "The machine has 2 cores, shared during the run with other work (browser tests, a Streamlit "
    "server, test suites: see the load average above); the benchmark ran under `nice`. "
    "Time-sliced cores inflate single timings by up to a scheduler quantum (~10 ms) and hit "
    "multi-threaded code hardest: FAISS's OpenMP threads spin and wait on each other, and so "
    "do OpenBLAS's. Medians of up to 5 calls damp this, but small cells remain noisy.",
    "How the engine searches (`core.kernels.scan`): the corpus is split into one row range per "
    "core; each worker scores cache-sized blocks with a single-threaded BLAS call into a reused "
    "buffer and keeps, per query, the running k-th best score: only scores above it leave the "
    "block (one compare per score, instead of an `argpartition` over every score), and the "
    "few survivors are merged by sorting. BLAS and NumPy release the GIL, so both cores work "
    "on the GEMM and on the selection.",
    "`engine` is `core.engine.search` as `Collection.search` calls it: the corpus was validated "
    "and its norms computed once (as FAISS's `add` copies the vectors once). `engine one-shot` "
    "is a bare `search(corpus, queries)` call, which also checks every value for NaN/inf and "
    "computes the norms: two more passes over the matrix on one core.",
    "FAISS: `IndexFlatIP` for cosine (unit rows, queries normalised per call) and dot, "
    "`IndexFlatL2` for euclidean; faiss-cpu ships its own OpenBLAS and OpenMP. Below 20 "
    "queries FAISS scans the matrix once per query (its SIMD loop), from 20 on it uses BLAS.",
    "The tutorial contender is its code pattern (score everything, full `argsort`, a broadcast "
    "`documents - query` for euclidean) one query at a time; its Python loop runs only for one "
    "query up to 100k documents. Cells estimated above 20 s per call, or that would not fit in "
    "memory, are skipped and listed at the end.",
    "Floors: the streaming floor is the fastest full read of the matrix found (a NumPy "
    "reduction on one core or on each core, or a BLAS matrix-vector product with a ones "
    "vector); the compute floor is the faster of one bare BLAS `x @ queries.T` into a "
    "preallocated output and the engine's own blocking without any selection. A ratio below 1 "
    "means the contender beat that measurement: the floors are measured too, with the same "
    "noise, and below 10k x 384 a one-query 'GEMM' is mostly call overhead.",
    "Vectors: speed uses Gaussian draws matching the mean and covariance of the real corpus "
    "(512-d; the leading 384 dimensions for d = 384, three independent 512-d blocks for 1536), "
    "normalised to unit rows like the model's outputs. Recall uses the real embeddings.",
    "Memory modes: float16 is IEEE half storage decoded per cache-sized block by integer bit "
    "moves (NumPy's own float16 cast is a scalar loop on this CPU, ~2 ns a value); int8 folds "
    "the per-dimension scale into the query, so a block needs only the int8 -> float32 cast and "
    "a GEMM; binary ranks by Hamming distance (XOR + `np.bitwise_count`, byte counts summed by "
    "lane arithmetic) and rescores 20 x k candidates exactly with the float vectors. For 8 or "
    "more queries binary unpacks bit blocks to 0/1 floats and uses one GEMM instead (NumPy has "
    "no popcount matrix product).",
    "bytes/vector counts what the index holds in RAM, including a float32 norm per vector; the "
    "binary index rescores from the float vectors it was built from, which it reads only for "
    "the candidates (they can stay on disk as a memory map).",
]

EXPLAIN = {
    "engine at least as fast as FAISS": (
        "The misses are of two kinds. Cells where both are at the hardware floor (one query "
        "streaming at memory speed, or 100 queries over 1M x 1536 within ~10% of the GEMM): "
        "there the order is decided by noise, and the engine wins the neighbouring methods of "
        "the same cell. And small batches (100 queries over 10k x 1536, a 26 ms GEMM), where "
        "the engine's fixed per-call cost in Python and NumPy (dispatch to the two workers, "
        "first-block partition, merges, final sort: a few ms) shows against FAISS's single BLAS "
        "call; a single-block fast path for matrices that fit in cache would close it."
    ),
    "one query within 1.5x": (
        "One query is one pass over the matrix plus, per block, a compare of the scores with "
        "the running threshold."
    ),
    "batch of": (
        "The misses are at 10k and 100k rows, where a batch takes 16-130 ms and the fixed "
        "per-call cost (worker dispatch, the first block's partition over 100 queries, merges "
        "of early candidates, the final sort and tie check) is a few ms; at 1M rows every "
        "batch is within 1.23x of the GEMM. A single-block path for small matrices, or "
        "overlapping selection with the next block's GEMM, would close it."
    ),
    "euclidean within": (
        "Euclidean adds one subtraction of the squared norms per score block, cosine one "
        "multiplication by the inverse norms: the same work. The misses (1.22x-1.33x, all at "
        "100k rows) are within this run's noise; at 1M rows euclidean takes 0.83x-1.02x of "
        "cosine's time."
    ),
    "peak extra memory": (
        "Scratch is sized from the cache (score block, decode buffer per worker), so it is a "
        "fixed few MiB: a large fraction only of small matrices."
    ),
    "float16": (
        "Decoding half floats costs three integer passes over each block (sign-extending "
        "widen, shift, mask: about 0.4 ns a value on one core) before the GEMM, more than "
        "float32 spends streaming the same values from memory (~0.1-0.2 ns a value over both "
        "cores). NumPy has no vectorised float16 cast on this CPU (no AVX512-FP16) and no "
        "half-precision GEMM. What would close it: a compiled kernel (numba or C) converting "
        "with F16C (`vcvtph2ps`) inside the dot product, streaming half the bytes at memory "
        "speed. For a batch the decode is shared by all queries and float16 costs about what "
        "float32 does; it always halves memory at recall@10 >= 0.9996."
    ),
    "int8": (
        "One query: the int8 -> float32 block cast is fast in NumPy, so int8 reads a quarter "
        "of the bytes and wins when memory is the bottleneck. A batch is compute-bound: the "
        "GEMM on decoded blocks costs what float32's does, plus the cast; only an integer "
        "GEMM kernel (VNNI/`vpmaddubsw`, not reachable from NumPy) would be faster."
    ),
    "binary": (
        "One query: Hamming over 64 bytes a vector instead of 2 KiB is several times faster. "
        "A batch is compute-bound and NumPy has no popcount matrix product: the batch path "
        "unpacks bits to floats and runs a float32 GEMM, then rescores 200 candidates per "
        "query, so 100 queries take 2-3x float32's time. A compiled popcount kernel (numba or "
        "C, or FAISS's `IndexBinaryFlat`) would make batches fast too."
    ),
}


def target_note(target: dict) -> str:
    """Detail and, for a miss, where it is missed and why."""
    parts = []
    if target["detail"]:
        parts.append(target["detail"])
    if not target["met"]:
        if target["misses"]:
            parts.append("Missed in: " + "; ".join(target["misses"]) + ".")
        why = next((text for key, text in EXPLAIN.items() if target["target"].startswith(key)), "")
        parts.append(why or "Not met; see the notes below.")
    return " ".join(parts) if parts else "met"
