"""Two-dimensional layouts of a corpus for its map: PCA, UMAP and t-SNE.

- **PCA** (:func:`core.viz.fit_projection`): linear, fast, deterministic, and a query lands in
  the same plane as the documents. It keeps only the two directions of largest variance, which
  for text embeddings is a few percent of it, so topics overlap.
- **UMAP** (``umap-learn``, optional: ``pip install 'embedding-workbench[map]'``) and **t-SNE**
  (scikit-learn) keep neighbourhoods instead, so topics come apart as islands; distances
  *between* islands mean little.

Large collections: UMAP and t-SNE lay out a seeded sample of at most ``max_exact_rows`` rows
exactly; every other row (and every query) is *placed* at the distance-weighted mean position of
its nearest laid-out neighbours in the original space (:func:`place_by_neighbours`, one exact
top-k search). That is what UMAP's own ``transform`` and openTSNE's use to initialise new points,
without their optimisation epochs, so placing a million rows costs one blocked search instead of
minutes of numba. :attr:`Layout.note` says when it happened.

Before UMAP and t-SNE the vectors are reduced to at most :data:`PRE_PCA_DIM` principal components
(the usual practice for t-SNE; for UMAP it halves the neighbour search and changes nothing
visible): a PCA keeps the structure those methods need and drops noise dimensions.

Clusters need more room than a picture: squeezing every neighbourhood into two dimensions glues
neighbouring topics together at thin bridges, and a density clustering then merges them. So UMAP
also computes a :data:`CLUSTER_DIM`-dimensional embedding of the same vectors with the same
parameters (as BERTopic does: one UMAP to cluster on, one to draw), kept as
:attr:`Layout.cluster_space`; :func:`core.viz.compute_map` clusters on it. PCA and t-SNE keep
clustering on what is drawn.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from core.errors import InvalidInputError
from core.search._engine import as_matrix, search
from core.viz._projection import Projection, fit_projection

LAYOUT_METHODS = ("pca", "umap", "tsne")
LAYOUT_METRICS = ("cosine", "euclidean")
METHOD_NAMES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
# Rows laid out exactly by default; the rest are placed (see the module docstring).
DEFAULT_MAX_EXACT = {"umap": 20_000, "tsne": 5_000}
PRE_PCA_DIM = 50
PLACE_NEIGHBOURS = 10
# Dimensions of the UMAP embedding clusters are found on (BERTopic uses 5; 10 keeps the eight
# topics of the sample apart for every seed we tried, 5 does not).
CLUSTER_DIM = 10
# UMAP and t-SNE need a handful of points; fewer fall back to PCA (and say so).
MIN_NONLINEAR_ROWS = 5

Progress = Callable[[str, float], None]


def default_neighbours(n: int) -> int:
    """UMAP neighbourhood size for ``n`` documents: 15 (UMAP's default) from 120 documents up,
    about an eighth of the corpus below that (at least 5), so a topic of nine documents in a
    corpus of 72 is one neighbourhood and not glued to the next."""
    return int(max(5, min(15, n // 8)))


def default_perplexity(n: int) -> float:
    """t-SNE perplexity for ``n`` documents: 30 (the usual default) from 240 documents up, an
    eighth of the corpus below that (at least 5), for the same reason as
    :func:`default_neighbours`."""
    return float(max(5, min(30, n // 8)))


def umap_available() -> bool:
    """Whether the optional ``umap-learn`` package is installed (without importing it)."""
    return importlib.util.find_spec("umap") is not None


def available_methods() -> tuple[str, ...]:
    """The layout methods this installation can run: PCA and t-SNE always, UMAP when
    ``umap-learn`` is installed."""
    return tuple(m for m in LAYOUT_METHODS if m != "umap" or umap_available())


@dataclass(frozen=True)
class LayoutParams:
    """What a layout is computed from (besides the vectors); hashable, a cache key.

    Parameters
    ----------
    method : {"pca", "umap", "tsne"}
    n_neighbors : int
        UMAP: the neighbourhood size (small: local detail, large: global shape); see
        :func:`default_neighbours` for a size that suits small corpora.
    min_dist : float
        UMAP: how tightly points may pack, in [0, 1]; 0 (the default here, as in BERTopic)
        packs each topic tightly, so the clusters found on the map are clearer.
    perplexity : float
        t-SNE: the effective number of neighbours (clamped below a third of the rows).
    metric : {"cosine", "euclidean"}
        UMAP and t-SNE: similarity in the original space (PCA is always euclidean).
    seed : int
    max_exact_rows : int or None
        Lay out at most this many rows exactly (a seeded sample); place the rest. ``None``: the
        method's default (:data:`DEFAULT_MAX_EXACT`; PCA fits on 20,000 rows and projects all).
    """

    method: str = "pca"
    n_neighbors: int = 15
    min_dist: float = 0.0
    perplexity: float = 30.0
    metric: str = "cosine"
    seed: int = 0
    max_exact_rows: int | None = None

    def __post_init__(self) -> None:
        if self.method not in LAYOUT_METHODS:
            raise InvalidInputError(
                f"unknown layout method {self.method!r}; choose one of {list(LAYOUT_METHODS)}"
            )
        if self.metric not in LAYOUT_METRICS:
            raise InvalidInputError(
                f"unknown layout metric {self.metric!r}; choose one of {list(LAYOUT_METRICS)}"
            )
        if not 2 <= int(self.n_neighbors) <= 200:
            raise InvalidInputError(f"n_neighbors must be in 2..200, got {self.n_neighbors}")
        if not 0.0 <= float(self.min_dist) <= 1.0:
            raise InvalidInputError(f"min_dist must be in [0, 1], got {self.min_dist}")
        if not 1.0 <= float(self.perplexity) <= 100.0:
            raise InvalidInputError(f"perplexity must be in [1, 100], got {self.perplexity}")
        if self.max_exact_rows is not None and int(self.max_exact_rows) < MIN_NONLINEAR_ROWS:
            raise InvalidInputError(
                f"max_exact_rows must be at least {MIN_NONLINEAR_ROWS}, got {self.max_exact_rows}"
            )

    def relevant(self) -> dict:
        """Only the parameters that change this method's result (for cache keys and notes)."""
        keep = {"method", "seed", "max_exact_rows"}
        by_method = {
            "umap": {"n_neighbors", "min_dist", "metric"},
            "tsne": {"perplexity", "metric"},
        }
        keep |= by_method.get(self.method, set())
        return {k: v for k, v in asdict(self).items() if k in keep}

    def key(self) -> str:
        """A short stable digest of :meth:`relevant` (file names, cache keys)."""
        text = json.dumps(self.relevant(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Layout:
    """Map coordinates of every row of a corpus.

    Attributes
    ----------
    params : LayoutParams
        What was asked for (``method`` may say "umap" while ``used_method`` says "pca" when the
        corpus was too small).
    used_method : str
    xy : numpy.ndarray
        float32 of shape (n_docs, 2), collection order.
    fit_rows : numpy.ndarray
        int64 of shape (n_fit,), sorted: the rows laid out exactly (all rows when none were
        placed; PCA: the rows its plane was fitted on).
    projection : Projection or None
        The PCA plane (``used_method == "pca"``).
    axis_titles : tuple of str
    note : str
        One honest sentence about sampling and placement ("" when every row was laid out).
    seconds : float
        Wall time of the layout.
    cluster_space : numpy.ndarray or None
        UMAP: float32 of shape (n_docs, CLUSTER_DIM), the higher-dimensional embedding to cluster
        on (see the module docstring); ``None`` for PCA and t-SNE (cluster on ``xy``).
    """

    params: LayoutParams
    used_method: str
    xy: np.ndarray
    fit_rows: np.ndarray
    projection: Projection | None = None
    axis_titles: tuple[str, str] = ("", "")
    note: str = ""
    seconds: float = field(default=0.0, compare=False)
    cluster_space: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def n_placed(self) -> int:
        """Rows placed by their neighbours rather than laid out (0 for PCA: it projects)."""
        if self.used_method == "pca":
            return 0
        return int(self.xy.shape[0] - self.fit_rows.shape[0])

    def transform(self, vectors: np.ndarray, corpus: np.ndarray) -> np.ndarray:
        """Map positions of new vectors (queries): float32 of shape (m, 2).

        Parameters
        ----------
        vectors : array_like of shape (m, dim) or (dim,)
        corpus : array_like of shape (n_docs, dim)
            The vectors this layout was computed from (UMAP and t-SNE place new points among
            its laid-out rows).
        """
        if self.projection is not None:
            return self.projection.transform(vectors)
        corpus = as_matrix(corpus, "corpus")
        if corpus.shape[0] != self.xy.shape[0]:
            raise InvalidInputError(
                f"corpus has {corpus.shape[0]} rows but the layout has {self.xy.shape[0]}; pass "
                "the vectors the layout was computed from"
            )
        return place_by_neighbours(
            vectors, corpus[self.fit_rows], self.xy[self.fit_rows], metric=self.params.metric
        )


def place_by_neighbours(
    vectors: np.ndarray,
    anchors: np.ndarray,
    anchor_xy: np.ndarray,
    *,
    k: int = PLACE_NEIGHBOURS,
    metric: str = "cosine",
) -> np.ndarray:
    """Place vectors at the weighted mean map position of their ``k`` nearest anchors.

    Inverse-square distance weights over each row's ``k`` neighbours (cosine distance
    ``1 - cos``, or euclidean), so a vector equal to an anchor lands on it and one halfway between
    two islands lands between them.

    Parameters
    ----------
    vectors : array_like of shape (m, dim) or (dim,)
    anchors : array_like of shape (n_anchors, dim)
        Rows already laid out.
    anchor_xy : array_like of shape (n_anchors, c)
        Their positions (2 for a map; any ``c``, e.g. the cluster space).
    k : int
    metric : {"cosine", "euclidean"}

    Returns
    -------
    numpy.ndarray
        float32 of shape (m, c).
    """
    queries = as_matrix(vectors, "vectors")
    anchors = as_matrix(anchors, "anchors")
    anchor_xy = np.asarray(anchor_xy, dtype=np.float32)
    if anchor_xy.ndim != 2 or anchor_xy.shape[0] != anchors.shape[0]:
        raise InvalidInputError(
            f"anchor_xy has shape {anchor_xy.shape}; expected ({anchors.shape[0]}, c): one "
            "position per anchor"
        )
    k = max(1, min(int(k), anchors.shape[0]))
    out = np.empty((queries.shape[0], anchor_xy.shape[1]), dtype=np.float32)
    for start in range(0, queries.shape[0], 8_192):  # bounded (block, k) temporaries
        block = queries[start : start + 8_192]
        ids, scores = search(anchors, block, k, metric)
        dist = 1.0 - scores if metric == "cosine" else -scores
        dist = np.clip(dist.astype(np.float64), 0.0, None)
        scale = np.maximum(dist[:, -1:], 1e-12)
        weights = 1.0 / (dist / scale + 1e-6) ** 2
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + len(block)] = np.einsum("mk,mkc->mc", weights, anchor_xy[ids])
    return out


def fit_layout(
    x: np.ndarray, params: LayoutParams | None = None, *, progress: Progress | None = None
) -> Layout:
    """Lay out the rows of ``x`` in 2-D.

    Parameters
    ----------
    x : array_like of shape (n_docs, dim)
        The corpus embeddings (float32, one row per document).
    params : LayoutParams, optional
        Method and parameters (default: PCA).
    progress : callable(message, fraction), optional
        Told what is running (``fraction`` in [0, 1]).

    Returns
    -------
    Layout

    Raises
    ------
    InvalidInputError
        Empty input, or UMAP asked for without ``umap-learn`` installed.
    """
    import time

    params = params or LayoutParams()
    report = progress or (lambda _message, _fraction: None)
    x = as_matrix(x, "x")
    n = x.shape[0]
    if n == 0:
        raise InvalidInputError("cannot lay out an empty corpus (0 rows); embed documents first")
    if params.method == "umap" and not umap_available():
        raise InvalidInputError(
            "UMAP needs the optional package umap-learn (about 150 MB with numba); install it "
            "with pip install 'embedding-workbench[map]', or choose PCA or t-SNE"
        )
    started = time.perf_counter()
    method = params.method
    if method != "pca" and n < MIN_NONLINEAR_ROWS:
        layout = _pca_layout(x, params, report)
        note = (
            f"{METHOD_NAMES[method]} needs at least {MIN_NONLINEAR_ROWS} documents; "
            f"showing PCA for these {n}."
        )
        return _with(layout, note=note, seconds=time.perf_counter() - started)
    if method == "pca":
        layout = _pca_layout(x, params, report)
        return _with(layout, seconds=time.perf_counter() - started)

    limit = params.max_exact_rows or DEFAULT_MAX_EXACT[method]
    rng = np.random.default_rng(params.seed)
    fit_rows = (
        np.arange(n, dtype=np.int64)
        if n <= limit
        else np.sort(rng.choice(n, size=limit, replace=False)).astype(np.int64)
    )
    report(f"Reducing {len(fit_rows):,} vectors to {PRE_PCA_DIM} dimensions (PCA)…", 0.05)
    reduced = _pre_reduce(x[fit_rows], params.seed)
    report(f"{METHOD_NAMES[method]} on {len(fit_rows):,} documents…", 0.15)
    fit_space = knn = None
    if method == "umap":
        from core.viz import _umap_warm

        if not _umap_warm.prepared():
            report("Preparing UMAP's compiled code (once per process; up to half a minute)…", 0.1)
            _umap_warm.prepare_umap()
            report(f"UMAP on {len(fit_rows):,} documents…", 0.15)
        fit_xy, knn = _umap(reduced, params)
        report(f"UMAP to {CLUSTER_DIM} dimensions for the clusters…", 0.5)
        # (Spectral initialisation needs more points than dimensions.)
        dim = min(CLUSTER_DIM, len(fit_rows) - 2)
        fit_space, _ = _umap(reduced, params, n_components=dim, knn=knn)
    else:
        fit_xy = _tsne(reduced, params)
    xy = np.empty((n, 2), dtype=np.float32)
    xy[fit_rows] = fit_xy
    space = None if fit_space is None else np.empty((n, fit_space.shape[1]), dtype=np.float32)
    if space is not None:
        space[fit_rows] = fit_space
    note = ""
    if len(fit_rows) < n:
        report(f"Placing the other {n - len(fit_rows):,} documents by their neighbours…", 0.85)
        rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
        # One neighbour search places a row in both the map and the cluster space.
        anchors = fit_xy if fit_space is None else np.hstack([fit_xy, fit_space])
        placed = place_by_neighbours(x[rest], x[fit_rows], anchors, metric=params.metric)
        xy[rest] = placed[:, :2]
        if space is not None:
            space[rest] = placed[:, 2:]
        note = (
            f"{METHOD_NAMES[method]} laid out a random sample of {len(fit_rows):,} of the "
            f"{n:,} documents; the other {n - len(fit_rows):,} are placed at the weighted mean "
            f"position of their {PLACE_NEIGHBOURS} nearest laid-out neighbours."
        )
    report("Layout done.", 1.0)
    name = METHOD_NAMES[method]
    return Layout(
        params=params,
        used_method=method,
        xy=np.ascontiguousarray(xy),
        fit_rows=fit_rows,
        axis_titles=(f"{name} 1", f"{name} 2"),
        note=note,
        seconds=time.perf_counter() - started,
        cluster_space=space,
    )


def _with(layout: Layout, **changes) -> Layout:
    from dataclasses import replace

    return replace(layout, **changes)


def _pca_layout(x: np.ndarray, params: LayoutParams, report: Progress) -> Layout:
    report("PCA…", 0.1)
    limit = params.max_exact_rows or 20_000
    projection = fit_projection(x, "pca", seed=params.seed, max_fit_rows=limit)
    xy = np.empty((x.shape[0], 2), dtype=np.float32)
    for start in range(0, x.shape[0], 65_536):
        xy[start : start + 65_536] = projection.transform(x[start : start + 65_536])
    n = x.shape[0]
    fit_rows = (
        np.arange(n, dtype=np.int64)
        if n <= limit
        else np.sort(np.random.default_rng(params.seed).choice(n, size=limit, replace=False))
    )
    titles = projection.axis_titles()[:2]
    report("Layout done.", 1.0)
    return Layout(
        params=params,
        used_method="pca",
        xy=xy,
        fit_rows=fit_rows.astype(np.int64),
        projection=projection,
        axis_titles=(titles[0], titles[1]),
    )


def _pre_reduce(x: np.ndarray, seed: int) -> np.ndarray:
    """At most :data:`PRE_PCA_DIM` principal components of ``x``: float32 (n, <= 50)."""
    if x.shape[1] <= PRE_PCA_DIM:
        return np.ascontiguousarray(x, dtype=np.float32)
    dim = min(PRE_PCA_DIM, x.shape[0])
    projection = fit_projection(x, "pca", n_components=dim, seed=seed, max_fit_rows=None)
    return projection.transform(x)


def _umap(
    x: np.ndarray, params: LayoutParams, n_components: int = 2, knn: tuple | None = None
) -> tuple[np.ndarray, tuple | None]:
    """UMAP of ``x``: float32 (n, n_components), and its nearest-neighbour graph when UMAP
    searched for one (corpora above UMAP's small-data size, 4,096 rows), for the next call on the
    same rows to reuse instead of searching again."""
    import umap  # optional; checked by fit_layout

    from core.viz._umap_warm import enable_umap_disk_cache

    enable_umap_disk_cache()

    n = x.shape[0]
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=int(min(params.n_neighbors, n - 1)),
        min_dist=float(params.min_dist),
        metric=params.metric,
        random_state=int(params.seed),
        # Spectral initialisation needs a connected graph; tiny corpora get a random start.
        init="spectral" if n > 2 * params.n_neighbors else "random",
        n_jobs=1,
        precomputed_knn=knn or (None, None, None),
    )
    embedding = np.ascontiguousarray(reducer.fit_transform(x), dtype=np.float32)
    graph = getattr(reducer, "_knn_indices", None)
    if graph is None:  # small data: UMAP computed exact distances, cheaply
        return embedding, None
    return embedding, (graph, reducer._knn_dists, getattr(reducer, "_knn_search_index", None))


def _tsne(x: np.ndarray, params: LayoutParams) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = x.shape[0]
    perplexity = float(min(params.perplexity, max(1.0, (n - 1) / 3)))
    model = TSNE(
        n_components=2,
        perplexity=perplexity,
        metric=params.metric,
        init="pca",
        random_state=int(params.seed),
        learning_rate="auto",
    )
    return np.ascontiguousarray(model.fit_transform(x), dtype=np.float32)
