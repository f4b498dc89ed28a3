"""The metrics registry: every similarity measure ``core.search`` knows, in one table.

Each entry (:class:`MetricSpec`) says what the metric is called, whether people read its value
as a similarity (higher is better) or a distance (lower is better), how an engine score becomes
that value (the engine always ranks by "higher is better": a distance is scored as
``-distance``), its scorer (how blocks of rows are scored, :class:`Scorer`), and which memory
modes support it. Adding a metric is one :func:`register_metric` call (or one entry below);
nothing else in the code asks for a metric by name.

Scorers turn a corpus block times a group of queries into *ranking* scores (cheap, higher is
better) and then *final* scores for the few survivors (:meth:`Scorer.finish`). The three built-in
metrics are linear (:class:`LinearScorer`): one GEMM per block, plus a per-row factor or term.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from core.errors import InvalidInputError
from core.search._validation import _safe_inverse, row_norms

MODES = ("float32", "float16", "int8", "binary")  # exact and compressed: every row is scored
APPROXIMATE_MODES = ("hnsw",)  # a graph proposes candidates: recall below 1 is possible
ALL_MODES = frozenset(MODES + APPROXIMATE_MODES)
# Products are kept below 2**100 (float32 overflows at 2**128): a rescaled search has room for
# a d-term sum and the corpus-norm terms.
_SAFE_LOG2 = 100


class ScoreOverflow(InvalidInputError):
    """Finite input whose products overflow float32: rescale the search (or refuse)."""


# ---------------------------------------------------------------------------- scorers


class Scorer:
    """Scores corpus rows against queries, higher is better; made once per search.

    Subclasses implement :meth:`block_rows` (ranking scores of a row block against a query
    operand) and, when the ranking score is not the final score, :meth:`finish`.

    Parameters
    ----------
    corpus : ndarray of shape (n, d), float32
    queries : ndarray of shape (m, d), float32
    corpus_norms : ndarray of shape (n,), optional
        Row norms of the corpus, when known.
    corpus_sq : ndarray of shape (n,), optional
        Squared row norms of the corpus, when known.
    scale : float
        A power of two (``<= 1``) the products are scaled by to stay in float32's range.
    """

    #: Corpus row terms the scorer uses: None, "norms" or "squared".
    uses_norms: ClassVar[str | None] = None
    #: Whether ranking scores are the final scores (no tie slack needed at the k-th place).
    ranking_is_final: ClassVar[bool] = False
    #: Products scale by ``scale ** scale_power`` (2 for squared distances).
    scale_power: ClassVar[int] = 1

    def __init__(self, corpus, queries, *, corpus_norms=None, corpus_sq=None, scale=1.0):
        self.corpus = corpus
        self.queries = queries
        self.scale = float(scale)

    def ranking_operand(self, q: slice) -> np.ndarray:
        """What :meth:`block_rows` multiplies rows by for queries ``q``: here ``queries[q].T``
        as a C-contiguous (d, len(q)) array."""
        return np.ascontiguousarray(self.queries[q].T)

    def block_rows(self, lo: int, hi: int, qt: np.ndarray, scratch: dict) -> np.ndarray:
        """Ranking scores of corpus rows ``lo:hi``, float32 of shape (hi - lo, n_queries)."""
        raise NotImplementedError

    def finish(self, q: slice, scores: np.ndarray) -> np.ndarray:
        """Final scores (higher is better) of ranking scores of shape (len(q), c)."""
        return scores

    def block(self, q: slice, c: slice) -> np.ndarray:
        """Ranking scores of queries ``q`` against corpus rows ``c``, shape (len(q), len(c))."""
        return np.ascontiguousarray(self.block_rows(c.start, c.stop, self.ranking_operand(q), {}).T)


def _buffer(scratch: dict, name: str, shape: tuple[int, ...]) -> np.ndarray:
    buf = scratch.get(name)
    if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != shape[1:]:
        buf = scratch[name] = np.empty(shape, dtype=np.float32)
    return buf[: shape[0]]


def _block_sq_norms(rows: np.ndarray) -> np.ndarray:
    """Squared norms of a block; one beyond float32's range (or NaN: a bad value, which the
    score check names) sends the search to its careful, rescaled path."""
    sq = row_norms(rows, squared=True)
    if not np.isfinite(np.max(sq, initial=0.0)):
        raise ScoreOverflow("a corpus norm is beyond float32's range")
    return sq


class LinearScorer(Scorer):
    """``factor * (x . q) * row_scale - row_sub``: one GEMM per block, then per-row terms.

    Row terms come from the corpus norms. When they are not given, each block computes its own
    rows' norms while the block is in cache (one pass over the corpus instead of two).
    """

    query_factor: ClassVar[float] = 1.0

    def __init__(self, corpus, queries, *, corpus_norms=None, corpus_sq=None, scale=1.0):
        super().__init__(corpus, queries, scale=scale)
        self.corpus_norms, self.corpus_sq = corpus_norms, corpus_sq
        self.row_scale = self.row_sub = None
        if self.uses_norms is not None and (corpus_norms is not None or corpus_sq is not None):
            given = corpus_norms if corpus_norms is not None else corpus_sq
            if self.scale == 1.0 and not np.isfinite(np.max(given, initial=0.0)):
                raise ScoreOverflow("a corpus norm is beyond float32's range")
            with np.errstate(over="ignore"):
                self.row_scale, self.row_sub = self.row_terms(corpus_norms, corpus_sq)
            for terms in (self.row_scale, self.row_sub):
                if terms is not None and not np.isfinite(np.max(np.abs(terms), initial=0.0)):
                    raise ScoreOverflow("a corpus row term is beyond float32's range")
        self.operand = queries * np.float32(self.query_factor * self.operand_scale())

    @property
    def fused(self) -> bool:
        """Whether blocks compute their own row norms (none were given)."""
        return self.uses_norms is not None and self.row_scale is None and self.row_sub is None

    def operand_scale(self) -> float:
        return self.scale

    def row_terms(self, norms, sq):
        """(row_scale, row_sub) arrays of shape (rows,) or None, from norms or squared norms."""
        return None, None

    def ranking_operand(self, q: slice) -> np.ndarray:
        return np.ascontiguousarray(self.operand[q].T)

    def block_rows(self, lo, hi, qt, scratch):
        out = _buffer(scratch, "scores", (hi - lo, qt.shape[1]))
        rows = self.corpus[lo:hi]
        np.matmul(rows, qt, out=out)
        if self.fused:
            row_scale, row_sub = self.row_terms(None, _block_sq_norms(rows))
        else:
            row_scale = None if self.row_scale is None else self.row_scale[lo:hi]
            row_sub = None if self.row_sub is None else self.row_sub[lo:hi]
        if row_scale is not None:
            out *= row_scale[:, None]
        if row_sub is not None:
            out -= row_sub[:, None]
        return out

    def block(self, q, c):
        scores = self.operand[q] @ self.corpus[c].T
        if self.fused:
            row_scale, row_sub = self.row_terms(None, _block_sq_norms(self.corpus[c]))
        else:
            row_scale = None if self.row_scale is None else self.row_scale[c]
            row_sub = None if self.row_sub is None else self.row_sub[c]
        if row_scale is not None:
            scores *= row_scale
        if row_sub is not None:
            scores -= row_sub
        return scores

    # -- memory modes: x . q ranked with a per-row factor or term -----------------------------
    @classmethod
    def mode_row_factor(cls, unit: bool) -> bool:
        """Whether :meth:`mode_terms` gives a per-row factor (rows not all unit length)."""
        return False

    @classmethod
    def mode_terms(cls, norms: np.ndarray, unit: bool, c: float):
        """(query factor, row_scale, row_sub) for a mode scoring ``c * (x . q)``."""
        return cls.query_factor, None, None

    @staticmethod
    def rescore(q: np.ndarray, rows: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """Exact scores of candidate rows, in float64: q (m, d), rows (m, c, d) -> (m, c)."""
        raise NotImplementedError


class DotScorer(LinearScorer):
    ranking_is_final = True
    ann_space = "ip"  # the HNSW graph's space (core.search._hnsw)

    def finish(self, q, scores):
        if self.scale == 1.0:
            return scores
        with np.errstate(over="ignore"):  # beyond float32: refused if it is a result
            return scores / np.float32(self.scale)

    @staticmethod
    def rescore(q, rows, norms):
        return np.einsum("md,mcd->mc", q.astype(np.float64), rows.astype(np.float64))


class CosineScorer(LinearScorer):
    """Ranks by ``x . q_hat / |x|``: the query is made unit length first, so a product never
    exceeds the row's norm (no overflow for any finite row)."""

    uses_norms = "norms"
    ann_space = "cos"

    def __init__(self, corpus, queries, **kwargs):
        unit = queries * _safe_inverse(row_norms(queries))[:, None]
        super().__init__(corpus, unit, **kwargs)

    def row_terms(self, norms, sq):
        if norms is None:
            norms = np.sqrt(sq)
        if self.scale == 1.0:
            return _safe_inverse(norms), None
        # Rescaled: the operand carries the scale, so rows divide by scale * |x| (in float64:
        # a norm may exceed float32's range, the product of the two never does).
        scaled = np.asarray(norms, np.float64) * self.scale
        inv = np.divide(1.0, scaled, out=np.zeros_like(scaled), where=scaled > 0)
        return np.minimum(inv, np.finfo(np.float32).max).astype(np.float32), None

    def finish(self, q, scores):
        return np.clip(scores, -1.0, 1.0)

    @classmethod
    def mode_row_factor(cls, unit):
        return not unit

    @classmethod
    def mode_terms(cls, norms, unit, c):
        return 1.0, (None if unit else _safe_inverse(norms)), None

    @staticmethod
    def rescore(q, rows, norms):
        q64 = q.astype(np.float64)
        dots = np.einsum("md,mcd->mc", q64, rows.astype(np.float64))
        denom = norms.astype(np.float64) * np.linalg.norm(q64, axis=1)[:, None]
        return np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)


class EuclideanScorer(LinearScorer):
    """Ranks by ``2 x . q - |x|^2`` (the query's own ``|q|^2`` is constant per row of scores);
    the survivors become ``-sqrt(|q|^2 + |x|^2 - 2 x . q)``, clamped at 0."""

    uses_norms = "squared"
    ann_space = "l2"
    query_factor = 2.0
    scale_power = 2

    def __init__(self, corpus, queries, **kwargs):
        super().__init__(corpus, queries, **kwargs)
        if self.scale == 1.0:
            self.query_sq = row_norms(queries, squared=True)
            if not np.isfinite(np.max(self.query_sq, initial=0.0)):
                raise ScoreOverflow("a query's squared norm is beyond float32's range")
        else:  # from the norms: a huge query's squared norm overflows float32 before scaling
            self.query_sq = self._scaled(row_norms(queries).astype(np.float64) ** 2)

    def operand_scale(self):
        return self.scale * self.scale  # distances scale by s: squared terms by s**2

    def _scaled(self, sq: np.ndarray) -> np.ndarray:
        if self.scale == 1.0:
            return sq
        return (sq.astype(np.float64) * self.scale**2).astype(np.float32)

    def row_terms(self, norms, sq):
        if sq is None:
            sq = np.asarray(norms, np.float64) ** 2 if self.scale != 1.0 else norms * norms
        return None, self._scaled(sq)

    def finish(self, q, scores):
        sq_dist = self.query_sq[q, None] - scores
        np.maximum(sq_dist, 0.0, out=sq_dist)
        dist = np.sqrt(sq_dist)
        if self.scale != 1.0:
            with np.errstate(over="ignore"):  # beyond float32: refused if it is a result
                dist = dist / np.float32(self.scale)
        return -dist

    @classmethod
    def mode_terms(cls, norms, unit, c):
        sub = (norms.astype(np.float64) ** 2 * c).astype(np.float32)
        return 2.0, None, sub

    @staticmethod
    def rescore(q, rows, norms):
        diff = rows.astype(np.float64) - q.astype(np.float64)[:, None, :]
        return -np.sqrt(np.einsum("mcd,mcd->mc", diff, diff))


# ---------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its name, how its values read, its scorer and the modes that support it.

    Attributes
    ----------
    name : str
        What callers pass as ``method`` ("cosine", ...).
    higher_is_better : bool
        Of the value people see: True for a similarity, False for a distance. The engine's own
        scores are always higher-is-better (a distance is scored as ``-distance``).
    scorer : type of Scorer
        Scores blocks for exact search (and, for linear scorers, the memory modes).
    modes : frozenset of str
        Memory modes that support the metric ("float32" always).
    description : str
        One line for help texts.
    """

    name: str
    higher_is_better: bool
    scorer: type[Scorer]
    modes: frozenset[str] = field(default_factory=lambda: frozenset({"float32"}))
    description: str = ""

    @property
    def is_distance(self) -> bool:
        """Whether the value is a distance (lower is better)."""
        return not self.higher_is_better

    @property
    def value_name(self) -> str:
        """ "distance" or "similarity"."""
        return "distance" if self.is_distance else "similarity"

    @property
    def label(self) -> str:
        """How a value is named for people: "cosine similarity", "euclidean distance"."""
        return f"{self.name} {self.value_name}"

    def shown(self, scores):
        """Engine scores (higher is better) as people read them: a distance becomes positive."""
        return -scores if self.is_distance else scores

    def engine_score(self, value):
        """The inverse of :meth:`shown`: a displayed value (a threshold) as an engine score."""
        return -value if self.is_distance else value

    def passes(self, value: float, threshold: float) -> bool:
        """Whether a displayed ``value`` is at least as alike as ``threshold``."""
        return value <= threshold if self.is_distance else value >= threshold

    def check_mode(self, mode: str) -> None:
        """Refuse a memory mode this metric has no kernel for, naming those it has."""
        if mode not in ALL_MODES:
            valid = ", ".join(MODES + APPROXIMATE_MODES)
            raise InvalidInputError(f"unknown mode {mode!r}; choose one of {valid}")
        if mode not in self.modes:
            valid = ", ".join(sorted(self.modes))
            raise InvalidInputError(
                f"metric {self.name!r} is not available in mode {mode!r}; it supports: {valid}"
            )

    def __str__(self) -> str:
        return self.name


_lock = threading.Lock()
_REGISTRY: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add a metric (its name must be new); returns ``spec``."""
    if not isinstance(spec, MetricSpec):
        raise InvalidInputError(f"register_metric takes a MetricSpec, got {type(spec).__name__}")
    name = spec.name.lower()
    if name != spec.name or not name.isidentifier():
        raise InvalidInputError(f"metric names are lower-case identifiers, got {spec.name!r}")
    if "float32" not in spec.modes:
        raise InvalidInputError(f"metric {spec.name!r} must support mode 'float32'")
    with _lock:
        if name in _REGISTRY:
            raise InvalidInputError(f"a metric named {name!r} is already registered")
        _REGISTRY[name] = spec
    return spec


def unregister_metric(name: str) -> None:
    """Remove a metric added with :func:`register_metric` (built-in ones stay)."""
    if name in _BUILTIN:
        raise InvalidInputError(f"{name!r} is a built-in metric and cannot be removed")
    with _lock:
        if _REGISTRY.pop(name, None) is None:
            raise InvalidInputError(f"no metric named {name!r} is registered")


def metric_names() -> tuple[str, ...]:
    """Names of every registered metric, built-in ones first (cosine, dot, euclidean)."""
    return tuple(_REGISTRY)


def iter_metrics() -> Iterator[MetricSpec]:
    """Every registered :class:`MetricSpec`."""
    return iter(tuple(_REGISTRY.values()))


def get_metric(method) -> MetricSpec:
    """The :class:`MetricSpec` for a name, a ``Metric`` member or a spec; the error lists the
    valid names."""
    if isinstance(method, MetricSpec):
        return method
    name = str(getattr(method, "value", method)).lower()
    spec = _REGISTRY.get(name)
    if spec is None:
        valid = ", ".join(repr(m) for m in _REGISTRY)
        raise InvalidInputError(f"unknown method {method!r}; use one of {valid}")
    return spec


def safe_scale(bound: float, power: int = 1) -> float:
    """A power of two ``s <= 1`` with ``s ** power * bound`` below 2**100 (1 if already so)."""
    if not bound > 0:
        return 1.0
    if not np.isfinite(bound):
        bound = float(np.finfo(np.float64).max)
    e = max(0, int(np.ceil(np.log2(bound))) - _SAFE_LOG2)
    return 2.0 ** -((e + power - 1) // power)


for _spec in (
    MetricSpec("cosine", True, CosineScorer, ALL_MODES, "angle between vectors, in [-1, 1]"),
    MetricSpec("dot", True, DotScorer, ALL_MODES, "inner product"),
    MetricSpec("euclidean", False, EuclideanScorer, ALL_MODES, "straight-line distance"),
):
    _REGISTRY[_spec.name] = _spec
_BUILTIN = frozenset(_REGISTRY)
