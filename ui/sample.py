"""The built-in bilingual sample corpus as a collection, in one click."""

from __future__ import annotations

import streamlit as st

from core.data._collection import Collection
from core.data._sample import SAMPLE_QUERIES, sample_metadata, sample_texts
from core.embedding._types import EmbedderSpec
from core.embedding.providers import provider_info
from ui import cache, state
from ui.jobs import run_embedding


def sample_metadata_with_source():
    meta = sample_metadata()
    meta.insert(0, "source", "sample corpus")
    return meta


def load_sample(spec: EmbedderSpec) -> Collection:
    """Embed the sample corpus with ``spec`` (shared vectors for local models) and make it the
    session's collection; the Search page then starts with three sample queries."""
    texts, meta = sample_texts(), sample_metadata_with_source()
    if provider_info(spec.provider).remote:
        collection, _ = run_embedding(texts, meta, cache.embedder_for(spec), label="Sample")
    else:
        vectors = cache.sample_vectors(spec.provider, spec.model, spec.dimensions)
        collection = Collection.create(texts, vectors, spec, meta, extra={"origin": "sample"})
        state.set_collection(collection)
        st.session_state[state.EMBED_SUMMARY] = None
    st.session_state[state.SEARCH_QUERIES] = "\n".join(q.text for q in SAMPLE_QUERIES[:3])
    st.session_state[state.SIM_QUERIES] = None  # follow the Search page again
    return collection
