"""Clusters of a map's points: HDBSCAN (density, with noise) or k-means (a chosen k).

Both run on low-dimensional points: the 2-D layout for PCA and t-SNE (what is coloured together
is what sits together), and for UMAP a 10-dimensional UMAP embedding of the same vectors
(:attr:`core.viz.Layout.cluster_space`), where neighbouring topics are not squeezed against each
other as they are in a picture. HDBSCAN (scikit-learn's) finds the number of groups
itself and marks points in no dense region as noise (label -1); k-means splits into exactly
``k`` groups and has no noise.

Large maps are clustered on a seeded sample of at most ``max_rows`` points; every other point
takes the label of its nearest sampled point (one 2-D nearest-neighbour query per point), so
the cost stays that of the sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from core.errors import InvalidInputError

CLUSTER_METHODS = ("hdbscan", "kmeans", "none")
NOISE = -1
DEFAULT_MAX_ROWS = 50_000
# HDBSCAN's min_samples (how dense a point's neighbourhood must be for it not to be noise) as a
# share of min_cluster_size. 1 (scikit-learn's default) on a 2-D map, where density varies
# inside a group and a smaller value splits groups; 0.5 on UMAP's cluster space, which packs each
# neighbourhood tightly (min_dist 0) and where 1 calls the edges of small topics noise or merges
# two of them (the sample: 5-8 clusters over five seeds with 1, 8 for each with 0.5).
CLUSTER_SPACE_MIN_SAMPLES = 0.5


@dataclass(frozen=True)
class ClusterParams:
    """How to cluster a map.

    Parameters
    ----------
    method : {"hdbscan", "kmeans", "none"}
    k : int
        k-means: the number of clusters (clamped to the number of points).
    min_cluster_size : int or None
        HDBSCAN: the smallest group that counts as a cluster; ``None``: about 2% of the points,
        at least 4 (sized for "a topic", not for every tight pair).
    seed : int
    max_rows : int
        Cluster at most this many points (a seeded sample); the rest take their nearest
        sampled point's label.
    """

    method: str = "hdbscan"
    k: int = 8
    min_cluster_size: int | None = None
    seed: int = 0
    max_rows: int = DEFAULT_MAX_ROWS

    def __post_init__(self) -> None:
        if self.method not in CLUSTER_METHODS:
            raise InvalidInputError(
                f"unknown cluster method {self.method!r}; choose one of {list(CLUSTER_METHODS)}"
            )
        if int(self.k) < 1:
            raise InvalidInputError(f"k must be at least 1, got {self.k}")
        if self.min_cluster_size is not None and int(self.min_cluster_size) < 2:
            raise InvalidInputError(
                f"min_cluster_size must be at least 2, got {self.min_cluster_size}"
            )
        if int(self.max_rows) < 10:
            raise InvalidInputError(f"max_rows must be at least 10, got {self.max_rows}")

    def relevant(self) -> dict:
        keep = {"method", "seed", "max_rows"} | {
            "kmeans": {"k"},
            "hdbscan": {"min_cluster_size"},
        }.get(self.method, set())
        return {k: v for k, v in asdict(self).items() if k in keep}


def default_min_cluster_size(n: int) -> int:
    """About 2% of ``n`` points: at least 4 (fewer only when ``n`` is tiny), at most 500."""
    return int(max(2, min(max(4, round(0.02 * n)), 500, n // 2)))


def cluster_points(
    xy: np.ndarray, params: ClusterParams | None = None, *, min_samples_share: float = 1.0
) -> np.ndarray:
    """Cluster low-dimensional points.

    Parameters
    ----------
    xy : array_like of shape (n, c)
        Map coordinates (``c = 2``) or a layout's cluster space (a few dimensions).
    params : ClusterParams, optional
        Default: HDBSCAN with :func:`default_min_cluster_size`.
    min_samples_share : float
        HDBSCAN: ``min_samples`` as a share of the min cluster size (see
        :data:`CLUSTER_SPACE_MIN_SAMPLES`).

    Returns
    -------
    numpy.ndarray
        int64 of shape (n,): cluster ids ``0..c-1``, numbered by decreasing size (ties by first
        point), and ``-1`` for noise.
    """
    params = params or ClusterParams()
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or not 1 <= xy.shape[1] <= 64:
        raise InvalidInputError(
            f"xy must have shape (n, c) with 1 <= c <= 64 (map or cluster-space coordinates), "
            f"got {xy.shape}"
        )
    if not np.isfinite(xy).all():
        raise InvalidInputError("xy holds NaN or infinite coordinates; recompute the layout")
    n = xy.shape[0]
    if params.method == "none" or n < 3:  # one group: nothing to split
        return np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    if n > params.max_rows:
        rng = np.random.default_rng(params.seed)
        rows = np.sort(rng.choice(n, size=params.max_rows, replace=False))
    sample = xy[rows]
    if params.method == "kmeans":
        from sklearn.cluster import KMeans

        k = int(min(params.k, len(sample)))
        labels = KMeans(n_clusters=k, n_init=4, random_state=params.seed).fit_predict(sample)
    else:
        from sklearn.cluster import HDBSCAN

        size = params.min_cluster_size or default_min_cluster_size(n)
        # Sizes refer to the whole map; the sample holds proportionally fewer points.
        # (at least 5 there, or the asked size if smaller, so the sample's noise stays noise).
        size = max(min(size, 5), round(size * len(sample) / n))
        size = int(min(size, len(sample)))
        labels = HDBSCAN(
            min_cluster_size=size, min_samples=max(1, round(min_samples_share * size)), copy=True
        ).fit_predict(sample)
    labels = np.asarray(labels, dtype=np.int64)
    if len(rows) < n:
        labels = _assign_nearest(xy, sample, labels, rows)
    return _renumber_by_size(labels)


def _assign_nearest(
    xy: np.ndarray, sample: np.ndarray, labels: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """Labels for every point: sampled points keep theirs, others take the nearest sample's."""
    from sklearn.neighbors import KDTree

    out = np.empty(xy.shape[0], dtype=np.int64)
    out[rows] = labels
    rest = np.setdiff1d(np.arange(xy.shape[0]), rows, assume_unique=True)
    tree = KDTree(sample)
    for start in range(0, len(rest), 65_536):
        chunk = rest[start : start + 65_536]
        _, nearest = tree.query(xy[chunk], k=1)
        out[chunk] = labels[nearest[:, 0]]
    return out


def _renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Cluster 0 is the largest; noise stays -1."""
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    keep = ids != NOISE
    ids, first, counts = ids[keep], first[keep], counts[keep]
    order = np.lexsort((first, -counts))
    mapping = {int(ids[o]): new for new, o in enumerate(order)}
    out = np.full_like(labels, NOISE)
    for old, new in mapping.items():
        out[labels == old] = new
    return out
