"""A corpus map: layout + clusters + labels in one call, cached on disk beside a saved collection.

:func:`compute_map` is what the dashboard, the CLI (``embedding-workbench map``) and a notebook
call; :meth:`CorpusMap.to_frame` is the table the CLI writes (``x``, ``y``, ``cluster``, ``label``,
one row per document in collection order).

For a saved collection, :func:`load_or_compute_map` keeps each result in ``<collection>/maps/``,
one ``.npz`` per content hash + parameters, written atomically; a changed collection has a new
content hash, so an old file is never read for it.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InvalidInputError
from core.viz._clusters import CLUSTER_SPACE_MIN_SAMPLES, ClusterParams, cluster_points
from core.viz._labels import ClusterSummary, summarise_clusters
from core.viz._layout import Layout, LayoutParams, Progress, fit_layout
from core.viz._projection import Projection

MAPS_DIR = "maps"
_FORMAT = 4  # 2: clusters on the cluster space; 3: labels ranked by a model; 4: its name stored


@dataclass(frozen=True)
class CorpusMap:
    """Where every document sits, which cluster it is in, and what each cluster is about.

    Attributes
    ----------
    layout : Layout
    clusters : numpy.ndarray
        int64 of shape (n_docs,): cluster id per document, ``-1`` for noise.
    summaries : tuple of ClusterSummary
        One per cluster id present (noise last).
    cluster_params : ClusterParams
    label_model : str
        The model that ranked the labels' candidate terms (``provider/model``, see
        :mod:`core.viz._labels`); empty when they are by counts alone.
    label_note : str
        Why the labels are by counts only although a model was given (empty otherwise).
    """

    layout: Layout
    clusters: np.ndarray
    summaries: tuple[ClusterSummary, ...]
    cluster_params: ClusterParams
    label_model: str = ""
    label_note: str = ""

    @property
    def labels_by(self) -> str:
        """What chose the labels' terms: ``"counts"`` (c-TF-IDF) or ``"counts + MODEL"``."""
        return f"counts + {self.label_model}" if self.label_model else "counts"

    @property
    def xy(self) -> np.ndarray:
        return self.layout.xy

    def labels(self) -> dict[int, str]:
        """cluster id -> label."""
        return {s.cluster: s.label for s in self.summaries}

    def document_labels(self) -> list[str]:
        """The label of each document's cluster, collection order."""
        names = self.labels()
        return [names[int(c)] for c in self.clusters]

    def to_frame(self) -> pd.DataFrame:
        """``x``, ``y`` (float32), ``cluster`` (int64, -1 noise), ``label`` (str): one row per
        document, collection order."""
        return pd.DataFrame(
            {
                "x": self.xy[:, 0],
                "y": self.xy[:, 1],
                "cluster": self.clusters.astype(np.int64),
                "label": self.document_labels(),
            }
        )


def compute_map(
    embeddings: np.ndarray,
    texts: list[str],
    layout: LayoutParams | None = None,
    clusters: ClusterParams | None = None,
    *,
    progress: Progress | None = None,
    term_embedder=None,
) -> CorpusMap:
    """Lay out, cluster and label a corpus.

    Parameters
    ----------
    embeddings : array_like of shape (n_docs, dim)
    texts : list of str, length n_docs
    layout : LayoutParams, optional
        Default: PCA.
    clusters : ClusterParams, optional
        Default: HDBSCAN.
    progress : callable(message, fraction), optional
    term_embedder : LangChain ``Embeddings``, optional
        The model that made ``embeddings`` (it must return vectors of the same size): it ranks
        each cluster's candidate label terms. Without it, labels are by counts alone.

    Returns
    -------
    CorpusMap
    """
    layout = layout or LayoutParams()
    clusters = clusters or ClusterParams()
    if len(texts) != len(embeddings):
        raise InvalidInputError(
            f"{len(texts)} texts for {len(embeddings)} embeddings; they must match one to one"
        )
    report = progress or (lambda _m, _f: None)

    def scaled(message: str, fraction: float) -> None:
        report(message, 0.8 * fraction)

    fitted = fit_layout(embeddings, layout, progress=scaled)
    report("Finding clusters…", 0.82)
    ids = cluster_layout(fitted, clusters)
    fitted = replace(fitted, cluster_space=None)  # used once: not kept with the map
    report("Labelling clusters…", 0.9)
    notes: list[str] = []
    summaries = summarise_clusters(
        texts,
        ids,
        embeddings=embeddings,
        seed=clusters.seed,
        term_embedder=term_embedder,
        on_fallback=notes.append,
    )
    report("Map ready.", 1.0)
    model = term_model_name(term_embedder) if term_embedder is not None and not notes else ""
    return CorpusMap(fitted, ids, tuple(summaries), clusters, model, " ".join(notes))


def cluster_layout(layout: Layout, clusters: ClusterParams) -> np.ndarray:
    """Cluster ids of a layout's documents: found on UMAP's cluster space when it has one (see
    :mod:`core.viz._layout`), else on the drawn ``xy``."""
    if layout.cluster_space is None:
        return cluster_points(layout.xy, clusters)
    return cluster_points(
        layout.cluster_space, clusters, min_samples_share=CLUSTER_SPACE_MIN_SAMPLES
    )


def term_model_name(embedder) -> str:
    """``provider/model`` of an embedder with a ``spec``, else its class name."""
    spec = getattr(embedder, "spec", None)
    if spec is not None:
        return f"{spec.provider}/{spec.model}"
    return type(embedder).__name__


def map_cache_file(
    collection_dir: str | os.PathLike,
    content_hash: str,
    layout: LayoutParams,
    clusters: ClusterParams,
    term_embedder=None,
) -> Path:
    """Where :func:`load_or_compute_map` keeps this map: ``<collection>/maps/<...>.npz``."""
    labels = "counts" if term_embedder is None else term_model_name(term_embedder)
    cluster_key = json.dumps(clusters.relevant() | {"labels": labels}, sort_keys=True)
    import hashlib

    digest = hashlib.sha256(cluster_key.encode()).hexdigest()[:12]
    name = f"{content_hash[:16]}-{layout.key()}-{digest}.npz"
    return Path(collection_dir) / MAPS_DIR / name


def load_or_compute_map(
    collection,
    collection_dir: str | os.PathLike,
    layout: LayoutParams | None = None,
    clusters: ClusterParams | None = None,
    *,
    progress: Progress | None = None,
    term_embedder=None,
) -> tuple[CorpusMap, bool]:
    """The map of a saved collection, from ``<collection>/maps/`` when computed before.

    Parameters
    ----------
    collection : core.data.Collection
    collection_dir : path-like
        The directory it was loaded from.
    progress, term_embedder
        As for :func:`compute_map`. A map whose labels fell back to counts is not stored, so
        the model is tried again next time.

    Returns
    -------
    (CorpusMap, bool)
        The map, and whether it came from the disk cache.
    """
    layout = layout or LayoutParams()
    clusters = clusters or ClusterParams()
    path = map_cache_file(
        collection_dir, collection.manifest.content_hash, layout, clusters, term_embedder
    )
    if path.is_file():
        cached = _read(path, layout, clusters)
        if cached is not None and cached.xy.shape[0] == len(collection):
            return cached, True
    result = compute_map(
        collection.embeddings,
        collection.texts,
        layout,
        clusters,
        progress=progress,
        term_embedder=term_embedder,
    )
    if not result.label_note:
        _write(path, result)
    return result, False


def _write(path: Path, result: CorpusMap) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lay = result.layout
    meta = {
        "format": _FORMAT,
        "used_method": lay.used_method,
        "axis_titles": list(lay.axis_titles),
        "note": lay.note,
        "seconds": lay.seconds,
        "summaries": [asdict(s) for s in result.summaries],
        "label_model": result.label_model,
    }
    arrays = {"xy": lay.xy, "fit_rows": lay.fit_rows, "clusters": result.clusters}
    if lay.projection is not None:
        arrays |= {
            "pca_mean": lay.projection.mean,
            "pca_components": lay.projection.components,
            "pca_ratio": lay.projection.explained_variance_ratio,
        }
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path, layout: LayoutParams, clusters: ClusterParams) -> CorpusMap | None:
    """A cached map, or None when the file is unreadable or of another format (recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != _FORMAT:
                return None
            projection = None
            if "pca_mean" in data:
                projection = Projection(
                    "pca", data["pca_mean"], data["pca_components"], data["pca_ratio"]
                )
            lay = Layout(
                params=layout,
                used_method=meta["used_method"],
                xy=np.ascontiguousarray(data["xy"], dtype=np.float32),
                fit_rows=np.asarray(data["fit_rows"], dtype=np.int64),
                projection=projection,
                axis_titles=tuple(meta["axis_titles"]),
                note=meta["note"],
                seconds=float(meta["seconds"]),
            )
            ids = np.asarray(data["clusters"], dtype=np.int64)
    except (OSError, ValueError, KeyError):
        return None
    summaries = tuple(
        ClusterSummary(
            cluster=int(s["cluster"]),
            label=str(s["label"]),
            terms=tuple(s["terms"]),
            size=int(s["size"]),
            representatives=tuple(int(i) for i in s["representatives"]),
        )
        for s in meta["summaries"]
    )
    return CorpusMap(lay, ids, summaries, clusters, str(meta.get("label_model", "")))
