"""An OpenAI-compatible embeddings server on 127.0.0.1 for tests, benchmarks and offline demos.

``python -m core.server --port 8000`` runs it (``--mode ollama|vllm|tei|infinity|lmstudio`` for a
self-hosted server's shapes; ``/v1/files`` and ``/v1/batches`` for the Batch API);
:class:`OpenAICompatibleServer` embeds it in a process; :class:`Fault` injects failures;
:func:`reference_embedding` gives the vector it serves.
"""

from core.server._server import OpenAICompatibleServer, main
from core.server._types import (
    MODEL_DIMENSIONS,
    SERVER_MODES,
    Fault,
    RequestRecord,
    ServerMode,
    reference_embedding,
)

__all__ = [
    "MODEL_DIMENSIONS",
    "SERVER_MODES",
    "Fault",
    "OpenAICompatibleServer",
    "RequestRecord",
    "ServerMode",
    "main",
    "reference_embedding",
]
