"""Pure Plotly builders and 2-D projections; Plotly is imported only in this package.

- projections: :func:`fit_projection` -> :class:`Projection`
- corpus maps: :func:`compute_map` -> :class:`CorpusMap` (:func:`fit_layout` PCA / UMAP / t-SNE,
  :func:`cluster_points` HDBSCAN / k-means, :func:`summarise_clusters` c-TF-IDF labels),
  :func:`load_or_compute_map` (cached beside a saved collection), :func:`map_figure`,
  :func:`points_in_selection`
- figures: :func:`projection_figure`, :func:`similarity_heatmap`, :func:`selected_document`,
  :func:`points_to_draw`, :func:`hover_text`, :func:`truncate_label`
- ordering: :func:`seriation_order` (similar rows next to each other)
- benchmark charts: :func:`bar_figure`, :func:`line_figure`, :func:`recall_memory_figure`
- retrieval evaluation: :func:`metric_bars_figure`
"""

from core.viz._charts import bar_figure, line_figure, recall_memory_figure
from core.viz._clusters import CLUSTER_METHODS, NOISE, ClusterParams, cluster_points
from core.viz._eval import metric_bars_figure
from core.viz._figures import (
    hover_text,
    points_to_draw,
    projection_figure,
    selected_document,
    similarity_heatmap,
    truncate_label,
)
from core.viz._labels import ClusterSummary, distinctive_terms, summarise_clusters, terms_of
from core.viz._layout import (
    LAYOUT_METHODS,
    Layout,
    LayoutParams,
    available_methods,
    default_neighbours,
    fit_layout,
    place_by_neighbours,
    umap_available,
)
from core.viz._map_figure import cluster_centres, map_figure, points_in_selection
from core.viz._maps import CorpusMap, compute_map, load_or_compute_map, map_cache_file
from core.viz._projection import Projection, fit_projection, format_share
from core.viz._seriation import seriation_order

__all__ = [
    "CLUSTER_METHODS",
    "LAYOUT_METHODS",
    "NOISE",
    "ClusterParams",
    "ClusterSummary",
    "CorpusMap",
    "Layout",
    "LayoutParams",
    "Projection",
    "available_methods",
    "bar_figure",
    "cluster_centres",
    "cluster_points",
    "compute_map",
    "default_neighbours",
    "distinctive_terms",
    "fit_layout",
    "fit_projection",
    "format_share",
    "hover_text",
    "line_figure",
    "load_or_compute_map",
    "map_cache_file",
    "map_figure",
    "metric_bars_figure",
    "place_by_neighbours",
    "points_in_selection",
    "points_to_draw",
    "projection_figure",
    "recall_memory_figure",
    "selected_document",
    "seriation_order",
    "similarity_heatmap",
    "summarise_clusters",
    "terms_of",
    "truncate_label",
    "umap_available",
]
