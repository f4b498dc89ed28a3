"""Metadata filters for search: which documents may be returned, decided before top-k.

Three spellings, one meaning:

- a **dict** (Python, LangChain): ``{"source": "faq.csv"}`` is equality; an operator dict
  ``{"year": {"$gte": 2020, "$lt": 2025}}``, ``{"lang": {"$in": ["en", "zh"]}}``; operators
  ``$eq $ne $gt $gte $lt $lte $in $nin``; several keys all apply; ``{"$and": [...]}`` and
  ``{"$or": [...]}`` combine dicts.
- a **string** (command line, dashboard): ``source = "faq.csv" and year >= 2020``,
  ``lang in ("en", "zh")``, ``not chunk = 0``, ``or``, parentheses; a column name with spaces in
  backquotes (`` `page no` > 3 ``). Parsed by a small tokenizer, never ``eval``; an error points
  at the bad part.
- a **callable** (Python): called with each document's metadata as a dict, returns a bool.
- a **bool array** of shape (n_documents,): the rows to keep, as computed by the caller.

A string value compares as text, a number as a number: text cells that hold numbers (CSV
columns are text) compare numerically with a number, and a cell that is not a number never
matches a range. Missing cells match only ``$ne`` / ``$nin``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InvalidInputError

Where = Mapping[str, Any] | str | Callable[[dict], bool] | None

_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
_SYMBOLS = {"=": "$eq", "==": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt"}
_SYMBOLS["<="] = "$lte"
_EXAMPLE = 'e.g. source = "faq.csv" and year >= 2020, or lang in ("en", "zh")'


def where_mask(where: Where, metadata: pd.DataFrame) -> np.ndarray | None:
    """Which rows of ``metadata`` pass ``where``: bool of shape (n_rows,), or None for no filter.

    Raises
    ------
    InvalidInputError
        A malformed filter, an unknown column (the message lists the columns) or an operator
        that does not fit the values.
    """
    if where is None or (isinstance(where, str | Mapping) and not where):
        return None
    if isinstance(where, np.ndarray):
        if where.dtype != bool or where.shape != (len(metadata),):
            raise InvalidInputError(
                f"a filter array must be bool of shape ({len(metadata)},), got {where.dtype} "
                f"of shape {where.shape}"
            )
        return where
    if isinstance(where, str):
        where = parse_where(where)
    if callable(where) and not isinstance(where, Mapping):
        records = metadata.to_dict(orient="records")
        out = np.empty(len(records), dtype=bool)
        for row, record in enumerate(records):
            clean = {k: v for k, v in record.items() if not _is_missing(v)}
            out[row] = bool(where(clean))
        return out
    if not isinstance(where, Mapping):
        raise InvalidInputError(
            f"a filter is a dict, a string or a callable, got {type(where).__name__}"
        )
    return _eval(where, metadata)


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def _eval(where: Mapping, metadata: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(metadata), dtype=bool)
    for key, condition in where.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list | tuple) or not condition:
                raise InvalidInputError(f"{key} takes a non-empty list of filters")
            parts = [_eval(part, metadata) for part in condition]
            combined = (
                np.logical_and.reduce(parts) if key == "$and" else np.logical_or.reduce(parts)
            )
            mask &= combined
        elif key == "$not":
            mask &= ~_eval(condition, metadata)
        else:
            mask &= _column_mask(key, condition, metadata)
    return mask


def _column_mask(column: str, condition, metadata: pd.DataFrame) -> np.ndarray:
    if column not in metadata.columns:
        listed = ", ".join(repr(c) for c in metadata.columns) or "(none)"
        raise InvalidInputError(
            f"filter on unknown metadata column {column!r}; the columns are: {listed}"
        )
    series = metadata[column]
    if not isinstance(condition, Mapping):
        condition = {"$eq": condition}
    mask = np.ones(len(series), dtype=bool)
    for op, value in condition.items():
        if op not in _OPERATORS:
            raise InvalidInputError(
                f"unknown filter operator {op!r} on {column!r}; use one of {', '.join(_OPERATORS)}"
            )
        mask &= _compare(column, series, op, value)
    return mask


def _compare(column: str, series: pd.Series, op: str, value) -> np.ndarray:
    missing = series.isna().to_numpy()
    if op in ("$in", "$nin"):
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            raise InvalidInputError(f"{op} on {column!r} takes a list of values, got {value!r}")
        values = list(value)
        hit = np.zeros(len(series), dtype=bool)
        for v in values:
            hit |= _equal(series, v)
        hit &= ~missing
        return ~hit if op == "$nin" else hit
    if op in ("$eq", "$ne"):
        hit = _equal(series, value) & ~missing
        return ~hit if op == "$ne" else hit
    # Ranges: numbers compare numerically (text cells holding numbers too), text as text.
    if isinstance(value, bool) or value is None:
        raise InvalidInputError(f"{op} on {column!r} needs a number or a text, got {value!r}")
    if isinstance(value, int | float | np.number):
        left = _numeric(series)
    elif isinstance(value, str):
        left = series.where(~series.isna(), None).map(lambda v: None if v is None else str(v))
    else:
        raise InvalidInputError(f"{op} on {column!r} needs a number or a text, got {value!r}")
    valid = ~left.isna().to_numpy()
    out = np.zeros(len(series), dtype=bool)
    known = left[valid]
    compare = {"$gt": known.gt, "$gte": known.ge, "$lt": known.lt, "$lte": known.le}[op]
    out[valid] = compare(value).to_numpy(dtype=bool)
    return out


def _numeric(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return pd.Series(np.nan, index=series.index)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    return pd.to_numeric(series, errors="coerce")


def _equal(series: pd.Series, value) -> np.ndarray:
    if value is None:
        return np.zeros(len(series), dtype=bool)
    if isinstance(value, bool):
        if pd.api.types.is_bool_dtype(series):
            return (series == value).to_numpy(dtype=bool)
        text = series.map(lambda v: str(v).lower() if not _is_missing(v) else None)
        return (text == str(value).lower()).to_numpy(dtype=bool)
    if isinstance(value, int | float | np.number):
        return (_numeric(series) == value).fillna(False).to_numpy(dtype=bool)
    return (series.map(lambda v: None if _is_missing(v) else str(v)) == str(value)).to_numpy(
        dtype=bool
    )


# ------------------------------------------------------------------------------- the string form

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<op>==|!=|>=|<=|=|<|>)
      | (?P<punct>[(),])
      | (?P<quoted>`[^`]+`)
      | (?P<word>[^\s=!<>(),"'`]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in"}
_LITERALS = {"true": True, "false": False, "null": None, "none": None}


def parse_where(text: str) -> dict:
    """Parse a filter string into the dict form (see the module docstring).

    Raises
    ------
    InvalidInputError
        With the position of the bad part and an example of the syntax.
    """
    tokens = _tokenize(text)
    parser = _Parser(text, tokens)
    result = parser.parse_or()
    if parser.pos < len(tokens):
        parser.fail("unexpected text here; join conditions with 'and' or 'or'")
    return result


def _tokenize(text: str) -> list[tuple[str, Any, int]]:
    tokens = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise InvalidInputError(_pointed(text, start, "cannot read the filter here"))
        kind = match.lastgroup
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "string":
            body = raw[1:-1]
            value = re.sub(r"\\(.)", r"\1", body)
            tokens.append(("value", value, start))
        elif kind == "number":
            tokens.append(("value", float(raw) if re.search(r"[.eE]", raw) else int(raw), start))
        elif kind == "quoted":
            tokens.append(("name", raw[1:-1], start))
        elif kind == "word":
            lower = raw.lower()
            if lower in _KEYWORDS:
                tokens.append((lower, lower, start))
            elif lower in _LITERALS:
                tokens.append(("value", _LITERALS[lower], start))
            else:
                tokens.append(("name", raw, start))
        else:
            tokens.append((raw, raw, start))
        pos = match.end()
    if not tokens:
        raise InvalidInputError(f"the filter is empty; write a condition, {_EXAMPLE}")
    return tokens


def _pointed(text: str, position: int, message: str) -> str:
    return (
        f"bad filter at character {position + 1}: {message}\n  {text}\n  {' ' * position}^\n"
        f"({_EXAMPLE}; quote text values)"
    )


class _Parser:
    def __init__(self, text: str, tokens: list) -> None:
        self.text, self.tokens, self.pos = text, tokens, 0

    def fail(self, message: str):
        position = self.tokens[self.pos][2] if self.pos < len(self.tokens) else len(self.text)
        raise InvalidInputError(_pointed(self.text, position, message))

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, kind: str, what: str):
        if self.peek() != kind:
            self.fail(f"expected {what}")
        token = self.tokens[self.pos]
        self.pos += 1
        return token[1]

    def parse_or(self) -> dict:
        parts = [self.parse_and()]
        while self.peek() == "or":
            self.pos += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else {"$or": parts}

    def parse_and(self) -> dict:
        parts = [self.parse_atom()]
        while self.peek() == "and":
            self.pos += 1
            parts.append(self.parse_atom())
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def parse_atom(self) -> dict:
        kind = self.peek()
        if kind == "(":
            self.pos += 1
            inner = self.parse_or()
            self.take(")", "a closing ')'")
            return inner
        if kind == "not":
            self.pos += 1
            return {"$not": self.parse_atom()}
        if kind == "value" and isinstance(self.tokens[self.pos][1], str):
            self.fail('a column name here, not a quoted value (write: column = "value")')
        column = self.take("name", "a metadata column name")
        kind = self.peek()
        if kind == "not":
            self.pos += 1
            self.take("in", "'in' after 'not'")
            return {column: {"$nin": self.parse_list()}}
        if kind == "in":
            self.pos += 1
            return {column: {"$in": self.parse_list()}}
        if kind not in _SYMBOLS:
            self.fail(f"an operator after {column!r}: = != < <= > >= or in (...)")
        self.pos += 1
        value = self.take("value", 'a value: a quoted text like "faq.csv", or a number')
        return {column: {_SYMBOLS[kind]: value}}

    def parse_list(self) -> list:
        self.take("(", "a '(' opening the list of values")
        values = [self.take("value", "a value")]
        while self.peek() == ",":
            self.pos += 1
            values.append(self.take("value", "a value after ','"))
        self.take(")", "a closing ')' or ',' and another value")
        return values
