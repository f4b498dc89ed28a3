"""Memory modes for search: float32, float16, int8 and binary indexes behind one API.

Every mode has a kernel that reads less memory than float32, not a slow NumPy cast:

* ``float16`` stores IEEE half floats (2 bytes per value). A cache-sized block of rows is decoded
  by three integer passes (sign-extending widen, shift the half's bits into float32 position,
  mask the copied sign bits); the decoded values are the true values times 2**-112, a factor
  folded into the queries, then one float32 GEMM scores the block. NumPy's own float16 cast is a
  scalar loop on CPUs without AVX512-FP16, about 5x slower.
* ``int8`` stores ``codes = round((x - lo) / scale) - 128`` with per-dimension ``lo``/``scale``
  calibrated on the data. Scores are ``codes @ (q * scale) + q @ offset``; the second term is
  constant per query, so ranking needs only the int8 -> float32 block cast (fast in NumPy) and a
  GEMM with the scale folded into the query.
* ``binary`` keeps one bit per dimension (sign of ``x - mean``) packed in uint64 words. Hamming
  distance (XOR + ``np.bitwise_count``; for 8+ queries an unpack + GEMM, as NumPy has no
  popcount matrix product) picks ``rescore_factor * k`` candidates per query, which are rescored
  exactly with the float vectors the index was built from (kept by reference, so a
  memory-mapped matrix stays on disk).

Scores follow ``core.search.search``: cosine similarity, dot product, or ``-distance`` for
euclidean; ids best first, ties broken by the lower index.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from core.errors import InvalidInputError
from core.search import _compiled as compiled
from core.search import _kernels as kernels
from core.search._codecs import Binary, Float16, Int8
from core.search._metrics import APPROXIMATE_MODES, MODES, MetricSpec, get_metric, safe_scale
from core.search._validation import _check_budget, as_matrix, row_blocks, row_norms

_UNIT_TOL = 1e-5  # rows this close to unit norm rank the same by dot product and by cosine


class QuantIndex:
    """Base class: a searchable, possibly compressed, copy of an embedding matrix.

    Attributes
    ----------
    mode : str
        One of ``MODES``.
    n, d : int
        Rows and dimension of the indexed matrix.
    """

    mode: ClassVar[str] = ""

    def __init__(self, x: np.ndarray) -> None:
        self.n, self.d = x.shape

    def _set_norms(self, rows) -> None:
        """Norms of the vectors the index scores (decoded ones for float16/int8)."""
        norms = np.empty(self.n, dtype=np.float32)
        for b in row_blocks(self.n, 1 << 16):
            norms[b] = row_norms(rows(b.start, b.stop))
        self.norms = norms
        self.max_norm = float(norms.max(initial=0.0))
        self.unit = bool(self.n) and bool(np.all(np.abs(norms - 1) <= _UNIT_TOL))

    @property
    def nbytes(self) -> int:
        """Bytes this index holds in memory (codes, norms and calibration).

        For ``binary`` this leaves out the float vectors read to rescore candidates; see
        :attr:`rescore_nbytes`.
        """
        raise NotImplementedError

    @property
    def bytes_per_vector(self) -> float:
        """``nbytes / n``: memory per indexed vector, including per-vector norms."""
        return self.nbytes / max(self.n, 1)

    @property
    def rescore_nbytes(self) -> int:
        """Bytes of float vectors a search reads besides :attr:`nbytes` (0 unless ``binary``).

        They are the caller's matrix, kept by reference: a memory-mapped one stays on disk and
        only the candidate rows are paged in.
        """
        return 0

    def rescore_pool(self, k: int) -> int | None:
        """Candidates per query rescored with the float vectors for a top-``k`` search.

        ``None`` for modes that rank every row with their own kernel (no candidate pool). The
        search rescores ``min(n, pool)`` rows; when ``pool >= n`` every row is rescored, so the
        result is the float search's and recall is trivially 1.
        """
        return None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_kernel", None)  # rebuilt on first use; it only views the codes
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, d={self.d}, nbytes={self.nbytes})"

    def updated(self, source: np.ndarray, x: np.ndarray) -> QuantIndex | None:
        """This index for an edited matrix ``x`` without re-encoding the rows that stayed.

        Parameters
        ----------
        source : ndarray of shape (n_new,), int64
            For each row of ``x``, the row of the indexed matrix it is a copy of, or -1 for a
            new or changed row (encoded here).
        x : ndarray of shape (n_new, d), float32
            The edited matrix (rows with ``source >= 0`` equal the old rows).

        Returns
        -------
        QuantIndex or None
            The index of ``x``, or None when the calibration no longer fits the data (int8
            values out of range, binary's centre after many new rows): then build afresh.
        """
        source = np.asarray(source, dtype=np.int64)
        if source.shape != (x.shape[0],) or x.shape[1] != self.d:
            raise InvalidInputError(
                f"source must have shape ({x.shape[0]},) for a matrix of shape {x.shape} "
                f"and the index has d={self.d}"
            )
        if x.shape[0] == 0:
            return None
        fresh = np.flatnonzero(source < 0)
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.pop("_kernel", None)  # built over the old codes
        new.n = int(x.shape[0])
        if not self._carry(new, source, fresh, x):
            return None
        norms = np.empty(new.n, dtype=np.float32)
        kept = source >= 0
        norms[kept] = self.norms[source[kept]]
        if fresh.size:
            rows = new._rows(fresh[None, :])[0]
            norms[fresh] = np.sqrt(np.einsum("ij,ij->i", rows, rows))
        new.norms = norms
        new.unit = bool(np.all(np.abs(norms - 1) <= _UNIT_TOL))
        return new

    def _carry(self, new: QuantIndex, source, fresh, x) -> bool:
        """Set ``new``'s codes for ``x`` (see :meth:`updated`); False: build afresh."""
        raise NotImplementedError

    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        method: str = "cosine",
        *,
        memory_budget_mb: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows of the index for each query.

        Parameters
        ----------
        queries : array_like of shape (m, d) or (d,)
            Query vectors; 1-D means one query.
        k : int
            Results per query; more than ``n`` returns ``n``.
        method : str, Metric or MetricSpec
            A registered metric that supports this mode (``MetricSpec.modes``); distances
            are scored as ``-distance``.
        memory_budget_mb : float, optional
            Cap on scratch memory; default: cache-sized blocks only.

        Returns
        -------
        ids : ndarray of int64, shape (m, min(k, n))
        scores : ndarray of float32, shape (m, min(k, n))
            Best first, ties by lower index. Quantised modes score their decoded vectors
            (binary rescoring scores the float vectors).
        """
        spec = get_metric(method)
        spec.check_mode(self.mode)
        q = as_matrix(queries, "queries")
        if q.shape[1] != self.d:
            raise InvalidInputError(
                f"queries have dimension {q.shape[1]} but the index has dimension {self.d}; "
                "embed the queries with the model that built the index"
            )
        if not isinstance(k, int | np.integer) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        k = min(int(k), self.n)
        m = q.shape[0]
        if k == 0 or m == 0:
            return np.zeros((m, k), np.int64), np.zeros((m, k), np.float32)
        budget = None if memory_budget_mb is None else _check_budget(memory_budget_mb)
        ids = self._candidates(q, k, spec, budget)
        return self._finish(q, ids, k, spec)

    # -- hooks -----------------------------------------------------------------------------
    def _candidates(self, q: np.ndarray, k: int, spec: MetricSpec, budget) -> np.ndarray:
        """Ids of shape (m, >= k) containing each query's top k by this mode's ranking."""
        raise NotImplementedError

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """Decoded float32 rows for an id array of any shape -> shape ids.shape + (d,)."""
        raise NotImplementedError

    def _finish(self, q, ids, k, spec):
        """Exact scores of the candidates (in float64, so no product overflows), best k."""
        scores = np.empty(ids.shape, dtype=np.float32)
        group = max(1, (32 << 20) // max(1, ids.shape[1] * self.d * 8))
        for g in row_blocks(q.shape[0], group):
            rows = self._rows(ids[g])
            with np.errstate(over="ignore"):  # beyond float32: refused just below
                scores[g] = spec.scorer.rescore(q[g], rows, self._row_norms(ids[g], rows))
        _refuse_nonfinite_results(ids, scores, spec)
        order = np.lexsort((ids, -scores), axis=1)[:, :k]
        return (
            np.take_along_axis(ids, order, axis=1),
            np.take_along_axis(scores, order, axis=1),
        )

    def _row_norms(self, ids: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.norms[ids]

    # -- ranking by a linear kernel ----------------------------------------------------------
    def _linear_scan(self, q, k, spec, budget, decode_row_bytes, block_product):
        """Scan with ``block_product(lo, hi, qt, scratch) -> c * (x[lo:hi] @ q.T)``.

        ``c`` is a positive factor (the same for every query) returned by ``self._qt``, times
        a power of two that keeps huge (finite) vectors' products inside float32's range.
        """
        q_max = float(row_norms(q).max(initial=0.0))
        fit = safe_scale(self.max_norm * max(q_max, self.max_norm))
        qt, c, shift = self._qt(q if fit == 1.0 else q * np.float32(fit), spec)
        c *= fit
        m = q.shape[0]
        rows = kernels.block_rows(
            self.n,
            m,
            row_bytes=decode_row_bytes,
            budget_bytes=budget,
            workers=kernels.n_workers(),
        )
        # Per-row terms, derived per search (one pass over n floats) rather than stored.
        _, inv_norms, sub = spec.scorer.mode_terms(self.norms, self.unit, c)

        def score_block(lo, hi, scratch):
            out = block_product(lo, hi, qt, scratch)
            if shift is not None:
                out += shift
            if inv_norms is not None:
                out *= inv_norms[lo:hi, None]
            elif sub is not None:
                out -= sub[lo:hi, None]
            return out

        ids, _ = kernels.scan(
            self.n, m, k, score_block, rows_per_block=rows, work=self.n * m * self.d
        )
        return ids

    def _compiled_candidates(self, q, k, spec, budget):
        """Candidates from the compiled one-query kernel (``core.search._compiled``), exact
        after rescoring; None where it does not apply (then the NumPy kernels run)."""
        if q.shape[0] > compiled.MAX_QUERIES or not compiled.available(self.mode):
            return None
        if budget is not None and budget < 64 << 20:  # its scratch: ~1.3 MB per worker
            return None
        q_max = float(row_norms(q).max(initial=0.0))
        if not 0 < self.max_norm * q_max < 1e30 or not np.isfinite(q).all():
            return None  # huge vectors: the NumPy path scales them safely
        kernel = self.__dict__.get("_kernel")
        if kernel is None:
            kernel = self._kernel = self._make_kernel()
        qf, row_scale, row_sub = spec.scorer.mode_terms(self.norms, self.unit, 1.0)
        scale64 = None if row_scale is None else row_scale.astype(np.float64)
        sub64 = None if row_sub is None else row_sub.astype(np.float64)
        q64 = q.astype(np.float64)

        def exact_ranks(j, ids):
            dots = self._rows(ids[None, :])[0].astype(np.float64) @ q64[j] * qf
            if scale64 is not None:
                dots *= scale64[ids]
            if sub64 is not None:
                dots -= sub64[ids]
            return dots

        return compiled.top_candidates(
            kernel, q, k, (float(qf), scale64, sub64), exact_ranks, self.n
        )

    def _make_kernel(self):
        raise NotImplementedError

    def _qt(self, q, spec):
        """(m, d) queries -> (d, m) operand, positive factor c, optional per-query shift."""
        factor = spec.scorer.query_factor
        return np.ascontiguousarray((q * np.float32(factor)).T), 1.0, None


class Float32Index(QuantIndex):
    """Exact search over float32 rows (kept by reference when already float32 C-contiguous)."""

    mode = "float32"

    def __init__(self, x: np.ndarray) -> None:
        super().__init__(x)
        self.x = x if isinstance(x, np.memmap) else np.ascontiguousarray(x, dtype=np.float32)
        self._set_norms(lambda lo, hi: np.asarray(self.x[lo:hi], dtype=np.float32))

    @property
    def nbytes(self) -> int:
        return int(self.x.nbytes + self.norms.nbytes)

    def search(self, queries, k=10, method="cosine", *, memory_budget_mb=None):
        """Exact search: :func:`core.search._engine.exact_search` with the kept norms (so every
        registered metric works here)."""
        from core.search._engine import DEFAULT_MEMORY_BUDGET_MB, exact_search

        spec = get_metric(method)
        q = as_matrix(queries, "queries")
        if q.shape[1] != self.d:
            raise InvalidInputError(
                f"queries have dimension {q.shape[1]} but the index has dimension {self.d}; "
                "embed the queries with the model that built the index"
            )
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        budget = _check_budget(memory_budget_mb or DEFAULT_MEMORY_BUDGET_MB)
        return exact_search(self.x, q, int(k), spec, budget, self.norms)

    def _rows(self, ids):
        return np.asarray(self.x[ids.ravel()], dtype=np.float32).reshape(*ids.shape, self.d)

    def _carry(self, new, source, fresh, x):
        new.x = x if isinstance(x, np.memmap) else np.ascontiguousarray(x, dtype=np.float32)
        return True


class Float16Index(QuantIndex):
    """IEEE float16 storage (half the bytes of float32) with a bit-level decode kernel."""

    mode = "float16"

    def __init__(self, x: np.ndarray) -> None:
        super().__init__(x)
        self.codec = Float16.fit(x)
        self._set_norms(self.codec.decode_range)

    @property
    def nbytes(self) -> int:
        return int(self.codec.nbytes + self.norms.nbytes)

    def _qt(self, q, spec):
        qt, _, _ = super()._qt(q, spec)
        scaled, c = self.codec.scale_queries(qt)
        return scaled, c, None

    def _candidates(self, q, k, spec, budget):
        ids = self._compiled_candidates(q, k, spec, budget)
        if ids is not None:
            return ids
        return self._linear_scan(q, k, spec, budget, 4 * self.d, self.codec.block_product)

    def _make_kernel(self):
        return compiled.Float16Kernel(self.codec.codes, self.norms)

    def _rows(self, ids):
        return self.codec.decode(ids)

    def _carry(self, new, source, fresh, x):
        codes = np.empty((x.shape[0], self.d), dtype=np.float16)
        kept = source >= 0
        codes[kept] = self.codec.codes[source[kept]]
        if fresh.size:
            codes[fresh] = Float16.fit(np.asarray(x[fresh], dtype=np.float32)).codes
        new.codec = Float16(codes)
        return True


class Int8Index(QuantIndex):
    """Scalar quantisation to int8 with per-dimension ranges calibrated on the data."""

    mode = "int8"

    def __init__(self, x: np.ndarray, *, clip_quantile: float = 0.0) -> None:
        super().__init__(x)
        self.codec = Int8.fit(x, clip_quantile=clip_quantile)
        self._set_norms(self.codec.decode_range)

    @property
    def nbytes(self) -> int:
        return int(self.codec.nbytes + self.norms.nbytes)

    def _qt(self, q, spec):
        factor = np.float32(spec.scorer.query_factor)
        qt = np.ascontiguousarray((q * (self.codec.scale * factor)).T)
        # x @ q = codes @ (q * scale) + q @ offset: the offset term only matters for ranking
        # when a per-row factor (cosine's 1 / |x|) would scale it differently for each row.
        shift = None
        if spec.scorer.mode_row_factor(self.unit):
            q64 = q.astype(np.float64)
            shift = (q64 @ self.codec.offset * float(factor)).astype(np.float32)[None, :]
        return qt, 1.0, shift

    def _candidates(self, q, k, spec, budget):
        ids = self._compiled_candidates(q, k, spec, budget)
        if ids is not None:
            return ids
        return self._linear_scan(q, k, spec, budget, 4 * self.d, self.codec.block_product)

    def _make_kernel(self):
        codec = self.codec
        return compiled.Int8Kernel(codec.codes, codec.scale, codec.offset, self.norms)

    def _rows(self, ids):
        return self.codec.decode(ids)

    def _carry(self, new, source, fresh, x):
        codec = self.codec
        codes = np.empty((x.shape[0], self.d), dtype=np.int8)
        kept = source >= 0
        codes[kept] = codec.codes[source[kept]]
        if fresh.size:
            rows = np.asarray(x[fresh], dtype=np.float32)
            lo = codec.offset - 128 * codec.scale
            levels = np.rint((rows - lo) / codec.scale) - 128
            # A value beyond the calibrated range would be clipped: calibrate afresh instead.
            if levels.min(initial=0) < -128.5 or levels.max(initial=0) > 127.5:
                return False
            codes[fresh] = np.clip(levels, -128, 127)
        new.codec = Int8(codes, codec.scale, codec.offset)
        return True


class BinaryIndex(QuantIndex):
    """One bit per dimension; Hamming candidates rescored with the float vectors."""

    mode = "binary"

    def __init__(self, x: np.ndarray, *, rescore_factor: int = 20) -> None:
        super().__init__(x)
        if rescore_factor < 1:
            raise InvalidInputError(f"rescore_factor must be at least 1, got {rescore_factor}")
        self.rescore_factor = int(rescore_factor)
        self.vectors = x  # float rows for rescoring, by reference (may be a memmap)
        self._set_norms(lambda lo, hi: np.asarray(x[lo:hi], dtype=np.float32))
        self.codec = Binary.fit(x)

    @property
    def nbytes(self) -> int:
        """Packed bits, row norms and calibration; the rescoring vectors are counted apart, in
        :attr:`rescore_nbytes` (they are the caller's, maybe memory-mapped on disk)."""
        return int(self.codec.nbytes + self.norms.nbytes)

    @property
    def rescore_nbytes(self) -> int:
        """Bytes of the float vectors candidates are rescored with (``vectors.nbytes``)."""
        return int(self.vectors.nbytes)

    def rescore_pool(self, k: int) -> int:
        """``max(k, rescore_factor * k)``: Hamming candidates rescored per query (at most n)."""
        return max(int(k), self.rescore_factor * int(k))

    def _candidates(self, q, k, spec, budget):
        n_cand = min(self.n, self.rescore_pool(k))
        return self.codec.candidates(q, n_cand, budget)

    def _rows(self, ids):
        rows = self.vectors[ids.ravel()]
        return np.asarray(rows, dtype=np.float32).reshape(*ids.shape, self.d)

    # Past this share of new rows the centre (the old mean) may no longer split the data well.
    MAX_FRESH_SHARE = 0.25

    def _carry(self, new, source, fresh, x):
        if fresh.size > self.MAX_FRESH_SHARE * max(self.n, 1):
            return False
        codec = self.codec
        codes = np.empty((x.shape[0], codec.codes.shape[1]), dtype=np.uint64)
        kept = source >= 0
        codes[kept] = codec.codes[source[kept]]
        if fresh.size:
            codes[fresh] = codec.encode(np.asarray(x[fresh], dtype=np.float32))
        new.codec = Binary(codes, codec.center)
        new.vectors = x
        return True


_INDEXES = {cls.mode: cls for cls in (Float32Index, Float16Index, Int8Index, BinaryIndex)}


def _refuse_nonfinite_results(ids, scores, spec):
    from core.search._engine import _refuse_nonfinite_results as refuse

    refuse(ids, scores, spec)


def build_index(embeddings: np.ndarray, mode: str = "float32", **options) -> QuantIndex:
    """Build a searchable index of ``embeddings`` in one memory mode.

    Parameters
    ----------
    embeddings : array_like of shape (n, d)
        Finite vectors; float32 C-contiguous input (or a memmap) is used without a copy where
        the mode keeps float vectors (float32 search, binary rescoring).
    mode : {"float32", "float16", "int8", "binary", "hnsw"}
        Storage and kernel; ``"hnsw"`` is approximate (a FAISS HNSW graph, candidates rescored
        exactly; see ``core.search._hnsw``).
    **options
        ``clip_quantile`` (int8: fraction clipped at each end of a dimension's range, default 0),
        ``rescore_factor`` (binary: candidates per result rescored exactly, default 20) or
        ``m`` / ``ef_construction`` / ``ef_search`` (hnsw).

    Returns
    -------
    QuantIndex
        With ``.search(queries, k, method)``, ``.nbytes``, ``.bytes_per_vector`` and ``.mode``.
    """
    if mode == "hnsw":
        from core.search._hnsw import HnswIndex  # the approximate mode builds on this module

        _INDEXES.setdefault("hnsw", HnswIndex)
    if mode not in _INDEXES:
        valid = ", ".join(MODES + APPROXIMATE_MODES)
        raise InvalidInputError(f"unknown mode {mode!r}; choose one of {valid}")
    x = embeddings if isinstance(embeddings, np.memmap) else as_matrix(embeddings, "embeddings")
    if x.ndim != 2 or x.shape[0] == 0:
        raise InvalidInputError(
            f"embeddings must be a non-empty (n, d) matrix, got shape {x.shape}"
        )
    return _INDEXES[mode](x, **options)


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean fraction of each query's exact top-k ids found in its approximate top-k.

    Parameters
    ----------
    approx_ids, exact_ids : array_like of int, shape (m, k)
        Ids per query from the approximate and the exact search (same k).

    Returns
    -------
    float
        In [0, 1]; 1.0 when every exact neighbour was found.
    """
    approx = np.atleast_2d(np.asarray(approx_ids))
    exact = np.atleast_2d(np.asarray(exact_ids))
    if approx.shape != exact.shape:
        raise InvalidInputError(
            f"approx_ids has shape {approx.shape} but exact_ids has shape {exact.shape}; "
            "search both with the same queries and k"
        )
    if exact.size == 0:
        raise InvalidInputError("recall needs at least one query and k >= 1")
    hits = sum(np.intersect1d(a, e).size for a, e in zip(approx, exact, strict=True))
    return hits / exact.size
