"""The one adapter: a provider that only sends a request becomes a LangChain ``Embeddings``
whose calls go through the batch engine (order, blanks, duplicates, batching, prefixes)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from core.embedding import BatchLimits, BatchOutput, EmbedderSpec
from core.embedding._adapter import EngineEmbeddings

PROVIDERS = Path(__file__).resolve().parents[2] / "core" / "embedding" / "providers"


class LengthProvider(EngineEmbeddings):
    """A throwaway provider: a text's vector is (length, 1, 0), and it records each request."""

    def __init__(self):
        self.spec = EmbedderSpec("length", "len-3", None)
        self.limits = BatchLimits(
            max_inputs_per_request=2, max_tokens_per_request=1000, max_tokens_per_input=100
        )
        self.dimension = 3
        self.requests: list[list[str]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_batch(self, texts):
        self.requests.append(list(texts))
        rows = np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)
        return BatchOutput(rows, None)


def test_a_provider_that_only_sends_requests_gets_engine_behaviour():
    provider = LengthProvider()
    vectors = np.asarray(provider.embed_documents(["abc", "", "de", "abc", "fghij"]))
    assert vectors.shape == (5, 3)
    np.testing.assert_array_equal(vectors[1], 0.0)  # a blank text is never sent
    np.testing.assert_array_equal(vectors[0], vectors[3])  # duplicates sent once
    sent = [text for request in provider.requests for text in request]
    assert sorted(sent) == ["abc", "de", "fghij"]
    assert max(len(r) for r in provider.requests) <= 2  # the provider's own request limit
    # Row i is text i whatever order the requests ran in.
    expected = np.array([[3, 1, 0], [2, 1, 0], [5, 1, 0]], dtype=np.float32)
    np.testing.assert_array_equal(vectors[[0, 2, 4]], expected)
    assert len(provider.embed_query("x y")) == 3


def test_no_provider_module_drives_the_batch_engine_itself():
    for path in PROVIDERS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert "core.embedding._batching" not in imported, path.name
