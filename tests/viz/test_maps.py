"""Layouts, clusters, labels and the corpus map on data with known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data._collection import Collection
from core.embedding._types import EmbedderSpec
from core.errors import InvalidInputError
from core.viz import (
    ClusterParams,
    LayoutParams,
    cluster_points,
    compute_map,
    distinctive_terms,
    fit_layout,
    load_or_compute_map,
    map_cache_file,
    place_by_neighbours,
    summarise_clusters,
    terms_of,
)


def blobs(rng, n_per: int = 30, dim: int = 24, spread: float = 0.15):
    """Four well-separated Gaussian blobs (centres at +-e1, +-e2) and their true labels."""
    centres = np.zeros((4, dim), dtype=np.float32)
    centres[0, 0], centres[1, 0], centres[2, 1], centres[3, 1] = 1, -1, 1, -1
    truth = np.repeat(np.arange(4), n_per)
    x = centres[truth] + rng.normal(0, spread, (len(truth), dim)).astype(np.float32) / np.sqrt(dim)
    return np.ascontiguousarray(x, dtype=np.float32), truth


def same_partition(found: np.ndarray, truth: np.ndarray) -> bool:
    """Every true group is one found cluster, and no two groups share one (noise excluded)."""
    pairs = {(int(t), int(f)) for t, f in zip(truth, found, strict=True)}
    return len(pairs) == len(set(truth)) == len({f for _, f in pairs}) and -1 not in {
        f for _, f in pairs
    }


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_each_layout_separates_blobs_and_hdbscan_recovers_them(rng, method):
    if method == "umap":
        pytest.importorskip("umap")
    x, truth = blobs(rng)
    layout = fit_layout(x, LayoutParams(method=method, n_neighbors=10, perplexity=10))
    assert layout.xy.shape == (len(x), 2) and layout.xy.dtype == np.float32
    assert layout.used_method == method and layout.note == ""
    found = cluster_points(layout.xy)
    assert same_partition(found, truth)
    if method == "umap":  # clusters are also found on the higher-dimensional UMAP embedding
        assert layout.cluster_space.shape == (len(x), 10)
        assert same_partition(cluster_points(layout.cluster_space), truth)
    else:
        assert layout.cluster_space is None


def test_kmeans_finds_k_groups_and_numbers_them_by_size(rng):
    x, truth = blobs(rng)
    xy = fit_layout(x).xy
    found = cluster_points(xy, ClusterParams(method="kmeans", k=4))
    assert same_partition(found, truth)
    sizes = np.bincount(found)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_isolated_points_are_noise(rng):
    groups = [rng.normal(0, 0.05, (40, 2)), rng.normal(0, 0.05, (30, 2)) + np.array([5.0, 0.0])]
    xy = np.concatenate([*groups, [[50.0, 50.0], [-50.0, 40.0]]])
    found = cluster_points(xy, ClusterParams(min_cluster_size=5))
    assert list(found[-2:]) == [-1, -1]
    assert set(found[:40]) == {0} and set(found[40:70]) == {1}


def test_large_layouts_are_sampled_and_the_rest_placed_by_neighbours(rng):
    x, truth = blobs(rng, n_per=60)
    layout = fit_layout(x, LayoutParams(method="tsne", perplexity=10, max_exact_rows=100))
    assert len(layout.fit_rows) == 100 and layout.n_placed == len(x) - 100
    assert "random sample of 100 of the 240" in layout.note
    found = cluster_points(layout.xy, ClusterParams(method="kmeans", k=4))
    assert same_partition(found, truth)  # placed rows sit in their own blob
    # A query equal to a laid-out document lands on it.
    doc = int(layout.fit_rows[3])
    np.testing.assert_allclose(layout.transform(x[doc], x)[0], layout.xy[doc], atol=1e-4)


def test_sampled_umap_places_the_rest_in_the_cluster_space_too(rng):
    pytest.importorskip("umap")
    x, truth = blobs(rng, n_per=60)
    result = compute_map(
        x, ["w"] * len(x), LayoutParams("umap", n_neighbors=10, max_exact_rows=100)
    )
    assert result.layout.n_placed == len(x) - 100
    assert result.layout.cluster_space is None  # used for the clusters, not kept
    assert same_partition(result.clusters, truth)


def test_placement_lands_between_two_anchors():
    anchors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    anchor_xy = np.array([[0.0, 0.0], [10.0, 0.0]], dtype=np.float32)
    middle = place_by_neighbours(np.array([[1.0, 1.0]]), anchors, anchor_xy, k=2)
    np.testing.assert_allclose(middle, [[5.0, 0.0]], atol=1e-4)


def test_clustering_a_sample_labels_every_point(rng):
    x, truth = blobs(rng, n_per=50)
    xy = fit_layout(x).xy
    found = cluster_points(xy, ClusterParams(max_rows=60, min_cluster_size=8))
    assert same_partition(found, truth)


def test_tiny_corpora_fall_back_to_pca_and_say_so():
    layout = fit_layout(np.eye(3, 8, dtype=np.float32), LayoutParams(method="tsne"))
    assert layout.used_method == "pca" and "needs at least 5 documents" in layout.note


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "mds"}, "unknown layout method 'mds'"),
        ({"metric": "dot"}, "unknown layout metric 'dot'"),
        ({"n_neighbors": 1}, "n_neighbors must be in 2..200, got 1"),
        ({"min_dist": 2.0}, r"min_dist must be in \[0, 1\], got 2.0"),
        ({"perplexity": 0.5}, r"perplexity must be in \[1, 100\], got 0.5"),
    ],
)
def test_bad_layout_parameters_are_named(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        LayoutParams(**kwargs)


def test_bad_cluster_input_is_named():
    with pytest.raises(InvalidInputError, match="unknown cluster method 'dbscan'"):
        ClusterParams(method="dbscan")
    with pytest.raises(InvalidInputError, match=r"xy must have shape \(n, c\).*got \(3,\)"):
        cluster_points(np.zeros(3))
    with pytest.raises(InvalidInputError, match="cannot lay out an empty corpus"):
        fit_layout(np.zeros((0, 4), dtype=np.float32))


ASTRONOMY = [
    "The telescope photographed a distant galaxy.",
    "A galaxy holds billions of stars; the telescope sees its light.",
    "Astronomers point the telescope at the spiral galaxy.",
    "Light from the galaxy took millions of years to reach us.",
]
BAKING = [
    "Knead the bread dough and bake it in a hot oven.",
    "The dough rises overnight before the bread goes in the oven.",
    "Bake the bread until the crust is brown.",
    "Sourdough bread needs a starter and a long rise of the dough.",
]
GALAXY_ZH = [
    "银河系是一个棒旋星系，太阳在银河系的边缘。",
    "银河系里有几千亿颗恒星。",
    "天文学家测量银河系的大小和恒星的距离。",
    "夜空中可以看到银河系的光带和明亮的恒星。",
]
STOCKS_ZH = [
    "股票的价格每天都在变化，投资股票有风险。",
    "买入股票之前要看市盈率和利息。",
    "银行提高利息以后，股票市场下跌了。",
    "长期持有股票可以获得分红和利息。",
]


def test_english_labels_come_from_each_clusters_own_words():
    texts = ASTRONOMY + BAKING
    terms = distinctive_terms(texts, np.repeat([0, 1], 4), n_terms=3)
    assert {"telescope", "galaxy"} <= set(terms[0]) and not {"bread", "dough"} & set(terms[0])
    assert {"bread", "dough"} & set(terms[1]) and not {"galaxy", "telescope"} & set(terms[1])


def test_chinese_labels_are_whole_words_not_overlapping_fragments():
    texts = GALAXY_ZH + STOCKS_ZH
    terms = distinctive_terms(texts, np.repeat([0, 1], 4), n_terms=3)
    assert "银河系" in terms[0] and "恒星" in terms[0]
    assert not {"银河", "河系"} & set(terms[0])  # merged into 银河系
    assert "股票" in terms[1] and "利息" in terms[1]
    assert not any("银河" in t for t in terms[1])


def test_terms_skip_function_words_and_never_span_punctuation():
    # "before" and "a" are stop words; no phrase spans the comma or a stop word.
    assert terms_of("Before investing, build a fund") == {"investing", "build", "fund"}
    assert "的时" not in terms_of("做饭的时候") and "做饭" in terms_of("做饭的时候")


def test_summaries_give_size_label_and_central_representatives(rng):
    texts = ASTRONOMY + BAKING + ["zzz qqq"]
    clusters = np.array([0] * 4 + [1] * 4 + [-1])
    emb = np.zeros((9, 4), dtype=np.float32)
    emb[:4, 0], emb[4:8, 1], emb[8, 2] = 1, 1, 1
    emb[0, 3] = emb[4, 3] = 2.0  # the first of each cluster is off-centre
    summaries = summarise_clusters(texts, clusters, embeddings=emb)
    assert [s.cluster for s in summaries] == [0, 1, -1]
    assert [s.size for s in summaries] == [4, 4, 1]
    assert summaries[-1].label == "noise"
    assert "telescope" in summaries[0].label and " · " in summaries[0].label
    assert summaries[0].representatives == (1, 2) and summaries[1].representatives == (5, 6)


def sample_collection(rng, n_per=20):
    x, truth = blobs(rng, n_per=n_per)
    words = [ASTRONOMY, BAKING, GALAXY_ZH, STOCKS_ZH]
    texts = [words[t][i % 4] for i, t in enumerate(truth)]
    meta = pd.DataFrame({"group": [f"g{t}" for t in truth]})
    return Collection.create(texts, x, EmbedderSpec("use-multilingual", "m", None), meta), truth


def test_the_map_table_has_one_row_per_document_in_order(rng):
    collection, truth = sample_collection(rng)
    result = compute_map(collection.embeddings, collection.texts, LayoutParams(method="pca"))
    frame = result.to_frame()
    assert list(frame.columns) == ["x", "y", "cluster", "label"] and len(frame) == len(truth)
    assert frame["cluster"].dtype == np.int64
    assert same_partition(frame["cluster"].to_numpy(), truth)
    label_of_galaxy = frame.loc[int(np.flatnonzero(truth == 2)[0]), "label"]
    assert "银河系" in label_of_galaxy


def test_saved_collections_keep_their_map_on_disk(rng, tmp_path):
    collection, _ = sample_collection(rng)
    root = collection.save(tmp_path / "c")
    params, clusters = LayoutParams(method="tsne", perplexity=8), ClusterParams()
    first, cached = load_or_compute_map(collection, root, params, clusters)
    assert (
        not cached
        and map_cache_file(root, collection.manifest.content_hash, params, clusters).is_file()
    )
    again, cached = load_or_compute_map(Collection.load(root), root, params, clusters)
    assert cached
    np.testing.assert_array_equal(again.xy, first.xy)
    np.testing.assert_array_equal(again.clusters, first.clusters)
    assert again.summaries == first.summaries
    # Other parameters are another file.
    _, cached = load_or_compute_map(collection, root, LayoutParams(method="pca"), clusters)
    assert not cached
