"""Embedding Workbench core: batch text embedding, normalisation and exact search with NumPy.

Usable from a notebook, a script or the command line (``python -m core --help``); it never imports
Streamlit. The tutorial-compatible names are here too::

    from core import BatchEmbeddingProcessor, SimilarityCalculator, TopKRetriever
"""

from core.collection import Collection, CollectionError, Manifest
from core.embedding_types import EmbedderSpec, Progress
from core.engine import Metric, as_matrix, near_duplicates, normalize, search, similarity_matrix
from core.memory import bytes_per_vector, matrix_nbytes, memory_table
from core.tutorial import BatchEmbeddingProcessor, SimilarityCalculator, TopKRetriever

__all__ = [
    "BatchEmbeddingProcessor",
    "Collection",
    "CollectionError",
    "EmbedderSpec",
    "Manifest",
    "Metric",
    "Progress",
    "SimilarityCalculator",
    "TopKRetriever",
    "as_matrix",
    "bytes_per_vector",
    "matrix_nbytes",
    "memory_table",
    "near_duplicates",
    "normalize",
    "search",
    "similarity_matrix",
]
