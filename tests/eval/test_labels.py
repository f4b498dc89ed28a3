"""Label files: ids, SOURCE#ROW and exact text, several relevant documents and grades, merged
rows; and every bad file stops with a message naming the file, the line and the fix."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.data import parse_files
from core.errors import InvalidInputError, ParseError
from core.eval import EvalCorpus, parse_labels, read_labels, sample_labels

DOCS = "id,text\na1,The cat sat on the mat\na2,Stock prices fell sharply\na3,猫坐在垫子上\n"


@pytest.fixture
def corpus() -> EvalCorpus:
    parsed = parse_files([("docs.csv", DOCS.encode())], text_column="text")
    notes = parse_files([("notes.txt", b"first note\n\nsecond note\n")])
    texts = parsed.texts + notes.texts
    meta = pd.concat([parsed.metadata, notes.metadata], ignore_index=True)
    return EvalCorpus.from_frame(texts, meta, id_column="id", name="docs.csv, notes.txt")


def labels(corpus, name: str, text: str):
    return parse_labels(name, text.encode(), corpus)


def test_csv_by_id_by_source_row_and_by_exact_text_with_grades(corpus):
    got = labels(
        corpus,
        "q.csv",
        "query,relevant,relevant_text,grade\n"
        "a cat on a rug,a1;a3,,2;1\n"
        "markets,docs.csv#row 2,,\n"
        "notes,notes.txt#3,first note,\n"
        "a cat on a rug,a2,,0\n",  # the same query again: merged (a2 judged not relevant)
    )
    assert got.texts == ["a cat on a rug", "markets", "notes"]
    assert got.relevance == [{0: 2, 2: 1, 1: 0}, {1: 1}, {4: 1, 3: 1}]
    assert got.relevant_ids(corpus, 0) == ["a1", "a3"]
    assert got.relevant_ids(corpus, 2) == ["notes.txt#line 1", "notes.txt#line 3"]


def test_jsonl_lists_objects_and_texts(corpus):
    lines = [
        {"query": "cats", "relevant": ["a1", "a3"]},
        {"query": "stocks", "relevant": {"a2": 3}},
        {"query": "mats", "relevant_text": ["猫坐在垫子上"], "grade": 2},
        {"query": "semi", "relevant": "a1; a2"},
    ]
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)
    got = labels(corpus, "q.jsonl", text)
    assert got.relevance == [{0: 1, 2: 1}, {1: 3}, {2: 2}, {0: 1, 1: 1}]


def test_the_sample_labels_mark_cross_lingual_queries():
    got = sample_labels()
    corpus = EvalCorpus.sample()
    assert len(got) == 32 and len(corpus) == 72
    assert len(got.subset("cross-lingual")) >= 20 and got.subset("same language")
    assert got.relevant_ids(corpus, 0) == ["astronomy-01"]


BAD = [
    (
        "q.txt",
        "query,relevant\n",
        r"q\.txt: labelled queries must be a \.csv or \.jsonl file, not \.txt",
    ),
    (
        "q.csv",
        "question,relevant\nx,a1\n",
        r"q\.csv, line 1: no 'query' column \(columns: question, relevant\)",
    ),
    (
        "q.csv",
        "query,answer\nx,a1\n",
        r"q\.csv, line 1: no 'relevant' or 'relevant_text' column \(columns: query, answer\)",
    ),
    (
        "q.csv",
        "query,relevant\ncats,a1\nrugs,a9\n",
        r"q\.csv, line 3: 'a9' matches no document: no document has the id 'a9' \(ids"
        r" look like 'a1', 'a2'\); nor is it SOURCE#ROW of a file given"
        r" \(docs\.csv, notes\.txt\)\. Fix or remove it\.",
    ),
    (
        "q.csv",
        "query,relevant\ncats,docs.csv#row 9\n",
        r"q\.csv, line 2: 'docs\.csv#row 9' matches no document: docs\.csv has no 'row 9'"
        r" \(it has row 1 to row 3\)",
    ),
    (
        "q.csv",
        "query,relevant_text\ncats,The cat sat on the mat.\n",
        r"q\.csv, line 2: the relevant_text 'The cat sat on the mat\.' is not the exact"
        r" text of any document",
    ),
    ("q.csv", "query,relevant\n,a1\n", r"q\.csv, line 2: the query is empty"),
    (
        "q.csv",
        "query,relevant\ncats,\n",
        r"q\.csv, line 2: no relevant document for this query\. List document ids in"
        r" 'relevant', separated by ';'",
    ),
    (
        "q.csv",
        "query,relevant,grade\ncats,a1;a2,high\n",
        r"q\.csv, line 2: grade 'high' is not a whole number >= 0",
    ),
    (
        "q.csv",
        "query,relevant,grade\ncats,a1;a2,2;1;3\n",
        r"q\.csv, line 2: 3 grades for 2 relevant document\(s\)",
    ),
    (
        "q.csv",
        "query,relevant,grade\ncats,a1,0\n",
        r"q\.csv: every document listed for 'cats' has grade 0",
    ),
    ("q.csv", "query,relevant\n", r"q\.csv: no labelled queries in the file"),
    (
        "q.jsonl",
        '{"query": "cats", "relevant": ["a1"]}\n{"query": "dogs", "relevant": [\n',
        r"q\.jsonl, line 2: broken JSON",
    ),
    (
        "q.jsonl",
        '{"question": "cats"}\n',
        r'q\.jsonl, line 1: no "query" text on this line \(keys: question\)',
    ),
    (
        "q.jsonl",
        '{"query": "cats", "relevant": 7}\n',
        r"q\.jsonl, line 1: 'relevant' must be a string or a list of strings, got a int",
    ),
    (
        "q.jsonl",
        '{"query": "cats", "relevant": {"a1": -1}}\n',
        r"q\.jsonl, line 1: grade -1 is negative",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_label_files_name_the_line(corpus, name, text, message):
    with pytest.raises(ParseError, match=message):
        labels(corpus, name, text)


def test_not_utf8_and_missing_file_and_documents_without_ids(corpus, tmp_path):
    with pytest.raises(ParseError, match=r"q\.csv, line 2, byte 15: not valid UTF-8"):
        parse_labels("q.csv", "query,relevant\n\xe7\xcc,a1\n".encode("latin-1"), corpus)
    with pytest.raises(
        InvalidInputError, match=r"nope\.csv: does not exist; give the path of a \.csv or \.jsonl"
    ):
        read_labels(tmp_path / "nope.csv", corpus)
    plain = EvalCorpus(["one", "two"], name="two texts")
    with pytest.raises(
        ParseError,
        match=r"q\.csv, line 2: 'x1' matches no document: the documents have no id column",
    ):
        parse_labels("q.csv", b"query,relevant\nq,x1\n", plain)


def test_unknown_id_column_lists_the_columns():
    parsed = parse_files([("docs.csv", DOCS.encode())], text_column="text")
    with pytest.raises(
        InvalidInputError, match=r"docs\.csv: no id column 'doc_id'; columns besides the text: id"
    ):
        EvalCorpus.from_frame(parsed.texts, parsed.metadata, id_column="doc_id", name="docs.csv")
