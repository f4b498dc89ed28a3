"""The comparison on the sample corpus with the real offline models: the multilingual model is
measured against the English-only one, on the cross-lingual queries in particular; memory modes,
the cache, Matryoshka dimensions (through the project's OpenAI-compatible server) and reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.embedding import EmbeddingCache
from core.errors import InvalidInputError
from core.eval import (
    METRICS,
    EvalConfig,
    EvalCorpus,
    compare,
    disagreements,
    group_table,
    paired,
    paired_test,
    parse_config,
    sample_labels,
    summary_table,
    to_records,
)
from core.search import normalize

USE = "use-multilingual"
MINILM = "sentence-transformers:all-MiniLM-L6-v2"
CONFIGS = [USE, f"{USE},mode=int8", f"{USE},mode=binary", MINILM]


@pytest.fixture(scope="module")
def sample_comparison():
    return compare(EvalCorpus.sample(), sample_labels(), CONFIGS, k=10, cache=None)


def test_multilingual_beats_english_only_on_cross_lingual_queries(sample_comparison):
    cross = sample_comparison.queries.subset("cross-lingual")
    use = sample_comparison.result(USE).per_query["ndcg@k"][cross]
    minilm = sample_comparison.result(MINILM).per_query["ndcg@k"][cross]
    test = paired_test(use, minilm, n_resamples=5000)
    assert test.mean_a > test.mean_b
    assert test.significant(0.01), test
    assert test.wins > test.losses


def test_every_configuration_is_scored_with_intervals_and_costs(sample_comparison):
    labels = sample_comparison.labels
    assert labels == CONFIGS
    for r in sample_comparison.results:
        assert set(r.means) == set(METRICS)
        for name in METRICS:
            low, high = r.ci[name]
            assert 0 <= low <= r.means[name] <= high <= 1, (r.label, name)
        assert r.ranked.shape == (32, 10)
        assert r.usd_per_million_tokens == 0.0 and r.corpus_usd == 0.0
    use, int8, binary = (sample_comparison.result(c) for c in CONFIGS[:3])
    assert int8.index_bytes < use.index_bytes and binary.index_bytes < int8.index_bytes
    # 72 documents fit in binary's rescoring pool: it ranks exactly as float32, and says so.
    assert np.array_equal(binary.ranked, use.ranked)
    assert any("ranks exactly as float32" in n for n in sample_comparison.notes)
    assert sample_comparison.result(MINILM).dimension == 384 and use.dimension == 512


def test_reports_table_json_and_disagreements(sample_comparison):
    table = summary_table(sample_comparison)
    assert list(table["config"]) == CONFIGS
    assert {"ndcg@k low", "ndcg@k high", "index MB", "$ per 1M tokens", "corpus $"} <= set(table)
    records = json.loads(json.dumps(to_records(sample_comparison)))
    first = records[0]
    assert first["config"] == USE and first["k"] == 10 and len(first["per_query"]) == 32
    assert first["ndcg@k"] == pytest.approx(sample_comparison.result(USE).means["ndcg@k"])
    assert first["per_query"][0]["relevant"] == ["astronomy-01"]
    assert len(first["per_query"][0]["ranked"]) == 10
    assert set(first["groups"]) == {"cross-lingual", "same language"}
    groups = group_table(sample_comparison).set_index("config")
    cross = sample_comparison.queries.subset("cross-lingual")
    expected = sample_comparison.result(MINILM).per_query["ndcg@k"][cross].mean()
    assert groups.loc[MINILM, "cross-lingual"] == pytest.approx(expected)
    table = disagreements(sample_comparison, USE, MINILM)
    assert len(table) > 0 and set(table["winner"]) <= {USE, MINILM}
    top = table.iloc[0]
    assert top[USE] != top[MINILM] and top[f"first by {USE}"].startswith(top["relevant"])
    test = paired(sample_comparison, USE, MINILM, "mrr@k", n_resamples=500)
    assert test.wins == int((table[USE] > table[MINILM]).sum()) or test.wins > 0
    with pytest.raises(InvalidInputError, match=r"choose two different configurations"):
        disagreements(sample_comparison, USE, USE)
    with pytest.raises(InvalidInputError, match=r"no configuration 'openai' in this comparison"):
        sample_comparison.result("openai")


def test_cached_vectors_are_not_embedded_again(tmp_path):
    corpus, queries = EvalCorpus.sample(), sample_labels()
    cache = EmbeddingCache(tmp_path / "cache")
    first = compare(corpus, queries, [USE], k=5, cache=cache, n_resamples=50)
    again = compare(corpus, queries, [USE], k=5, cache=cache, n_resamples=50)
    cache.close()
    assert first.results[0].n_cached == 0
    assert again.results[0].n_cached == len(corpus) + len(queries)
    assert np.array_equal(first.results[0].ranked, again.results[0].ranked)


def test_matryoshka_dimensions_cut_one_embedding_run(make_embedder, openai_server):
    corpus = EvalCorpus(["alpha", "beta", "gamma", "delta"], ["a", "b", "c", "d"])
    queries = sample_labels()
    from core.eval import LabelledQueries

    queries = LabelledQueries(["alpha?", "delta?"], [{0: 1}, {3: 1}], ["", ""])
    built = []

    def embedder_for(config):
        built.append(config.embedding_source)
        return make_embedder("text-embedding-3-small", None)

    configs = ["openai:text-embedding-3-small", "openai:text-embedding-3-small,dim=16"]
    got = compare(corpus, queries, configs, k=2, cache=None, embedder_for=embedder_for)
    assert built == [("openai", "text-embedding-3-small", None)]  # one run for both
    full, cut = got.results
    assert full.dimension == 1536 and cut.dimension == 16
    assert full.usd_per_million_tokens == 0.02 and full.corpus_tokens > 0
    direct = make_embedder("text-embedding-3-small", None).embed_batch(corpus.texts).vectors
    short = make_embedder("text-embedding-3-small", 16).embed_batch(corpus.texts).vectors
    assert_allclose(normalize(direct[:, :16]), short, atol=1e-5)


def test_config_strings_and_their_errors():
    assert parse_config("openai:text-embedding-3-small,dim=256,mode=int8,metric=dot") == EvalConfig(
        "openai", "text-embedding-3-small", 256, "int8", "dot"
    )
    assert parse_config(f"{MINILM},mode=binary").label == f"{MINILM},mode=binary"
    bad = {
        "cohere": r"unknown provider 'cohere'; choose one of openai, use-multilingual",
        "use-multilingual,size=3": r"'size=3' is not an option; options are dim=, mode=, metric=",
        "use-multilingual,mode=int4": r"unknown mode 'int4'; choose one of float32, float16",
        "use-multilingual,metric=l1": r"unknown metric 'l1'; choose one of cosine, dot, euclidean",
        "openai:text-embedding-3-small,dim=-2": r"dim=-2 is not a positive whole number",
    }
    for text, message in bad.items():
        with pytest.raises(InvalidInputError, match=message):
            parse_config(text)
    with pytest.raises(
        InvalidInputError, match=r"configuration\(s\) given twice: use-multilingual"
    ):
        compare(EvalCorpus.sample(), sample_labels(), [USE, USE])
    with pytest.raises(InvalidInputError, match=r"k must be a positive integer, got 0"):
        compare(EvalCorpus.sample(), sample_labels(), [USE], k=0)


def test_dimensions_need_a_named_matryoshka_model():
    with pytest.raises(InvalidInputError, match=r"'openai,dim=256': name the model to shorten"):
        compare(EvalCorpus.sample(), sample_labels(), ["openai,dim=256"])
    with pytest.raises(InvalidInputError, match=r"have a fixed dimension; dimensions=256"):
        compare(EvalCorpus.sample(), sample_labels(), [f"{USE},dim=256"], cache=None)
