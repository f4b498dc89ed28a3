"""Downloads: CSVs in UTF-8 with BOM (Excel shows Chinese), names after collection and time."""

from __future__ import annotations

import codecs
import io
from datetime import datetime

import numpy as np
import pandas as pd

from core.data import Collection
from core.embedding._types import EmbedderSpec
from core.services import collection_name, csv_bytes, download_name

SPEC = EmbedderSpec("use-multilingual", "universal-sentence-encoder-multilingual-3", None)
WHEN = datetime(2026, 12, 1, 9, 15)


def _collection(sources, extra=None):
    texts = [f"doc {i}" for i in range(len(sources))]
    vectors = np.eye(len(texts), 4, dtype=np.float32)
    meta = pd.DataFrame({"source": sources})
    return Collection.create(texts, vectors, SPEC, meta, extra=extra)


def test_csv_bytes_start_with_a_bom_and_round_trip_chinese():
    table = pd.DataFrame({"query": ["熊猫吃什么？"], "text": ["熊猫主要吃竹子。"], "score": [0.5]})
    data = csv_bytes(table)
    assert data.startswith(codecs.BOM_UTF8)
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back["text"].tolist() == ["熊猫主要吃竹子。"]
    assert list(back.columns) == ["query", "text", "score"]


def test_names_say_the_collection_and_the_time():
    one = _collection(["notes.txt", "notes.txt"])
    many = _collection(["Team Notes.md", "faq.csv", "b.txt"])
    chinese = _collection(["笔记.txt"])
    sample = _collection(["sample corpus"], extra={"origin": "sample"})
    assert collection_name(one) == "notes"
    assert collection_name(many) == "team-notes-and-2-more"
    assert collection_name(chinese) == "笔记"
    assert download_name(sample, "search results", "csv", WHEN) == (
        "sample-search-results-2026-12-01-0915.csv"
    )
    assert download_name(one, "collection", ".npz", WHEN) == "notes-collection-2026-12-01-0915.npz"
    assert download_name(None, "search results", "csv", WHEN).startswith("collection-search")
