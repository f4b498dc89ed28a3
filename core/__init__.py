"""Embedding Workbench core: batch text embedding, normalisation and exact search with NumPy.

Usable from a notebook, a script or the command line (``python -m core --help``); it never imports
Streamlit. The tutorial-compatible names are here too::

    from core import BatchEmbeddingProcessor, SimilarityCalculator, TopKRetriever
"""

from core.collection import Collection, CollectionError, Manifest
from core.embed_cache import EmbeddingCache
from core.embedding_types import EmbedderSpec, Progress
from core.engine import Metric, as_matrix, normalize, search
from core.memory import bytes_per_vector, matrix_nbytes, memory_table
from core.pairs import near_duplicates, similarity_matrix
from core.parsing import ParsedDocuments, ParseError, parse_file, parse_files
from core.providers import ProviderInfo, available_providers, default_provider, get_embedder
from core.quant import MODES, build_index, recall_at_k
from core.tutorial import BatchEmbeddingProcessor, SimilarityCalculator, TopKRetriever

__all__ = [
    "MODES",
    "BatchEmbeddingProcessor",
    "Collection",
    "CollectionError",
    "EmbedderSpec",
    "EmbeddingCache",
    "Manifest",
    "Metric",
    "ParseError",
    "ParsedDocuments",
    "Progress",
    "ProviderInfo",
    "SimilarityCalculator",
    "TopKRetriever",
    "as_matrix",
    "available_providers",
    "build_index",
    "bytes_per_vector",
    "default_provider",
    "get_embedder",
    "matrix_nbytes",
    "memory_table",
    "near_duplicates",
    "normalize",
    "parse_file",
    "parse_files",
    "recall_at_k",
    "search",
    "similarity_matrix",
]
