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


def _where_to_choose() -> str:
    """Where the text column is chosen, as the current surface names it (core.surface)."""
    from core.surface import control

    return f"({control('text_column')})"


_UTF8_HINT = "Re-save the file as UTF-8 (in most editors: Save As... > Encoding: UTF-8)."


def decode_text(name: str, data: bytes) -> str:
    """UTF-8 (with or without BOM) text of a text-format file, or a ParseError saying why not.

    Other encodings: see :func:`decode_any`, which detects them and says which it used.
    """
    return decode_any(name, data, encoding="utf-8")[0]


# The encodings a user can choose instead of detection (any Python codec name also works).
COMMON_ENCODINGS = ("utf-8", "gb18030", "gbk", "big5", "shift_jis", "euc-kr", "latin-1",
                    "cp1252", "utf-16")  # fmt: skip


def decode_any(name: str, data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text of a text-format file and the encoding it was read with.

    ``encoding=None`` detects it: UTF-8 (or UTF-16 with a byte-order mark) first, else the
    most plausible encoding according to ``charset-normalizer`` (GBK, Big5, Latin-1 …). Binary
    data (NUL bytes without a UTF-16 mark, or nothing that decodes as plausible text) is
    refused either way.

    Returns
    -------
    (str, str)
        The text, and the encoding's name (``"utf-8"``, ``"gb18030"``, ``"cp1252"`` …).

    Raises
    ------
    ParseError
        Binary data, an unknown ``encoding`` name, or bytes that ``encoding`` cannot decode
        (naming the line and byte).
    """
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if encoding is None and utf16:
        encoding = "utf-16"
    nul = data.find(b"\x00")
    if nul != -1 and not (utf16 or (encoding or "").lower().replace("-", "").startswith("utf16")):
        raise ParseError(
            name,
            "this looks like a binary file (it contains NUL bytes), not text. Export it as "
            f".txt, .csv or .jsonl first. Supported: {', '.join(SUPPORTED_EXTENSIONS)}.",
            location=f"byte {nul:,}",
        )
    if encoding is not None:
        return _decode_as(name, data, encoding), encoding
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    from charset_normalizer import from_bytes

    best = _most_plausible(from_bytes(data))
    if best is None or best.chaos > 0.2:
        exc = utf8_error
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        raise ParseError(
            name,
            f"not valid UTF-8 (bytes {bad}) and no other text encoding fits: binary data, or "
            f"a mixture of encodings. {_UTF8_HINT}",
            location=f"line {line}, byte {exc.start:,}",
        ) from exc
    return str(best), best.encoding


# Among encodings that fit a short file equally well, the one most files in it are written in:
# a few lines of GBK are also valid cp949 and Shift-JIS, and a Latin-1 line valid cp1250 (which
# reads "è" as "č"). charset-normalizer orders such ties arbitrarily; this order breaks them.
_TIE_ORDER = ("gb18030", "big5", "cp932", "shift_jis", "cp949", "euc_kr", "cp1252", "latin_1")


def _most_plausible(matches):
    """The least chaotic of charset-normalizer's matches, ties broken by :data:`_TIE_ORDER`."""
    if not matches:
        return None
    least = min(m.chaos for m in matches)
    tied = [m for m in matches if m.chaos <= least + 1e-9]
    rank = {name: i for i, name in enumerate(_TIE_ORDER)}
    return min(tied, key=lambda m: rank.get(m.encoding, len(rank)))


def _encoding_control() -> str:
    from core.surface import control

    return control("encoding")


def _decode_as(name: str, data: bytes, encoding: str) -> str:
    import codecs

    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ParseError(
            name, f"unknown encoding {encoding!r}. Choose one of: {', '.join(COMMON_ENCODINGS)}."
        ) from exc
    try:
        text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        raise ParseError(
            name,
            f"not valid {'UTF-8' if codec == 'utf-8' else encoding} (bytes {bad}). Choose "
            "another encoding, or let it be "
            f"detected ({_encoding_control()}).",
            location=f"line {line}, byte {exc.start:,}",
        ) from exc
    return text.lstrip("\ufeff")


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


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """(location, text) units of a Markdown file: one per section, its heading kept with its
    text (a heading is a line starting with 1-6 ``#``; lines inside ``` fences never are).
    Text before the first heading is a section of its own."""
    lines = text.splitlines()
    starts, fenced = [], False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and stripped.startswith("#"):
            hashes = len(stripped) - len(stripped.lstrip("#"))
            if hashes <= 6 and stripped[hashes : hashes + 1] in (" ", ""):
                starts.append(i)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    units = []
    for first, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        body = "\n".join(lines[first:end]).strip()
        if body:
            last = end
            while last > first and not lines[last - 1].strip():
                last -= 1
            where = f"line {first + 1}" if last == first + 1 else f"lines {first + 1}-{last}"
            units.append((where, body))
    return units


def pick_column(name: str, columns: list[str], text_column: str | None) -> str:
    """The named text column, else a conventional name (text, content...), else the only one."""
    listed = ", ".join(repr(c) for c in columns) or "(none)"
    if text_column is not None:
        if text_column not in columns:
            raise ParseError(
                name,
                f"there is no column {text_column!r}. Available columns: {listed}. "
                f"Choose one of them as the text column {_where_to_choose()}.",
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
        f"Choose the text column {_where_to_choose()}.",
    )


def _csv_reader(text: str):
    """A csv.reader (strict: an unclosed quote is an error, not the rest of the file in one
    value) whose delimiter is the most frequent of , ; tab | in the header line."""
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=header.count)
    if header.count(delimiter) == 0:
        delimiter = ","
    # Long documents in one cell exceed the csv module's 128 KB default field limit.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)


def _header(name: str, reader) -> tuple[list[str], list[str]]:
    """The header row with blank and repeated names made unique, and what was renamed."""
    try:
        raw = next(reader, [])
    except csv.Error as exc:
        raise ParseError(
            name, f"broken CSV header: {exc}. Check the quoting.", location="line 1"
        ) from exc
    columns: list[str] = []
    renamed: list[str] = []
    for position, column in enumerate(raw, 1):
        unique = column.strip() or f"column_{position}"
        suffix = 2
        while unique in columns:
            unique = f"{column.strip() or 'column'}_{suffix}"
            suffix += 1
        if unique != column:
            what = "has no name" if not column.strip() else f"repeats {column!r}"
            renamed.append(f"column {position} {what}: it is kept as {unique!r}")
        columns.append(unique)
    return columns, renamed


def csv_columns(text: str) -> list[str]:
    """Header names of a decoded CSV text (blank and repeated names made unique)."""
    try:
        return _header("", _csv_reader(text))[0]
    except ParseError:
        return []


def csv_rows(
    name: str, text: str, text_column: str | None, warnings: list[str] | None = None
) -> Iterator[Unit]:
    """Units ``("row N", text, other columns)`` of a decoded CSV text (N counts data rows).

    Blank and repeated header names are renamed (``id``, ``id_2``), said in ``warnings``; an
    unclosed quote is refused with the line where its value starts.
    """
    reader = _csv_reader(text)
    columns, renamed = _header(name, reader)
    if not columns:
        raise ParseError(name, "no header row. The first line must name the columns.")
    if renamed and warnings is not None:
        warnings.append(f"{name}: " + "; ".join(renamed) + ".")
    column = pick_column(name, columns, text_column)
    row_number, last_line = 0, reader.line_num
    try:
        for fields in reader:
            if not fields:
                last_line = reader.line_num
                continue  # a blank line, as DictReader skips it
            row_number += 1
            if len(fields) > len(columns):
                raise ParseError(
                    name,
                    f"this row has {len(fields)} fields but the header has {len(columns)}. Put "
                    "quotes around values that contain the delimiter.",
                    location=f"row {row_number} (line {reader.line_num})",
                )
            row = dict(zip(columns, fields, strict=False))
            value = row.get(column) or ""
            extra = {c: row.get(c) for c in columns if c != column}
            last_line = reader.line_num
            yield f"row {row_number}", value, extra
    except csv.Error as exc:
        start = last_line + 1
        if "unexpected end of data" in str(exc):
            raise ParseError(
                name,
                "a quote opened here is never closed, so the rest of the file would become one "
                'value. Close the quote, or double a quote inside a value ("").',
                location=f"row {row_number + 1} (line {start})",
            ) from exc
        raise ParseError(
            name,
            f"broken CSV: {exc}. Check the quoting.",
            location=f"row {row_number + 1} (line {start})",
        ) from exc


def _json_lines(text: str) -> list[str]:
    """Lines of a JSONL text split on ``\n`` only: U+2028, U+2029 and the other characters
    ``str.splitlines`` also breaks on are valid inside a JSON string."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def jsonl_objects(name: str, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a decoded JSONL text."""
    for line_number, line in enumerate(_json_lines(text), 1):
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
        except RecursionError:
            raise ParseError(
                name,
                "the JSON on this line is nested too deeply to read. Flatten its values.",
                location=f"line {line_number}",
            ) from None
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
                f"Add it to this line, or choose another text column {_where_to_choose()}.",
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
