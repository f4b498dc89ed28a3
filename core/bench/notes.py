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
    "Floors: the streaming floor is the fastest full read of the matrix found (a reduction on "
    "each core, or a BLAS matrix-vector product with a ones vector); the compute floor is one "
    "bare `x @ queries.T` into a preallocated output, no selection. A ratio below 1 means the "
    "contender beat that measurement (the floors are measured too, with the same noise).",
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
        "Where FAISS wins, the cell is small (the matrix sits in cache and a search takes about "
        "a millisecond): the engine's fixed cost per call in Python and NumPy (input checks, "
        "scorer set-up, the threshold merge, sorting the survivors: a few hundred "
        "microseconds) is comparable to the work, while FAISS's C++ call costs tens of "
        "microseconds. A one-block fast path with fewer NumPy calls, or a compiled top-k, "
        "would close it."
    ),
    "one query within 1.5x": (
        "One query is one pass over the matrix plus, per block, a compare of the scores with "
        "the running threshold; a miss here is within the run-to-run noise of a shared 2-core "
        "machine (compare the floor's own two measurements in the JSON), or the cosine/"
        "euclidean per-row scale pass on a single core."
    ),
    "batch of": (
        "The batch runs the same GEMM in cache-sized blocks on each core with single-threaded "
        "BLAS; blocking costs a little GEMM efficiency and the selection a compare per score. "
        "Larger blocks for large batches, or overlapping selection with the next block's GEMM, "
        "would close a small miss."
    ),
    "euclidean within": (
        "Euclidean adds one subtraction of the squared norms per score block (cosine one "
        "multiplication by the inverse norms), so both should cost the same; a miss is noise."
    ),
    "peak extra memory": (
        "Scratch is sized from the cache (score block, decode buffer per worker), so it is a "
        "fixed few MiB: a large fraction only of small matrices."
    ),
    "float16": (
        "Decoding half floats costs three integer passes over each block (sign-extending "
        "widen, shift, mask: about 0.4 ns a value on one core) before the GEMM, more than "
        "float32 spends streaming the same values from memory (~0.2 ns a value over both "
        "cores). NumPy has no vectorised float16 cast on this CPU (no AVX512-FP16) and no "
        "half-precision GEMM. What would close it: a compiled kernel (numba or C) that "
        "converts with F16C (`vcvtph2ps`) inside the dot product, streaming half the bytes "
        "at memory speed. float16 still halves memory at full recall."
    ),
    "int8": (
        "One query: the int8 -> float32 block cast is fast in NumPy, so int8 reads a quarter "
        "of the bytes and wins when memory is the bottleneck. A batch is compute-bound: the "
        "GEMM on decoded blocks costs what float32's does, plus the cast; only an integer "
        "GEMM kernel (VNNI/`vpmaddubsw`, not reachable from NumPy) would be faster."
    ),
    "binary": (
        "One query: Hamming over 64 bytes a vector instead of 2 KiB is many times faster. A "
        "batch is compute-bound and NumPy has no popcount matrix product: the batch path "
        "unpacks bits to floats and runs a float32 GEMM (about float32's time), then rescores. "
        "A compiled popcount kernel (numba or C, or FAISS's `IndexBinaryFlat`) would make "
        "batches fast too."
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
