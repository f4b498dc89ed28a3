"""Labelled queries: questions and the documents that answer them, from a CSV or JSONL file.

CSV (one row per query; rows with the same query text are merged, so one row per relevant
document works too)::

    query,relevant,grade
    How long is a marathon?,sports-02
    What is compound interest?,finance-03;finance-05,2;1
    Which file explains refunds?,faq.csv#row 12

JSONL (one object per line)::

    {"query": "How long is a marathon?", "relevant": ["sports-02"]}
    {"query": "What is compound interest?", "relevant": {"finance-03": 2, "finance-05": 1}}
    {"query": "Which text is this?", "relevant_text": "The exact text of the document."}

* ``relevant`` lists references separated by ``;`` (a JSON list or object in JSONL). A reference
  is a **document id** (the documents' id column) or **SOURCE#ROW** — the file name and the row,
  line or page (``faq.csv#row 12``, ``faq.csv#12``, ``manual.pdf#page 3``). All chunks of that
  place count as relevant.
* ``relevant_text`` is the **exact text** of one relevant document (a JSON list for several).
* ``grade`` (optional) is the relevance of each reference in ``relevant``, whole numbers ``>= 0``
  separated by ``;`` (or one grade for all, including ``relevant_text``); default 1. Higher is
  more relevant (nDCG's gain); 0 means judged not relevant.

Every problem raises :class:`~core.errors.ParseError` naming the file, the line and the fix.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from core.data._readers import _csv_reader, decode_text, jsonl_objects
from core.data._readers import _header as _csv_header
from core.errors import InvalidInputError, ParseError
from core.eval._corpus import EvalCorpus

__all__ = ["LABEL_EXTENSIONS", "LabelledQueries", "parse_labels", "read_labels", "sample_labels"]

LABEL_EXTENSIONS = (".csv", ".jsonl")
QUERY_COLUMN, RELEVANT_COLUMN, TEXT_COLUMN, GRADE_COLUMN = (
    "query",
    "relevant",
    "relevant_text",
    "grade",
)
_FORMAT_HINT = (
    "Label files have a 'query' column and a 'relevant' column of document ids separated by "
    "';' (or 'relevant_text' with a document's exact text)."
)


@dataclass
class LabelledQueries:
    """Queries with their relevant documents (indices into an :class:`EvalCorpus`).

    Attributes
    ----------
    texts : list of str
        ``n_queries`` query texts, in file order.
    relevance : list of dict of int to int
        Per query, document index -> grade (> 0 relevant, 0 judged not relevant).
    groups : list of str
        A tag per query ("" when none); the sample marks ``"cross-lingual"`` queries.
    name : str
        Where the labels came from, for display.
    """

    texts: list[str]
    relevance: list[dict[int, int]]
    groups: list[str]
    name: str = "labels"

    def __len__(self) -> int:
        return len(self.texts)

    def relevant_ids(self, corpus: EvalCorpus, q: int) -> list[str]:
        """Labels of query ``q``'s relevant documents, most relevant first (then by index)."""
        rel = sorted((-g, i) for i, g in self.relevance[q].items() if g > 0)
        return [corpus.label(i) for _, i in rel]

    def subset(self, group: str) -> list[int]:
        """Indices of the queries tagged ``group``."""
        return [q for q, g in enumerate(self.groups) if g == group]


def sample_labels() -> LabelledQueries:
    """The sample corpus's labelled queries (``SAMPLE_EVAL_QUERIES``) for
    :meth:`EvalCorpus.sample`; a query in another language than its answer is tagged
    ``"cross-lingual"``, the others ``"same language"``."""
    from core.data._sample import SAMPLE_DOCUMENTS, SAMPLE_EVAL_QUERIES, document_index

    lang = {d.id: d.lang for d in SAMPLE_DOCUMENTS}
    return LabelledQueries(
        [q.text for q in SAMPLE_EVAL_QUERIES],
        [{document_index(q.expected_id): 1} for q in SAMPLE_EVAL_QUERIES],
        [
            "cross-lingual" if q.lang != lang[q.expected_id] else "same language"
            for q in SAMPLE_EVAL_QUERIES
        ],
        name="the sample's labelled queries",
    )


def read_labels(path: str | Path, corpus: EvalCorpus) -> LabelledQueries:
    """Read a label file from disk; see :func:`parse_labels`."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise InvalidInputError(f"{path}: {what}; give the path of a .csv or .jsonl label file")
    return parse_labels(path.name, path.read_bytes(), corpus)


def parse_labels(name: str, data: bytes, corpus: EvalCorpus) -> LabelledQueries:
    """Labelled queries from the bytes of a CSV or JSONL file (format in the module docstring).

    Parameters
    ----------
    name : str
        File name (its extension picks the format; it names the file in errors).
    data : bytes
        File content, UTF-8.
    corpus : EvalCorpus
        The documents the references must match.

    Returns
    -------
    LabelledQueries

    Raises
    ------
    ParseError
        Unsupported format, a missing column, an empty query, a query without relevant documents,
        a bad grade, or a reference that matches no document — each naming the line.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix not in LABEL_EXTENSIONS:
        raise ParseError(
            name,
            f"labelled queries must be a .csv or .jsonl file, not "
            f"{suffix or 'a file without an extension'}. {_FORMAT_HINT}",
        )
    text = decode_text(name, data)
    rows = _csv_records(name, text) if suffix == ".csv" else _jsonl_records(name, text)
    merged: dict[str, dict[int, int]] = {}
    for line, query, refs, exact, grades in rows:
        where = f"line {line}"
        if not query.strip():
            raise ParseError(
                name, "the query is empty. Write the question, or delete the line.", location=where
            )
        relevance = merged.setdefault(query, {})
        found_any = False
        for ref, grade in zip(refs, grades[: len(refs)], strict=True):
            docs = corpus.find(ref)
            if not docs:
                raise ParseError(
                    name, corpus.explain_miss(ref) + ". Fix or remove it.", location=where
                )
            for i in docs:
                relevance[i] = max(relevance.get(i, 0), grade)
            found_any = True
        text_grade = grades[-1] if len(grades) > len(refs) else 1
        for doc_text in exact:
            docs = corpus.find_text(doc_text)
            if not docs:
                shown = doc_text if len(doc_text) <= 60 else doc_text[:57] + "…"
                raise ParseError(
                    name,
                    f"the relevant_text {shown!r} is not the exact text of any document "
                    "(spaces and punctuation must match too). Copy the text from the documents, "
                    "or refer to the document by id.",
                    location=where,
                )
            for i in docs:
                relevance[i] = max(relevance.get(i, 0), text_grade)
            found_any = True
        if not found_any:
            raise ParseError(
                name,
                "no relevant document for this query. List document ids in 'relevant', "
                "separated by ';'.",
                location=where,
            )
    if not merged:
        raise ParseError(name, f"no labelled queries in the file. {_FORMAT_HINT}")
    texts = list(merged)
    for query in texts:
        if not any(g > 0 for g in merged[query].values()):
            raise ParseError(
                name,
                f"every document listed for {query!r} has grade 0, so it has no relevant "
                "document. Give at least one a grade of 1 or more.",
            )
    return LabelledQueries(texts, [merged[q] for q in texts], [""] * len(texts), name=name)


# A record: (line, query, references, exact texts, grades for references [+ one for the texts]).
_Record = tuple[int, str, list[str], list[str], list[int]]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _grade(name: str, where: str, value: Any) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise ParseError(
            name,
            f"grade {value!r} is not a whole number >= 0. Write one grade per relevant "
            "document, e.g. 2;1, or leave the grade out (1).",
            location=where,
        )
    grade = int(value)
    if grade < 0:
        raise ParseError(name, f"grade {grade} is negative; grades are 0 or more.", location=where)
    return grade


def _grades(name: str, where: str, raw: list, n_refs: int, n_texts: int) -> list[int]:
    """One grade per reference, plus one for the exact texts when there are any."""
    grades = [_grade(name, where, g) for g in raw]
    if not grades:
        grades = [1]
    if len(grades) == 1:
        return grades * (n_refs + (1 if n_texts else 0)) or grades
    if len(grades) != n_refs:
        raise ParseError(
            name,
            f"{len(grades)} grades for {n_refs} relevant document(s). Give one grade per "
            "document in 'relevant', or one grade for all.",
            location=where,
        )
    return grades


def _csv_records(name: str, text: str) -> list[_Record]:
    # The project's CSV reading (delimiter sniffing, strict quotes, unique header names), so a
    # label file is read exactly like a document file.
    reader = _csv_reader(text)
    columns, _ = _csv_header(name, reader)
    if QUERY_COLUMN not in columns:
        raise ParseError(
            name,
            f"no {QUERY_COLUMN!r} column (columns: {', '.join(columns) or 'none'}). {_FORMAT_HINT}",
            location="line 1",
        )
    if RELEVANT_COLUMN not in columns and TEXT_COLUMN not in columns:
        raise ParseError(
            name,
            f"no {RELEVANT_COLUMN!r} or {TEXT_COLUMN!r} column (columns: {', '.join(columns)}). "
            + _FORMAT_HINT,
            location="line 1",
        )
    records = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ParseError(
                name, f"broken CSV: {exc}. Check the quoting.", location=f"line {reader.line_num}"
            ) from exc
        where = f"line {reader.line_num}"
        if len(values) > len(columns):
            raise ParseError(
                name,
                f"this row has more fields than the header's {len(columns)}. Put quotes around "
                "values that contain the delimiter.",
                location=where,
            )
        values = values + [""] * (len(columns) - len(values))
        row = dict(zip(columns, values, strict=True))
        if not any(v.strip() for v in row.values()):
            continue
        refs = _split(row.get(RELEVANT_COLUMN, ""))
        exact = [row[TEXT_COLUMN]] if row.get(TEXT_COLUMN, "").strip() else []
        grades = _grades(name, where, _split(row.get(GRADE_COLUMN, "")), len(refs), len(exact))
        records.append((reader.line_num, row[QUERY_COLUMN].strip(), refs, exact, grades))
    return records


def _as_list(name: str, where: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return _split(value) if key == RELEVANT_COLUMN else [value]
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value]
    raise ParseError(
        name,
        f"{key!r} must be a string or a list of strings, got a {type(value).__name__}.",
        location=where,
    )


def _jsonl_records(name: str, text: str) -> list[_Record]:
    records = []
    for line, obj in jsonl_objects(name, text):
        where = f"line {line}"
        query = obj.get(QUERY_COLUMN)
        if not isinstance(query, str):
            raise ParseError(
                name,
                f'no "query" text on this line (keys: {", ".join(obj) or "none"}). {_FORMAT_HINT}',
                location=where,
            )
        relevant = obj.get(RELEVANT_COLUMN)
        raw_grades: list = []
        if isinstance(relevant, dict):
            refs = [str(k) for k in relevant]
            raw_grades = list(relevant.values())
        else:
            refs = _as_list(name, where, RELEVANT_COLUMN, relevant)
        exact = _as_list(name, where, TEXT_COLUMN, obj.get(TEXT_COLUMN))
        if GRADE_COLUMN in obj:
            given = obj[GRADE_COLUMN]
            raw_grades = given if isinstance(given, list) else [given]
        grades = _grades(name, where, raw_grades, len(refs), len(exact))
        records.append((line, query.strip(), refs, exact, grades))
    return records
