"""Turn uploaded files into documents to embed: one parser for the dashboard and the CLI.

Supported: ``.txt`` / ``.md`` (one document per line, per paragraph or per file); ``.csv``,
``.jsonl``, ``.json`` (an array of objects) and ``.parquet`` (a text column; the other columns
become metadata); ``.pdf`` (one document per page). Long documents can be cut into
overlapping chunks (:func:`chunk_text`).

Every problem raises :class:`ParseError` with the file name, the place (line, row, byte, page)
and what to do about it. :func:`parse_files` keeps the good files when some are bad.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import pandas as pd

from core.data._chunking import chunk_text
from core.data._metadata import storable_metadata
from core.data._readers import (
    SUPPORTED_EXTENSIONS,
    ParseError,
    csv_columns,
    csv_rows,
    decode_any,
    jsonl_objects,
    jsonl_rows,
    keys_in_order,
    line_units,
    markdown_sections,
    pdf_pages,
)
from core.data._tables import TABLE_EXTENSIONS, table_columns, table_rows
from core.errors import InvalidInputError
from core.surface import control

__all__ = [
    "DEFAULT_MAX_MB",
    "SPLIT_MODES",
    "SUPPORTED_EXTENSIONS",
    "ParseError",
    "ParsedDocuments",
    "check_file_size",
    "chunk_text",
    "columns_of",
    "parse_file",
    "parse_files",
]

SPLIT_MODES = ("line", "paragraph", "section", "file")  # section: Markdown headings + text
DEFAULT_MAX_MB = 100
BASE_COLUMNS = ("source", "location", "chunk")
# Extra CSV/JSONL columns with these names get a trailing "_" ("text" is the collection's own).
_RESERVED_COLUMNS = (*BASE_COLUMNS, "text")


@dataclass
class ParsedDocuments:
    """Texts to embed plus one metadata row per text.

    Attributes
    ----------
    texts : list of str
        Non-empty document texts.
    metadata : pandas.DataFrame
        ``len(texts)`` rows; columns ``source`` (file name), ``location`` (``"line 12"``,
        ``"row 3"``, ``"page 2"``...), ``chunk`` (0-based chunk index within that location),
        then any extra CSV/JSONL columns.
    warnings : list of str
        Things skipped on purpose (blank rows, PDF pages without text).
    errors : list of ParseError
        Files that failed entirely (only filled by :func:`parse_files`).
    """

    texts: list[str]
    metadata: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def _validate_options(split: str, chunk_size: int | None, chunk_overlap: int) -> None:
    if split not in SPLIT_MODES:
        raise InvalidInputError(f"split must be one of {', '.join(SPLIT_MODES)}; got {split!r}")
    if chunk_size is not None:
        chunk_text("", chunk_size, chunk_overlap)  # validates size and overlap


def _extension(name: str) -> str:
    ext = PurePath(name).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise ParseError(
            name,
            f"unsupported file type {ext or '(no extension)'!r}. Supported: "
            f"{', '.join(SUPPORTED_EXTENSIONS)}. Convert the file, or rename it if it is "
            "plain text.",
        )
    return ext


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:,.1f} MB" if n_bytes >= 100_000 else f"{n_bytes:,} bytes"


def check_file_size(name: str, n_bytes: int, max_bytes: int) -> None:
    """Raise :class:`ParseError` if a file of ``n_bytes`` is over ``max_bytes`` (check before
    reading a file from disk)."""
    if n_bytes > max_bytes:
        raise ParseError(
            name,
            f"the file is {_size(n_bytes)}; the limit is {_size(max_bytes)}. "
            "Split it into smaller files.",
        )


def _check_size(name: str, data: bytes, max_bytes: int) -> None:
    check_file_size(name, len(data), max_bytes)
    if not data:
        raise ParseError(name, "the file is empty (0 bytes). Choose a file that contains text.")
    if not data.strip():
        raise ParseError(
            name, "the file holds only blank space, no text. Choose a file that contains text."
        )


def parse_file(
    name: str,
    data: bytes,
    *,
    split: str = "line",
    text_column: str | None = None,
    chunk_size: int | None = None,
    chunk_overlap: int = 0,
    max_bytes: int = DEFAULT_MAX_MB * 1_000_000,
    encoding: str | None = None,
) -> ParsedDocuments:
    """Parse one uploaded file into documents and metadata.

    Parameters
    ----------
    name : str
        File name; its extension picks the format (see ``SUPPORTED_EXTENSIONS``).
    data : bytes
        The file content.
    split : {"line", "paragraph", "file"}
        Document unit for ``.txt``/``.md``. For ``.pdf``, ``"file"`` joins all pages into one
        document, anything else gives one document per page. Ignored for ``.csv``/``.jsonl``.
    text_column : str, optional
        CSV column / JSONL key holding the text. Default: a column named text, content, body,
        document, sentence or passage, or the only column.
    chunk_size, chunk_overlap : int, optional
        Cut each document into pieces of at most ``chunk_size`` characters overlapping by
        ``chunk_overlap`` (see :func:`chunk_text`).
    max_bytes : int
        Larger files are refused.
    encoding : str, optional
        How text files are decoded. Default: detected (UTF-8, else the most plausible
        encoding; a warning says which was used).

    Returns
    -------
    ParsedDocuments

    Raises
    ------
    ParseError
        Bad file: empty, binary, not UTF-8, missing column, broken JSON, unreadable PDF, too
        large, unsupported type.
    ValueError
        Bad options (``split``, chunk sizes).
    """
    _validate_options(split, chunk_size, chunk_overlap)
    ext = _extension(name)
    _check_size(name, data, max_bytes)
    warnings: list[str] = []
    rows: Iterable[tuple[str, str, dict]]
    if ext in TABLE_EXTENSIONS:  # .parquet, .json: see core.data._tables
        rows = table_rows(name, ext, data, text_column)
    elif ext == ".pdf":
        pages = pdf_pages(name, data, warnings)
        if split == "file":
            first, last = pages[0][0].removeprefix("page "), pages[-1][0].removeprefix("page ")
            pages = [(f"pages {first}-{last}", "\n\n".join(t for _, t in pages))]
        rows = ((where, text, {}) for where, text in pages)
    else:
        text, used = decode_any(name, data, encoding)
        if encoding is None and used != "utf-8":
            warnings.append(
                f"{name}: not UTF-8; read as {used} (detected). If the text looks wrong, "
                f"choose its encoding ({control('encoding')})."
            )
        if not text.strip():
            raise ParseError(name, "the file contains only whitespace. Choose a file with text.")
        if ext == ".csv":
            rows = csv_rows(name, text, text_column, warnings)
        elif ext == ".jsonl":
            rows = jsonl_rows(name, text, text_column)
        else:
            units = (
                markdown_sections(text)
                if split == "section" and ext == ".md"
                else line_units(text, "paragraph" if split == "section" else split)
            )
            rows = ((where, unit, {}) for where, unit in units)
    texts: list[str] = []
    records: list[dict[str, Any]] = []
    blank: list[str] = []
    for where, value, extra in rows:
        value = value.strip()
        if not value:
            blank.append(where)
            continue
        pieces = [value] if chunk_size is None else chunk_text(value, chunk_size, chunk_overlap)
        for index, piece in enumerate(pieces):
            texts.append(piece)
            records.append(
                {"source": name, "location": where, "chunk": index}
                | {(f"{k}_" if k in _RESERVED_COLUMNS else k): v for k, v in extra.items()}
            )
    if blank:
        shown = ", ".join(blank[:5]) + (" ..." if len(blank) > 5 else "")
        warnings.append(f"{name}: skipped {len(blank)} empty text(s) ({shown}).")
    if not texts:
        raise ParseError(name, "no non-empty text found. Check the text column or the file.")
    metadata = pd.DataFrame.from_records(records)
    metadata["chunk"] = metadata["chunk"].astype("int64")
    metadata, type_warnings = _storable(name, metadata)
    return ParsedDocuments(texts, metadata, warnings + type_warnings)


def _storable(name: str, metadata: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Metadata Parquet can save (mixed-type columns become text), or a ParseError."""
    try:
        metadata, warnings = storable_metadata(metadata)
    except InvalidInputError as exc:
        raise ParseError(name, f"{exc}. Nothing was sent.") from None
    return metadata, [f"{name}: {w}" if not w.startswith(name) else w for w in warnings]


def parse_files(
    files: Iterable[tuple[str, bytes]],
    *,
    per_file: Mapping[str, Mapping[str, Any]] | None = None,
    **options: Any,
) -> ParsedDocuments:
    """Parse several files; a bad file becomes an entry in ``errors``, the rest are kept.

    Parameters
    ----------
    files : iterable of (name, bytes)
        The uploaded files.
    per_file : mapping of file name to options, optional
        Options for one file that replace the shared ones, e.g.
        ``{"faq.csv": {"text_column": "answer"}, "old.txt": {"encoding": "gbk"}}``.
    **options
        Passed to :func:`parse_file` (``split``, ``text_column``, ``encoding``,
        ``chunk_size``...).

    Returns
    -------
    ParsedDocuments
        Texts and metadata of every good file, in file order; ``errors`` lists the bad ones.

    Raises
    ------
    ValueError
        Bad options (these would fail every file, so they fail at once).
    """
    _validate_options(
        options.get("split", "line"), options.get("chunk_size"), options.get("chunk_overlap", 0)
    )
    texts: list[str] = []
    frames: list[pd.DataFrame] = []
    warnings: list[str] = []
    errors: list[ParseError] = []
    files = list(files)
    for name, data in files:
        try:
            parsed = parse_file(name, data, **(options | dict((per_file or {}).get(name, {}))))
        except ParseError as exc:
            errors.append(exc)
            continue
        texts.extend(parsed.texts)
        frames.append(parsed.metadata)
        warnings.extend(parsed.warnings)
    if frames:
        metadata = pd.concat(frames, ignore_index=True)
        # Each file was storable; one column may still differ in type between files.
        metadata, type_warnings = _storable(", ".join(n for n, _ in files), metadata)
        warnings.extend(type_warnings)
    else:
        metadata = pd.DataFrame(
            {c: pd.Series(dtype="int64" if c == "chunk" else "object") for c in BASE_COLUMNS}
        )
    return ParsedDocuments(texts, metadata, warnings, errors)


def columns_of(
    name: str,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_MB * 1_000_000,
    encoding: str | None = None,
) -> list[str]:
    """Column names (CSV header, or JSONL keys in first-seen order) to offer as text column.

    Returns an empty list for formats without columns (.txt, .md, .pdf).

    Raises
    ------
    ParseError
        Same conditions as :func:`parse_file`.
    """
    ext = _extension(name)
    if ext in TABLE_EXTENSIONS:
        _check_size(name, data, max_bytes)
        return table_columns(name, ext, data)
    if ext not in (".csv", ".jsonl"):
        return []
    _check_size(name, data, max_bytes)
    text = decode_any(name, data, encoding)[0]
    if ext == ".csv":
        return csv_columns(text)
    return keys_in_order(obj for _, obj in jsonl_objects(name, text))
