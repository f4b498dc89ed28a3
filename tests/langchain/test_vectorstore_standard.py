"""LangChain's own standard tests for vector stores, run on WorkbenchVectorStore: in memory,
and saved as a collection on disk (every change an atomic new version)."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from core import WorkbenchVectorStore


class TestWorkbenchVectorStoreInMemory(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self):
        store = WorkbenchVectorStore(embedding=self.get_embeddings())
        yield store
        store.delete()


class TestWorkbenchVectorStoreOnDisk(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path):
        store = WorkbenchVectorStore(embedding=self.get_embeddings(), path=tmp_path / "store")
        yield store
        # A store opened again at the same path holds exactly what the test left there.
        reopened = WorkbenchVectorStore(embedding=self.get_embeddings(), path=tmp_path / "store")
        assert reopened.get_by_ids(store.collection.ids if store.collection else []) == (
            store.get_by_ids(store.collection.ids if store.collection else [])
        )
