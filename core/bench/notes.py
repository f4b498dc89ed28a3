"""Standing notes for BENCHMARKS.md, and the explanation printed under each target."""

from __future__ import annotations

NOTES = [
    "The machine has 2 cores shared with other work: other processes running during the run "
    "(see the load average above) inflate some timings, FAISS's OpenMP threads most of all.",
    "`engine` is `core.engine.search` as `Collection.search` calls it: the corpus was validated "
    "and its norms computed once (as FAISS's `add` copies the vectors once). `engine one-shot` "
    "is a bare `search(corpus, queries)` call, which also checks every value for NaN/inf and "
    "computes the norms: two more passes over the matrix.",
    "FAISS: `IndexFlatIP` for cosine (unit rows, queries normalised per call) and dot, "
    "`IndexFlatL2` for euclidean; faiss-cpu ships its own OpenBLAS and OpenMP.",
    "The tutorial contender is its code pattern (score everything, full `argsort`, a broadcast "
    "`documents - query` for euclidean) one query at a time; its Python loop runs only for one "
    "query up to 100k documents.",
]

EXPLAIN = {}


def target_note(target: dict) -> str:
    """Detail and, for a miss, where it is missed and why."""
    parts = []
    if target["detail"]:
        parts.append(target["detail"])
    if not target["met"]:
        if target["misses"]:
            parts.append("missed in: " + "; ".join(target["misses"]))
        why = EXPLAIN.get(target["target"].split(":")[0])
        if why:
            parts.append(why)
        else:
            parts.append("not met; see the notes below.")
    return " ".join(parts) if parts else "met"
