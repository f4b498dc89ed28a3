"""The approximate mode: an HNSW graph (FAISS ``IndexHNSWFlat``) behind the same ``search`` API.

The graph proposes candidates; they are rescored exactly with the float vectors the index was
built from (kept by reference), so every returned score is the metric's true score, ordered best
first with ties by index, like every other mode. What the graph can miss is recall: measure it
against exact search (:func:`core.search.recall_at_k`) wherever its results are shown.

One graph per metric space (the scorer's ``ann_space``: ``"cos"`` builds on unit rows, ``"ip"``
and ``"l2"`` on the rows as given), built on first use and saved beside a collection's vectors
(:meth:`HnswIndex.save_files`, :func:`load_saved`), so a saved collection builds it once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.errors import InvalidInputError
from core.search._metrics import MetricSpec
from core.search._modes import QuantIndex
from core.search._validation import normalize, row_blocks

DEFAULT_M = 16  # graph degree: FAISS's and usearch's usual default
DEFAULT_EF_CONSTRUCTION = 80
DEFAULT_EF_SEARCH = 128
_ADD_ROWS = 1 << 16
_PARAMS = "hnsw.json"


def faiss_module():
    """FAISS, or a clear message naming the package to install."""
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is in requirements-dev
        raise InvalidInputError(
            "mode 'hnsw' needs FAISS: pip install faiss-cpu==1.15.1 (or choose an exact mode)"
        ) from None
    return faiss


def available() -> bool:
    """Whether the approximate mode can run here (FAISS importable)."""
    try:
        faiss_module()
    except InvalidInputError:
        return False
    return True


class HnswIndex(QuantIndex):
    """An HNSW graph per metric space; candidates rescored exactly with the float vectors.

    Parameters
    ----------
    x : ndarray of shape (n, d), float32
        Vectors (kept by reference: a memory-mapped matrix stays on disk).
    m : int
        Graph degree (links per node).
    ef_construction, ef_search : int
        Candidate-list sizes while building and while searching (at least k is used).
    """

    mode = "hnsw"

    def __init__(
        self,
        x: np.ndarray,
        *,
        m: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        super().__init__(x)
        for name, value in (
            ("m", m),
            ("ef_construction", ef_construction),
            ("ef_search", ef_search),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 2:
                raise InvalidInputError(f"{name} must be an integer of at least 2, got {value!r}")
        self.m, self.ef_construction, self.ef_search = int(m), int(ef_construction), int(ef_search)
        self.vectors = x
        self._set_norms(lambda lo, hi: np.asarray(x[lo:hi], dtype=np.float32))
        self.graphs: dict[str, object] = {}
        self.build_seconds: dict[str, float] = {}

    # -- the graphs ------------------------------------------------------------------------
    def graph(self, space: str):
        """The graph of one metric space ("cos", "ip", "l2"), built on first use."""
        if space not in self.graphs:
            import time

            faiss = faiss_module()
            metric = faiss.METRIC_L2 if space == "l2" else faiss.METRIC_INNER_PRODUCT
            graph = faiss.IndexHNSWFlat(self.d, self.m, metric)
            graph.hnsw.efConstruction = self.ef_construction
            start = time.perf_counter()
            for rows in row_blocks(self.n, _ADD_ROWS):
                block = np.asarray(self.vectors[rows], dtype=np.float32)
                graph.add(normalize(block) if space == "cos" else block)
            self.build_seconds[space] = time.perf_counter() - start
            self.graphs[space] = graph
        return self.graphs[space]

    @property
    def nbytes(self) -> int:
        """Bytes of the graphs built so far (each holds its own copy of the rows) and norms."""
        faiss = faiss_module()
        graphs = sum(int(faiss.serialize_index(g).nbytes) for g in self.graphs.values())
        return graphs + int(self.norms.nbytes)

    @property
    def rescore_nbytes(self) -> int:
        """Bytes of the float vectors candidates are rescored with (``vectors.nbytes``)."""
        return int(self.vectors.nbytes)

    def rescore_pool(self, k: int) -> int:
        """Candidates the graph proposes per query for a top-``k`` search (``ef_search``)."""
        return max(int(k), self.ef_search)

    def _candidates(self, q: np.ndarray, k: int, spec: MetricSpec, budget) -> np.ndarray:
        space = getattr(spec.scorer, "ann_space", None)
        if space is None:  # pragma: no cover - the registry lists hnsw only where it is set
            raise InvalidInputError(f"metric {spec.name!r} has no HNSW space")
        graph = self.graph(space)
        pool = min(self.n, self.rescore_pool(k))
        graph.hnsw.efSearch = max(self.ef_search, pool)
        _, ids = graph.search(normalize(q) if space == "cos" else q, pool)
        missing = ids < 0
        if missing.any():  # the graph found fewer than asked: fill from an exact search
            from core.search._engine import DEFAULT_MEMORY_BUDGET_MB, exact_search

            rows = np.flatnonzero(missing.any(axis=1))
            budget = int(DEFAULT_MEMORY_BUDGET_MB * 2**20)
            exact, _ = exact_search(self.vectors, q[rows], pool, spec, budget, self.norms)
            ids[rows] = exact
        return ids

    def _rows(self, ids):
        rows = self.vectors[ids.ravel()]
        return np.asarray(rows, dtype=np.float32).reshape(*ids.shape, self.d)

    # -- disk ------------------------------------------------------------------------------
    def save_files(self, folder: str | Path) -> None:
        """Write the built graphs (and their parameters) into ``folder``."""
        if not self.graphs:
            return
        faiss = faiss_module()
        folder = Path(folder)
        for space, graph in self.graphs.items():
            faiss.write_index(graph, str(folder / f"hnsw-{space}.faiss"))
        params = {"m": self.m, "ef_construction": self.ef_construction, "n": self.n, "d": self.d}
        params["ef_search"] = self.ef_search
        params["build_seconds"] = self.build_seconds
        (folder / _PARAMS).write_text(json.dumps(params, indent=2), encoding="utf-8")


def load_saved(folder: str | Path, vectors: np.ndarray) -> HnswIndex | None:
    """The HNSW index saved in ``folder`` for ``vectors``, or None when none was saved (or the
    saved graphs do not match the vectors, or FAISS is not installed: then it is rebuilt on use).
    """
    folder = Path(folder)
    params_file = folder / _PARAMS
    if not params_file.exists() or not available():
        return None
    params = json.loads(params_file.read_text(encoding="utf-8"))
    if (params.get("n"), params.get("d")) != tuple(vectors.shape):
        return None
    faiss = faiss_module()
    index = HnswIndex(
        vectors,
        m=int(params["m"]),
        ef_construction=int(params["ef_construction"]),
        ef_search=int(params["ef_search"]),
    )
    for path in sorted(folder.glob("hnsw-*.faiss")):
        graph = faiss.read_index(str(path))
        if graph.ntotal == index.n and graph.d == index.d:
            index.graphs[path.stem.removeprefix("hnsw-")] = graph
    index.build_seconds = dict(params.get("build_seconds", {}))
    return index
