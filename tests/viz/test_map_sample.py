"""The built-in sample on its default offline model: UMAP's default map shows its eight topics
as eight clusters (the issue's "done when"), for several seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from core.data._sample import TOPICS, sample_metadata, sample_texts
from core.embedding.providers._local import UseMultilingualEmbedder
from core.viz import ClusterParams, LayoutParams, compute_map
from core.viz._layout import default_neighbours

pytest.importorskip("umap")

# The clusters may be a little worse than the best any clustering told the true number of
# topics does on the original vectors (Ward, k = 8): a few sample documents sit between two
# topics ("warming up before a match" is as much health as sports), which caps both.
MARGIN = 0.1


@pytest.fixture(scope="module")
def sample():
    texts = sample_texts()
    vectors = UseMultilingualEmbedder().embed_batch(texts).vectors
    return texts, vectors, sample_metadata()["topic"].to_numpy()


def test_reference_clustering_shows_what_the_embedding_allows(sample):
    _, vectors, topic = sample
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ward = AgglomerativeClustering(n_clusters=len(TOPICS)).fit_predict(unit)
    assert adjusted_rand_score(topic, ward) > 0.6  # the topics are there to be found


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_umap_map_shows_the_eight_topics_as_eight_clusters(sample, seed):
    texts, vectors, topic = sample
    n = len(texts)
    layout = LayoutParams("umap", n_neighbors=default_neighbours(n), seed=seed)
    result = compute_map(vectors, texts, layout, ClusterParams(seed=seed))
    found = result.clusters
    assert len(set(found[found >= 0])) == len(TOPICS)
    # Each topic is the majority of exactly one cluster, and each cluster's majority is a topic.
    table = pd.crosstab(found[found >= 0], topic[found >= 0])
    majority = table.idxmax(axis=1)
    assert sorted(majority) == sorted(TOPICS)
    assert (found < 0).sum() <= n // 10  # little noise
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    reference = adjusted_rand_score(
        topic, AgglomerativeClustering(n_clusters=len(TOPICS)).fit_predict(unit)
    )
    assert adjusted_rand_score(topic, found) >= reference - MARGIN
    # Every cluster has a label of its own.
    labels = [s.label for s in result.summaries if s.cluster >= 0]
    assert len(set(labels)) == len(TOPICS) and all(labels)
