"""One adapter from "a provider that sends one request" to a LangChain ``Embeddings``.

A provider implements only the :class:`~core.embedding._types.BatchEmbedder` protocol
(``embed_batch``, ``limits``, ``spec``, ``dimension``, ``count_tokens``): it sends one request.
Inheriting :class:`EngineEmbeddings` makes it a LangChain ``Embeddings`` whose
``embed_documents`` / ``embed_query`` run through the batch engine (batching, retries, order,
prefixes, cache), so no provider drives the engine itself.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings


class EngineEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over :func:`core.embedding.embed_texts` for any provider.

    Subclasses may set ``engine_cache`` (``"default"``, an ``EmbeddingCache``, a ByteStore or
    None: where ``embed_documents`` keeps vectors) and ``engine_concurrency`` (requests in
    flight); both default to None (no cache, the engine's default concurrency).
    """

    engine_cache = None
    engine_concurrency: int | None = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts`` (with the document prefix) through the batch engine: one list of
        floats per text; an empty text gives a zero vector."""
        from core.embedding._batching import embed_texts

        result = embed_texts(
            list(texts), self, cache=self.engine_cache, concurrency=self.engine_concurrency
        )
        return result.vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (with the query prefix; an empty query gives a zero vector)."""
        from core.embedding._batching import embed_texts

        result = embed_texts([text], self, cache=self.engine_cache, role="query")
        return result.vectors[0].tolist()
