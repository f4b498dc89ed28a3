"""Embedding Workbench core: batch text embedding, normalisation and exact search with NumPy.

Usable from a notebook, a script or the command line (``embedding-workbench --help``, or
``python -m core``); it never imports Streamlit. The sub-packages, each with its own table of
contents:

- :mod:`core.search` — arrays in, ``(ids, scores)`` out (callable: ``core.search(C, Q, k)``)
- :mod:`core.embedding` — texts in, vectors out (batch engine, cache, tokens, providers)
- :mod:`core.data` — documents and collections
- :mod:`core.viz` — Plotly figures and projections
- :mod:`core.langchain` — :class:`WorkbenchVectorStore`, a LangChain ``VectorStore``
- :mod:`core.services` — workflows the dashboard and the CLI share
- :mod:`core.bench`, :mod:`core.server`, :mod:`core.cli`, :mod:`core.errors`

The tutorial-compatible names are here too::

    from core import BatchEmbeddingProcessor, SimilarityCalculator, TopKRetriever
"""

from core import search
from core.data import (
    Collection,
    CollectionError,
    Manifest,
    ParsedDocuments,
    ParseError,
    parse_file,
    parse_files,
)
from core.embedding import EmbedderSpec, EmbeddingCache, Progress
from core.embedding.providers import (
    ProviderInfo,
    available_providers,
    default_provider,
    get_embedder,
)
from core.errors import WorkbenchError
from core.search import (
    MODES,
    Metric,
    as_matrix,
    build_index,
    bytes_per_vector,
    matrix_nbytes,
    memory_table,
    near_duplicates,
    normalize,
    recall_at_k,
    similarity_matrix,
)
from core.tutorial import BatchEmbeddingProcessor, SimilarityCalculator, TopKRetriever

__version__ = "0.2.0"


def __getattr__(name: str):
    """``WorkbenchVectorStore`` on first use: LangChain's retrievers and tracers take about
    0.7 s to import, which the dashboard's cold start and most scripts never need."""
    if name == "WorkbenchVectorStore":
        from core.langchain import WorkbenchVectorStore

        return WorkbenchVectorStore
    raise AttributeError(f"module 'core' has no attribute {name!r}")


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
    "WorkbenchError",
    "WorkbenchVectorStore",
    "__version__",
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
