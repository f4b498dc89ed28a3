"""Pure Plotly builders and 2-D projections; Plotly is imported only in this package.

- projections: :func:`fit_projection` -> :class:`Projection`
- figures: :func:`projection_figure`, :func:`similarity_heatmap`, :func:`selected_document`,
  :func:`points_to_draw`, :func:`hover_text`, :func:`truncate_label`
- ordering: :func:`seriation_order` (similar rows next to each other)
- benchmark charts: :func:`bar_figure`, :func:`line_figure`, :func:`recall_memory_figure`
"""

from core.viz._charts import bar_figure, line_figure, recall_memory_figure
from core.viz._figures import (
    hover_text,
    points_to_draw,
    projection_figure,
    selected_document,
    similarity_heatmap,
    truncate_label,
)
from core.viz._projection import Projection, fit_projection, format_share
from core.viz._seriation import seriation_order

__all__ = [
    "Projection",
    "bar_figure",
    "fit_projection",
    "format_share",
    "hover_text",
    "line_figure",
    "points_to_draw",
    "projection_figure",
    "recall_memory_figure",
    "selected_document",
    "seriation_order",
    "similarity_heatmap",
    "truncate_label",
]
