"""What a search's numbers mean, in words: memory, recall, query embedding, weak matches, and
the near-duplicate listing. Plain strings for the dashboard (and anyone else) to show."""

from __future__ import annotations

from core.search import PairSummary, get_metric
from core.services._search import EXACT, LOW_COSINE, SearchReport

_MEMORY_LABELS = {
    "float32": "Index memory (float32 vectors)",
    "float16": "Index memory (float16 codes)",
    "int8": "Index memory (int8 codes)",
    "binary": "Index memory (binary codes)",
    "hnsw": "Index memory (HNSW graph)",
}

SCORE_DECIMALS = 3  # scores and distances on every page: tables, top-result lines, captions


def format_score(value: float) -> str:
    """One score as every page prints it (``SCORE_DECIMALS`` decimals)."""
    return f"{float(value):.{SCORE_DECIMALS}f}"


def format_bytes(n: int) -> str:
    """``6.78 KB``, ``144 KB``, ``1.50 MB``: three significant digits, binary units."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:.3g} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n} B"


def memory_label(mode: str) -> str:
    """Metric label naming what the memory figure counts."""
    return _MEMORY_LABELS[mode]


def memory_note(report: SearchReport) -> str:
    """What the memory figure holds, and what a search reads besides it."""
    size, exact = format_bytes(report.memory_bytes), format_bytes(report.exact_bytes)
    mode = report.mode
    if mode == EXACT:
        return f"Exact search over the float32 vectors ({exact})."
    if mode == "hnsw":
        return (
            f"HNSW: {size} of graph (it holds its own copy of the vectors) and row norms; the "
            f"graph proposes {report.search_pool:,} candidates per query, rescored exactly "
            f"with the float32 vectors ({format_bytes(report.rescore_bytes)}). Approximate: "
            "recall against exact search is shown beside it. Built once per collection, then "
            "saved with it."
        )
    if mode == "binary":
        pool, n = report.search_pool, report.n_docs
        rescored = f"all {n:,} documents" if pool >= n else f"{pool:,} Hamming candidates"
        return (
            f"Binary: {size} of 1-bit codes, row norms and calibration, plus "
            f"{format_bytes(report.rescore_bytes)} of float32 vectors read to rescore "
            f"{rescored} per query (they can stay on disk, memory-mapped: only the rows rescored "
            "are read)."
        )
    what = "half-precision codes" if mode == "float16" else "8-bit codes, calibration"
    return (
        f"{mode}: {size} of {what} and row norms, against {exact} for float32; ranked and "
        "scored from the codes alone, the float32 vectors are not read."
    )


def recall_value(report: SearchReport) -> str:
    recall = report.recall
    return "1.000 (exact)" if recall is None else f"{recall:.3f}"


def recall_note(report: SearchReport) -> str | None:
    """Why recall is 1 when the binary rescoring pool covers the whole collection."""
    pool = report.rescore_pool
    if report.mode != "binary" or pool is None or pool < report.n_docs:
        return None
    return (
        f"Recall is exact here: the rescoring pool ({pool:,}) covers all {report.n_docs:,} "
        "documents; binary pays off on large collections."
    )


def embed_value(report: SearchReport) -> str:
    """``cached`` when no query was embedded; otherwise the time (and how many were cached)."""
    m, cached = len(report.queries), report.n_cached
    if cached >= m:
        return "cached"
    ms = report.embed_ms
    text = "<1 ms" if ms < 1 else f"{ms:,.0f} ms"
    return f"{text} ({cached} of {m} cached)" if cached else text


def no_match_note(report: SearchReport, q: int) -> str | None:
    """A gentle note when query ``q``'s best result is unrelated to it (cosine < LOW_COSINE)."""
    cosine = float(report.best_cosine[q])
    if cosine >= LOW_COSINE:
        return None
    what = (
        "the best cosine score is"
        if get_metric(report.method) is get_metric("cosine")
        else "the top result's cosine similarity is"
    )
    return (
        f"No close match for Q{q + 1}: {what} {format_score(cosine)}; "
        "the corpus may not cover this topic."
    )


def previous_note(report: SearchReport, max_chars: int = 200) -> str:
    """Label for results left on screen when a new search did not run."""
    queries = " · ".join(report.queries)
    if len(queries) > max_chars:
        queries = queries[: max_chars - 1].rstrip() + "…"
    return f"Showing results for the previous search: {queries}"


def no_pairs_message(method: str, threshold: float, pair: tuple[int, int, float] | None) -> str:
    """No pair passed the threshold: say where the most alike pair is, so the slider can go.

    ``pair`` is ``(i, j, score)`` as :class:`core.search.PairSummary` gives it (a distance for
    euclidean), or None when the collection has fewer than two documents.
    """
    if get_metric(method).is_distance:
        head = f"No pairs within {threshold:.2f}"
        if pair is None:
            return head + "."
        i, j, distance = pair
        return f"{head}; the closest pair (#{i} and #{j}) is {format_score(distance)} apart."
    head = f"No pairs above {threshold:.2f}"
    if pair is None:
        return head + "."
    i, j, score = pair
    return f"{head}; the most similar pair (#{i} and #{j}) scores {format_score(score)}."


def pairs_heading(method: str, threshold: float, found: PairSummary) -> str:
    """How many pairs pass, and which of them the table lists."""
    where = "within" if get_metric(method).is_distance else "above"
    head = f"**{found.n_passing:,} pair(s)** {where} {threshold:.2f}"
    if not found.truncated:
        return f"{head}, most alike first."
    return f"{head}; the {len(found.pairs):,} most alike are listed, most alike first."


def too_many_pairs_note(method: str, found: PairSummary) -> str | None:
    """When the list is cut: which way the slider narrows it (a distance goes down, a
    similarity up), and where the listed pairs end."""
    if not found.truncated:
        return None
    last = found.pairs[-1][2]
    if get_metric(method).is_distance:
        return (
            f"The listed pairs are at most {format_score(last)} apart: lower the distance to "
            "list only the closest pairs."
        )
    return (
        f"The listed pairs score at least {format_score(last)}: raise the similarity to list "
        "only the most similar pairs."
    )


def clamp_k(k: int, n_docs: int, max_k: int = 100) -> tuple[int, str | None]:
    """``k`` brought into ``1 … min(max_k, n_docs)``, and what was changed, in words.

    Parameters
    ----------
    k : int
        The number of results asked for (any integer a box accepts).
    n_docs : int
        Documents in the collection (at least 1).
    max_k : int
        The most results a search shows.

    Returns
    -------
    (int, str or None)
        The ``k`` to search with, and a note when it is not the one asked for.
    """
    top = max(1, min(int(max_k), int(n_docs)))
    if k < 1:
        return 1, f"k = {k} asks for no results: searched with k = 1, the smallest."
    if k > top:
        why = (
            f"the collection has {n_docs:,} document{'s' if n_docs != 1 else ''}"
            if top == n_docs
            else f"a search shows at most {top}"
        )
        return top, f"k = {k:,} is more than {why}: searched with k = {top}."
    return int(k), None
