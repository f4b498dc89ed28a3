"""`embedding-workbench map`: a real process on a saved collection with known groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data._collection import Collection
from core.embedding._types import EmbedderSpec
from tests.cli.test_cli import run_cli

WORDS = {
    0: "the telescope photographed a distant galaxy and its stars",
    1: "knead the bread dough and bake it in a hot oven",
    2: "银河系里有几千亿颗恒星",
}


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    rng = np.random.default_rng(3)
    truth = np.repeat([0, 1, 2], 12)
    centres = np.eye(3, 16, dtype=np.float32) * 4
    vectors = centres[truth] + rng.normal(0, 0.05, (36, 16)).astype(np.float32)
    texts = [f"{WORDS[t]} {i}" for i, t in enumerate(truth)]
    meta = pd.DataFrame({"group": truth.astype(str)})
    path = tmp_path_factory.mktemp("map") / "grouped"
    Collection.create(texts, vectors, EmbedderSpec("use-multilingual", "m", None), meta).save(path)
    return path, truth


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_map_writes_one_row_per_document_with_its_cluster_label(grouped, tmp_path, method):
    path, truth = grouped
    out = tmp_path / "map.parquet"
    result = run_cli(
        "map", str(path), "--method", method, "--perplexity", "8", "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["x", "y", "cluster", "label"] and len(frame) == 36
    assert frame["cluster"].dtype == np.int64
    pairs = set(zip(truth, frame["cluster"], strict=True))
    assert len(pairs) == 3 and len({c for _, c in pairs}) == 3  # one cluster per group
    assert "galaxy" in frame.loc[0, "label"] and "恒星" in frame.loc[30, "label"]
    assert "computed" in result.stdout
    again = run_cli(
        "map", str(path), "--method", method, "--perplexity", "8", "--out", str(out), cwd=tmp_path
    )
    assert "cached" in again.stdout


def test_map_refuses_a_bad_output_name(grouped, tmp_path):
    path, _ = grouped
    result = run_cli("map", str(path), "--out", str(tmp_path / "map.txt"), cwd=tmp_path)
    assert result.returncode == 2
    assert "write a .parquet or .csv file" in result.stderr


def test_labels_are_ranked_by_the_collections_local_model_unless_asked_not_to(tmp_path):
    from core.data._sample import sample_metadata, sample_texts
    from core.embedding.providers._local import USE_MODEL, UseMultilingualEmbedder

    texts = sample_texts()
    vectors = UseMultilingualEmbedder().embed_batch(texts).vectors
    path = tmp_path / "sample"
    spec = EmbedderSpec("use-multilingual", USE_MODEL, None)
    Collection.create(texts, vectors, spec, sample_metadata()).save(path)
    ranked = run_cli("map", str(path), "--out", str(tmp_path / "a.csv"), cwd=tmp_path)
    assert ranked.returncode == 0, ranked.stderr
    assert f"labels by counts + use-multilingual/{USE_MODEL}" in ranked.stdout
    counted = run_cli(
        "map", str(path), "--count-labels", "--out", str(tmp_path / "b.csv"), cwd=tmp_path
    )
    assert counted.returncode == 0, counted.stderr
    assert "labels by counts\n" in counted.stdout and "computed" in counted.stdout
    # Same layout and clusters; only the words chosen for them may differ.
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert (a["cluster"] == b["cluster"]).all() and (a["x"] == b["x"]).all()
