"""An OpenAI-compatible embeddings server on 127.0.0.1 for tests, benchmarks and offline demos.

``python -m core.server --port 8000`` runs it; :class:`OpenAICompatibleServer` embeds it in a
process; :class:`Fault` injects failures; :func:`reference_embedding` gives the vector it serves.
"""

from core.server._server import OpenAICompatibleServer, main
from core.server._types import MODEL_DIMENSIONS, Fault, RequestRecord, reference_embedding

__all__ = [
    "MODEL_DIMENSIONS",
    "Fault",
    "OpenAICompatibleServer",
    "RequestRecord",
    "main",
    "reference_embedding",
]
