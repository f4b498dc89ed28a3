"""Format readers behind :mod:`core.data._parsing`: decoding, text units, CSV, JSONL and PDF.

Each reader yields ``(location, text, extra_columns)`` units or raises :class:`ParseError`
naming the file, the place and the fix.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from core.errors import ParseError

# (location, text, extra metadata columns) for one document before chunking.
Unit = tuple[str, str, dict[str, Any]]

SUPPORTED_EXTENSIONS = (".txt", ".md", ".csv", ".jsonl", ".json", ".parquet", ".pdf")
_TEXT_COLUMN_GUESSES = ("text", "content", "body", "document", "sentence", "passage")
# Where the text column is chosen: the dashboard's select box and the CLI's option.
_WHERE_TO_CHOOSE = (
    "(the 'CSV / JSONL text column' box in the app, --text-column on the command line)"
)
_UTF8_HINT = "Re-save the file as UTF-8 (in most editors: Save As... > Encoding: UTF-8)."


def decode_text(name: str, data: bytes) -> str:
    """UTF-8 (with or without BOM) text of a text-format file, or a ParseError saying why not."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError(name, f"the file is UTF-16 encoded. {_UTF8_HINT}")
    nul = data.find(b"\x00")
    if nul != -1:
        raise ParseError(
            name,
            "this looks like a binary file (it contains NUL bytes), not text. Export it as "
            f".txt, .csv or .jsonl first. Supported: {', '.join(SUPPORTED_EXTENSIONS)}.",
            location=f"byte {nul:,}",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        raise ParseError(
            name,
            f"not valid UTF-8 (bytes {bad}; probably GBK, Big5 or Latin-1). {_UTF8_HINT}",
            location=f"line {line}, byte {exc.start:,}",
        ) from exc


def line_units(text: str, split: str) -> list[tuple[str, str]]:
    """(location, text) units of a plain-text file."""
    lines = text.splitlines()
    if split == "file":
        body = text.strip()
        return [(f"lines 1-{len(lines)}", body)] if body else []
    if split == "line":
        return [(f"line {i}", ln.strip()) for i, ln in enumerate(lines, 1) if ln.strip()]
    units, block, first = [], [], 0
    for i, ln in enumerate([*lines, ""], 1):
        if ln.strip():
            if not block:
                first = i
            block.append(ln.strip())
        elif block:
            where = f"line {first}" if first == i - 1 else f"lines {first}-{i - 1}"
            units.append((where, "\n".join(block)))
            block = []
    return units


def pick_column(name: str, columns: list[str], text_column: str | None) -> str:
    """The named text column, else a conventional name (text, content...), else the only one."""
    listed = ", ".join(repr(c) for c in columns) or "(none)"
    if text_column is not None:
        if text_column not in columns:
            raise ParseError(
                name,
                f"there is no column {text_column!r}. Available columns: {listed}. "
                f"Choose one of them as the text column {_WHERE_TO_CHOOSE}.",
            )
        return text_column
    lowered = {c.lower(): c for c in columns}
    for guess in _TEXT_COLUMN_GUESSES:
        if guess in lowered:
            return lowered[guess]
    if len(columns) == 1:
        return columns[0]
    raise ParseError(
        name,
        f"cannot tell which column holds the text. Available columns: {listed}. "
        f"Choose the text column {_WHERE_TO_CHOOSE}.",
    )


def _csv_reader(text: str) -> csv.DictReader:
    """A DictReader whose delimiter is the most frequent of , ; tab | in the header line."""
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=header.count)
    if header.count(delimiter) == 0:
        delimiter = ","
    # Long documents in one cell exceed the csv module's 128 KB default field limit.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)


def csv_columns(text: str) -> list[str]:
    """Header names of a decoded CSV text."""
    return [c for c in (_csv_reader(text).fieldnames or []) if c is not None]


def csv_rows(name: str, text: str, text_column: str | None) -> Iterator[Unit]:
    """Units ``("row N", text, other columns)`` of a decoded CSV text (N counts data rows)."""
    reader = _csv_reader(text)
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    if not columns:
        raise ParseError(name, "no header row. The first line must name the columns.")
    column = pick_column(name, columns, text_column)
    try:
        for row_number, row in enumerate(reader, 1):
            if None in row:
                raise ParseError(
                    name,
                    f"this row has {len(columns) + len(row[None])} fields but the header has "
                    f"{len(columns)}. Put quotes around values that contain the delimiter.",
                    location=f"row {row_number} (line {reader.line_num})",
                )
            value = row.get(column) or ""
            extra = {c: row.get(c) for c in columns if c != column}
            yield f"row {row_number}", value, extra
    except csv.Error as exc:
        raise ParseError(
            name, f"broken CSV: {exc}. Check the quoting.", location=f"line {reader.line_num}"
        ) from exc


def jsonl_objects(name: str, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a decoded JSONL text."""
    for line_number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(
                name,
                f"broken JSON: {exc.msg} (column {exc.colno}). Each line must be one JSON object.",
                location=f"line {line_number}",
            ) from exc
        if not isinstance(obj, dict):
            raise ParseError(
                name,
                f'expected a JSON object like {{"text": ...}}, got a {type(obj).__name__}.',
                location=f"line {line_number}",
            )
        yield line_number, obj


def jsonl_rows(name: str, text: str, text_column: str | None) -> Iterator[Unit]:
    """Units ``("line N", text, other keys)``; nested values become JSON strings."""
    objects = list(jsonl_objects(name, text))
    if not objects:
        raise ParseError(name, "the file has no JSON lines. Choose a file with one object a line.")
    column = pick_column(name, keys_in_order(o for _, o in objects), text_column)
    for line_number, obj in objects:
        if column not in obj:
            raise ParseError(
                name,
                f"this object has no {column!r} key (keys: {', '.join(obj) or 'none'}). "
                f"Add it to this line, or choose another text column {_WHERE_TO_CHOOSE}.",
                location=f"line {line_number}",
            )
        value = obj[column]
        if isinstance(value, (dict, list)):
            raise ParseError(
                name,
                f"{column!r} holds a JSON {type(value).__name__}, not text.",
                location=f"line {line_number}",
            )
        extra = {
            k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
            for k, v in obj.items()
            if k != column
        }
        yield f"line {line_number}", "" if value is None else str(value), extra


def keys_in_order(objects: Iterable[dict]) -> list[str]:
    """Union of the objects' keys in first-seen order."""
    seen: dict[str, None] = {}
    for obj in objects:
        seen.update(dict.fromkeys(obj))
    return list(seen)


_pypdf_quiet_lock = threading.Lock()
_pypdf_quiet_depth = 0
_pypdf_saved_level = logging.NOTSET


@contextlib.contextmanager
def _quiet_pypdf():
    """Hold back pypdf's log records below ERROR while PDFs are read (in any thread); the
    logger's own level is restored when the last reader finishes."""
    global _pypdf_quiet_depth, _pypdf_saved_level
    logger = logging.getLogger("pypdf")
    with _pypdf_quiet_lock:
        if _pypdf_quiet_depth == 0:
            _pypdf_saved_level = logger.level
            logger.setLevel(logging.ERROR)
        _pypdf_quiet_depth += 1
    try:
        yield
    finally:
        with _pypdf_quiet_lock:
            _pypdf_quiet_depth -= 1
            if _pypdf_quiet_depth == 0:
                logger.setLevel(_pypdf_saved_level)


def pdf_pages(name: str, data: bytes, warnings: list[str]) -> list[tuple[str, str]]:
    """``("page N", text)`` for each page with text; pages without text go to ``warnings``."""
    from pypdf import PdfReader

    # A malformed PDF can fail deep inside pypdf with many exception types; every one becomes a
    # ParseError (with the original chained), nothing is swallowed. pypdf also logs what it
    # repairs ("EOF marker not found"...): those lines would only precede our own message.
    try:
        with _quiet_pypdf():
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise ParseError(
                    name,
                    "the PDF is password-protected. Save an unprotected copy and upload that.",
                )
            texts = [(page.extract_text() or "").strip() for page in reader.pages]
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(
            name,
            f"cannot read this PDF ({type(exc).__name__}: {exc}). If it opens in a viewer, "
            "print it to a new PDF or export its text.",
        ) from exc
    empty = [str(i) for i, t in enumerate(texts, 1) if not t]
    if len(empty) == len(texts):
        raise ParseError(
            name,
            f"none of its {len(texts)} page(s) has extractable text (a scan?). Run OCR first.",
        )
    if empty:
        warnings.append(
            f"{name}: page(s) {', '.join(empty)} have no extractable text (images?) and were "
            "skipped."
        )
    return [(f"page {i}", t) for i, t in enumerate(texts, 1) if t]
