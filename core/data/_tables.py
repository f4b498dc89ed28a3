"""Tables as documents: pandas DataFrames, Hugging Face datasets, Parquet and JSON files.

:func:`frame_documents` turns a table into texts, metadata and (optionally) vectors and ids
for :meth:`core.data.Collection.from_dataframe`; :func:`parquet_rows` and :func:`json_rows` are
the readers behind ``.parquet`` and ``.json`` in :func:`core.data.parse_file` (the same
``(location, text, extra columns)`` units as the CSV and JSONL readers).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from core.data._readers import Unit, decode_text, pick_column
from core.errors import InvalidInputError, ParseError

TABLE_EXTENSIONS = (".parquet", ".json")


def as_pandas(frame) -> pd.DataFrame:
    """``frame`` as a pandas DataFrame: a DataFrame as it is, anything with ``to_pandas()``
    (a Hugging Face ``datasets.Dataset``, a pyarrow Table, a Polars frame) converted."""
    if isinstance(frame, pd.DataFrame):
        return frame
    to_pandas = getattr(frame, "to_pandas", None)
    if callable(to_pandas):
        out = to_pandas()
        if isinstance(out, pd.DataFrame):
            return out
    raise InvalidInputError(
        f"expected a pandas DataFrame or a datasets.Dataset, got {type(frame).__name__}"
    )


def frame_documents(
    frame,
    text_column: str,
    embedding_column: str | None = None,
    id_column: str | None = None,
    metadata_columns: Sequence[str] | None = None,
) -> tuple[list[str], pd.DataFrame, np.ndarray | None, list[str] | None]:
    """Texts, metadata, vectors (or None) and ids (or None) of a table.

    Raises
    ------
    InvalidInputError
        A named column that is not there (the message lists the columns), a row without text
        (the message gives its position), vectors of unequal length.
    """
    table = as_pandas(frame).reset_index(drop=True)
    columns = [str(c) for c in table.columns]
    listed = ", ".join(repr(c) for c in columns) or "(none)"
    for what, name in (
        ("text_column", text_column),
        ("embedding_column", embedding_column),
        ("id_column", id_column),
        *(("metadata_columns", c) for c in metadata_columns or ()),
    ):
        if name is not None and name not in table.columns:
            raise InvalidInputError(f"{what}: no column {name!r}; the columns are: {listed}")
    texts_col = table[text_column]
    bad = np.flatnonzero(texts_col.isna().to_numpy())
    if bad.size:
        rows = ", ".join(str(int(r)) for r in bad[:5]) + (" ..." if bad.size > 5 else "")
        raise InvalidInputError(
            f"{bad.size} row(s) have no text in column {text_column!r} (row {rows}); drop "
            "them (df.dropna(subset=[...])) or fill them first"
        )
    texts = texts_col.astype(str).tolist()
    vectors = None
    if embedding_column is not None:
        cells = table[embedding_column].tolist()
        lengths = {len(np.asarray(v).reshape(-1)) for v in cells}
        if len(lengths) > 1:
            raise InvalidInputError(
                f"column {embedding_column!r} holds vectors of different lengths "
                f"{sorted(lengths)[:5]}; every row needs one vector of the same dimension"
            )
        vectors = np.asarray([np.asarray(v, dtype=np.float32).reshape(-1) for v in cells])
        if vectors.ndim != 2:
            vectors = vectors.reshape(len(cells), -1)
    ids = None if id_column is None else table[id_column].astype(str).tolist()
    used = {text_column, embedding_column, id_column}
    keep = (
        list(metadata_columns)
        if metadata_columns is not None
        else [c for c in table.columns if c not in used]
    )
    metadata = table[keep].copy()
    metadata.columns = [f"{c}_" if c in ("text", "_workbench_id") else str(c) for c in keep]
    for column in metadata.columns:
        if metadata[column].map(lambda v: isinstance(v, dict | list | np.ndarray)).any():
            metadata[column] = metadata[column].map(_plain)
    return texts, metadata, vectors, ids


def _plain(value):
    """Nested cells (lists, dicts, arrays) as JSON text, so the metadata stays a flat table."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _table_units(name: str, table: pd.DataFrame, text_column: str | None) -> Iterator[Unit]:
    columns = [str(c) for c in table.columns]
    if not columns:
        raise ParseError(name, "the table has no columns. Choose a file with a text column.")
    column = pick_column(name, columns, text_column)
    records = table.to_dict(orient="records")
    for row_number, record in enumerate(records, 1):
        value = record.get(column)
        if isinstance(value, dict | list | np.ndarray):
            raise ParseError(
                name,
                f"{column!r} holds a {type(value).__name__}, not text.",
                location=f"row {row_number}",
            )
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        extra = {str(k): _plain(v) for k, v in record.items() if k != column}
        yield f"row {row_number}", text, extra


def read_parquet_table(name: str, data: bytes) -> pd.DataFrame:
    """The table in a Parquet file, or a ParseError saying why it cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(data)).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ParseError(
            name,
            f"not a readable Parquet file ({type(exc).__name__}): it is damaged or cut short, "
            "or not Parquet. Export it again (pandas: df.to_parquet(...)).",
        ) from exc


def read_json_table(name: str, data: bytes) -> pd.DataFrame:
    """The records of a JSON file: an array of objects, or an object holding one such array
    (``{"data": [...]}``, as many exports write)."""
    text = decode_text(name, data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            name,
            f"broken JSON: {exc.msg} (column {exc.colno}). For one object per line, name the "
            "file .jsonl.",
            location=f"line {exc.lineno}",
        ) from exc
    if isinstance(value, dict):
        arrays = [k for k, v in value.items() if isinstance(v, list)]
        if len(arrays) != 1:
            raise ParseError(
                name,
                'expected an array of objects like [{"text": ...}, ...], or an object holding '
                f"exactly one such array; found keys {', '.join(value) or 'none'}.",
            )
        value = value[arrays[0]]
    if not isinstance(value, list):
        raise ParseError(name, f"expected an array of objects, got a JSON {type(value).__name__}.")
    for index, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise ParseError(
                name,
                f'expected objects like {{"text": ...}}, got a {type(item).__name__}.',
                location=f"item {index}",
            )
    if not value:
        raise ParseError(name, "the JSON array is empty. Choose a file with records.")
    return pd.DataFrame.from_records(value)


def table_rows(name: str, ext: str, data: bytes, text_column: str | None) -> Iterator[Unit]:
    """Units ``("row N", text, other columns)`` of a ``.parquet`` or ``.json`` file."""
    table = read_parquet_table(name, data) if ext == ".parquet" else read_json_table(name, data)
    return _table_units(name, table, text_column)


def table_columns(name: str, ext: str, data: bytes) -> list[str]:
    """Column names of a ``.parquet`` or ``.json`` file, to offer as the text column."""
    table = read_parquet_table(name, data) if ext == ".parquet" else read_json_table(name, data)
    return [str(c) for c in table.columns]
