"""The tutorial-compatible API: the class names and calls of the tutorial this project grew from.

They are thin, documented wrappers over the engine, fixing what the tutorial gets wrong: no API key
is needed (a local model is the default), zero vectors stay finite, top-k never sorts the whole
corpus, and batch results are kept in input order whatever the server returns.
"""

from __future__ import annotations

import numpy as np

from core.errors import InvalidInputError
from core.search import _engine as engine
from core.search import _pairs as pairs


class BatchEmbeddingProcessor:
    """Embed texts in batches with any provider, then normalise with NumPy.

    Parameters
    ----------
    model : str, optional
        A model name: ``"text-embedding-3-small"`` and the other OpenAI models (need a key), the
        local ``"universal-sentence-encoder-multilingual-3"``, or a sentence-transformers model
        such as ``"all-MiniLM-L6-v2"``. ``None`` picks OpenAI text-embedding-3-small when a key is
        configured and the offline multilingual model otherwise.
    provider : str, optional
        ``"openai"``, ``"use-multilingual"`` or ``"sentence-transformers"``.
    dimensions : int, optional
        Output dimension for the OpenAI ``-3`` models.
    api_key, base_url : str, optional
        OpenAI key and an OpenAI-compatible server; default from the environment / ``.env``.
    cache : "default", cache object or None
        The persistent embedding cache (see ``core.embedding._cache``); ``None`` disables it.
    concurrency : int, optional
        Requests in flight for remote providers.
    **options
        Provider options (see :func:`core.embedding.providers.get_embedder`): ``dimension``,
        endpoint limits, ``query_prefix`` / ``document_prefix``, rate limits.

    Attributes
    ----------
    embedder : langchain_core.embeddings.Embeddings
        The provider, usable anywhere LangChain takes embeddings.
    dimension : int
        The real output dimension.
    last_result : core.embedding._batching.EmbeddingResult or None
        Counts, tokens and timing of the last :meth:`generate_embeddings` call.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        provider: str | None = None,
        dimensions: int | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        cache="default",
        concurrency: int | None = None,
        **options,
    ):
        from core.embedding.providers import get_embedder

        self.embedder = get_embedder(
            provider=provider,
            model=model,
            dimensions=dimensions,
            api_key=api_key,
            base_url=base_url,
            **options,
        )
        self.model = self.embedder.spec.model
        self.cache = cache
        self.concurrency = concurrency
        self.last_result = None

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def generate_embeddings(self, texts: list[str], batch_size: int = 100, progress=None):
        """Embed ``texts`` in batches of at most ``batch_size``.

        Returns
        -------
        ndarray of shape (len(texts), dimension), float32
            In input order. Empty or whitespace-only texts get a zero vector.
        """
        from core.embedding._batching import embed_texts

        if isinstance(texts, str):
            raise InvalidInputError(
                "texts must be a list of strings, got one string; wrap it in [...]"
            )
        result = embed_texts(
            list(texts),
            self.embedder,
            batch_size=batch_size,
            concurrency=self.concurrency,
            cache=self.cache,
            progress=progress,
        )
        self.last_result = result
        return result.vectors

    @staticmethod
    def normalize_embeddings(embeddings) -> np.ndarray:
        """Unit-length rows, float32; a zero row stays zero instead of becoming NaN."""
        return engine.normalize(embeddings)


class SimilarityCalculator:
    """One query against many documents, the three ways the tutorial compares them."""

    @staticmethod
    def cosine_similarity(query, documents) -> np.ndarray:
        """Cosine similarity of ``query`` (d,) with each row of ``documents`` (n, d) -> (n,).

        A zero vector on either side gives 0.
        """
        return pairs.similarity_matrix(_one_query(query), documents, "cosine")[0]

    @staticmethod
    def euclidean_distance(query, documents) -> np.ndarray:
        """Euclidean distance of ``query`` (d,) to each row of ``documents`` (n, d) -> (n,)."""
        return pairs.similarity_matrix(_one_query(query), documents, "euclidean")[0]

    @staticmethod
    def dot_product(query, documents) -> np.ndarray:
        """Dot product of ``query`` (d,) with each row of ``documents`` (n, d) -> (n,)."""
        return pairs.similarity_matrix(_one_query(query), documents, "dot")[0]


class TopKRetriever:
    """Top-k retrieval over a fixed set of embedded texts.

    Parameters
    ----------
    embeddings : array_like of shape (n_docs, dim)
    texts : list of str
        One per row of ``embeddings``.
    """

    def __init__(self, embeddings, texts: list[str]):
        self.embeddings = engine.as_matrix(embeddings, "embeddings")
        self.texts = list(texts)
        if len(self.texts) != self.embeddings.shape[0]:
            raise InvalidInputError(
                f"{len(self.texts)} texts but {self.embeddings.shape[0]} embeddings; "
                "they must match one to one"
            )
        self._norms = engine.row_norms(self.embeddings)

    def retrieve(self, query_embedding, k: int = 5, method: str = "cosine"):
        """The ``k`` best texts for one query embedding.

        Parameters
        ----------
        query_embedding : array_like of shape (dim,)
        k : int
        method : {"cosine", "euclidean", "dot"}
            For euclidean the score is the negative distance, so higher is better.

        Returns
        -------
        list of (index, score, text)
            Best first.
        """
        ids, scores = engine.search(
            self.embeddings,
            _one_query(query_embedding),
            k,
            method,
            corpus_norms=self._norms,
        )
        return [(int(i), float(s), self.texts[i]) for i, s in zip(ids[0], scores[0], strict=True)]


def _one_query(query) -> np.ndarray:
    q = engine.as_matrix(query, "query")
    if q.shape[0] != 1:
        raise InvalidInputError(f"expected one query vector (d,), got shape {q.shape}")
    return q
