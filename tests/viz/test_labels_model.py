"""Cluster labels ranked by the model that embedded the documents, on the built-in sample with
the real offline model; and what happens when that model cannot rank them (the counting
labels, said)."""

from __future__ import annotations

import numpy as np
import pytest

from core.data._collection import Collection
from core.data._sample import TOPICS, sample_metadata, sample_texts
from core.embedding._types import EmbedderSpec
from core.embedding.providers._local import UseMultilingualEmbedder
from core.viz import (
    LayoutParams,
    compute_map,
    distinctive_terms,
    load_or_compute_map,
    summarise_clusters,
    terms_of,
)
from core.viz._labels import SYNONYM_COSINE

# Words that name each sample topic, in either language: a good label holds at least one.
TOPIC_WORDS = {
    "astronomy": {"galaxies", "galaxy", "telescope", "stars", "solar", "moon", "earth", "地球"},
    "cooking": {"bake", "flour", "dough", "bread", "garlic", "oven", "recipe"},
    "finance": {"savings", "invest", "investing", "interest", "market", "stocks", "prices"},
    "health": {"sleep", "exercise", "休息", "immune", "blood pressure", "sunscreen", "germs"},
    "music": {"chord", "symphony", "piano", "melodies", "musicians", "jazz", "guitar"},
    "programming": {"javascript", "python", "code", "database", "docker", "sql", "git"},
    "sports": {"basketball", "race", "marathon", "swimmers", "match", "fifa", "competitive"},
    "travel": {"trip", "passport", "visa", "backpacking", "flight", "travel", "tourists"},
}


@pytest.fixture(scope="module")
def sample():
    texts = sample_texts()
    model = UseMultilingualEmbedder()
    vectors = model.embed_batch(texts).vectors
    topics = sample_metadata()["topic"].to_numpy()
    clusters = np.array([sorted(TOPICS).index(t) for t in topics])
    return texts, vectors, clusters, model


def test_ranked_labels_name_each_sample_topic_from_its_own_words(sample):
    texts, vectors, clusters, model = sample
    ranked = distinctive_terms(texts, clusters, n_terms=3, term_embedder=model, embeddings=vectors)
    for c, topic in enumerate(sorted(TOPICS)):
        own = set().union(*(terms_of(texts[i]) for i in np.flatnonzero(clusters == c)))
        assert len(ranked[c]) == 3 and set(ranked[c]) <= own, (topic, ranked[c])
        assert set(ranked[c]) & TOPIC_WORDS[topic], (topic, ranked[c])


def test_ranked_labels_do_not_say_the_same_thing_twice(sample):
    texts, vectors, clusters, model = sample
    ranked = distinctive_terms(texts, clusters, n_terms=3, term_embedder=model, embeddings=vectors)
    for terms in ranked.values():
        unit = np.asarray(model.embed_documents(terms), dtype=np.float32)
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        closeness = unit @ unit.T
        assert (closeness[np.triu_indices(len(terms), 1)] <= SYNONYM_COSINE).all(), terms
    # The finance documents have "invest", "investing" and "invested": one of them at most.
    finance = set(ranked[sorted(TOPICS).index("finance")])
    assert len(finance & {"invest", "investing", "invested"}) <= 1, finance


def test_a_model_of_another_size_falls_back_to_counting_and_says_so(sample):
    texts, _, clusters, model = sample
    rng = np.random.default_rng(0)
    other = rng.standard_normal((len(texts), 16)).astype(np.float32)  # not the model's 512-d
    said: list[str] = []
    summaries = summarise_clusters(
        texts, clusters, embeddings=other, term_embedder=model, on_fallback=said.append
    )
    counted = distinctive_terms(texts, clusters, n_terms=3)
    assert [list(s.terms) for s in summaries] == [counted[c] for c in sorted(counted)]
    assert len(said) == 1 and "by word counts only" in said[0] and "16-d" in said[0]


def test_a_failing_model_keeps_the_map_labelled_by_counts(sample, make_embedder):
    texts, vectors, _, _ = sample
    refused = make_embedder(dimensions=None, api_key="sk-wrong-key-for-this-server")
    result = compute_map(vectors, texts, LayoutParams("pca"), term_embedder=refused)
    assert result.labels_by == "counts"
    assert "by word counts only" in result.label_note and "401" in result.label_note
    assert all(s.label for s in result.summaries)


def test_the_model_is_named_and_a_fallback_map_is_not_stored(sample, tmp_path, make_embedder):
    texts, vectors, _, model = sample
    meta = sample_metadata()
    collection = Collection.create(
        texts, vectors, EmbedderSpec("use-multilingual", model.spec.model, None), meta
    )
    root = collection.save(tmp_path / "sample")
    first, cached = load_or_compute_map(collection, root, term_embedder=model)
    assert not cached and first.labels_by == f"counts + use-multilingual/{model.spec.model}"
    again, cached = load_or_compute_map(collection, root, term_embedder=model)
    assert cached and again.labels_by == first.labels_by and again.summaries == first.summaries
    # Counting labels are another file; a map whose model failed is not kept.
    _, cached = load_or_compute_map(collection, root)
    assert not cached
    maps = sorted((root / "maps").iterdir())
    refused = make_embedder(dimensions=None, api_key="sk-wrong-key-for-this-server")
    failed, cached = load_or_compute_map(collection, root, term_embedder=refused)
    assert not cached and failed.label_note and sorted((root / "maps").iterdir()) == maps


def test_cjk_words_are_not_glued_to_latin_ones_and_locatives_are_not_kept():
    terms = terms_of("可以买一张JR周游券。网球比赛中要领先。")
    assert "jr" in terms and "周游券" in terms and not any("jr" in t and t != "jr" for t in terms)
    assert "比赛" in terms and "赛中" not in terms and "比赛中" not in terms


def test_ranked_chinese_labels_stay_whole_words(sample):
    from tests.viz.test_maps import GALAXY_ZH, STOCKS_ZH

    model = sample[3]
    texts = GALAXY_ZH + STOCKS_ZH
    vectors = model.embed_batch(texts).vectors
    ranked = distinctive_terms(texts, np.repeat([0, 1], 4), term_embedder=model, embeddings=vectors)
    assert {"银河系", "恒星"} <= set(ranked[0]) and not {"银河", "河系"} & set(ranked[0])
    assert "股票" in ranked[1] and not any("银河" in t for t in ranked[1])
