"""LangChain integration: the collection as a ``VectorStore`` (and so as a retriever).

- :class:`WorkbenchVectorStore` — ``add_texts`` / ``add_documents`` / ``delete`` /
  ``get_by_ids``, similarity and MMR search with filters, ``as_retriever()``, async variants,
  ``save`` / ``load``; passes ``langchain_tests``' ``VectorStoreIntegrationTests``.

Every embedder of :mod:`core.embedding.providers` already is a LangChain ``Embeddings`` and the
embedding cache a ``ByteStore``; this package adds the store on top of :mod:`core.data`.
"""

from core.langchain._vectorstore import WorkbenchVectorStore

__all__ = ["WorkbenchVectorStore"]
