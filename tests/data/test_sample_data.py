"""The bilingual sample corpus: its shape, and that USE really finds each query's answer."""

from __future__ import annotations

from collections import Counter

import pytest

from core.data._sample import (
    SAMPLE_DOCUMENTS,
    SAMPLE_QUERIES,
    TOPICS,
    document_index,
    sample_metadata,
    sample_texts,
)
from core.embedding.providers._local import UseMultilingualEmbedder
from core.search._engine import search

TOP_K = 3
MIN_TOP1_SHARE = 0.8


def test_corpus_is_bilingual_across_eight_topics():
    assert 60 <= len(SAMPLE_DOCUMENTS) <= 80
    ids = [d.id for d in SAMPLE_DOCUMENTS]
    assert len(set(ids)) == len(ids)
    assert set(TOPICS) == {d.topic for d in SAMPLE_DOCUMENTS} and len(TOPICS) == 8
    for topic in TOPICS:
        langs = Counter(d.lang for d in SAMPLE_DOCUMENTS if d.topic == topic)
        assert langs["en"] >= 3 and langs["zh"] >= 3, topic
    for doc in SAMPLE_DOCUMENTS:
        has_han = any("\u4e00" <= ch <= "\u9fff" for ch in doc.text)
        assert has_han == (doc.lang == "zh"), doc.id


def test_metadata_and_texts_line_up():
    meta = sample_metadata()
    assert list(meta.columns) == ["id", "lang", "topic"]
    assert len(meta) == len(sample_texts()) == len(SAMPLE_DOCUMENTS)
    assert sample_texts()[document_index("music-03")].startswith("Beethoven")
    with pytest.raises(KeyError, match=r"no sample document 'music-99'"):
        document_index("music-99")


def test_queries_mix_languages_and_many_are_cross_lingual():
    assert 8 <= len(SAMPLE_QUERIES) <= 14
    langs = Counter(q.lang for q in SAMPLE_QUERIES)
    assert langs["en"] >= 4 and langs["zh"] >= 4
    doc_lang = {d.id: d.lang for d in SAMPLE_DOCUMENTS}
    crossing = [q for q in SAMPLE_QUERIES if q.lang != doc_lang[q.expected_id]]
    assert len(crossing) >= len(SAMPLE_QUERIES) // 2


def test_use_ranks_each_expected_document_near_the_top():
    model = UseMultilingualEmbedder()
    corpus = model.embed_batch(sample_texts()).vectors
    queries = model.embed_batch([q.text for q in SAMPLE_QUERIES]).vectors
    ids, _ = search(corpus, queries, k=TOP_K, method="cosine")
    expected = [document_index(q.expected_id) for q in SAMPLE_QUERIES]
    pairs = list(zip(SAMPLE_QUERIES, ids, expected, strict=True))
    misses = [q.text for q, row, e in pairs if e not in row]
    assert misses == []
    top1 = sum(int(row[0] == e) for row, e in zip(ids, expected, strict=True))
    assert top1 >= MIN_TOP1_SHARE * len(SAMPLE_QUERIES)
