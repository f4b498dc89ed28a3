"""Metadata that can always be saved: columns whose values mix types become text, at parse time.

JSONL files put anything in their extra keys: ``"id": 1`` on one line and ``"id": "two"`` on the
next, an object here and a number there, integers beyond 2**63. Parquet needs one type per column,
so such a column would embed fine and then fail to save, after the job was paid for. Instead,
:func:`storable_metadata` turns every such column into text (the JSON spelling of each value) as
soon as the files are parsed, and says which column and where its type changed; a column that
still cannot be stored is refused, naming it, before anything is sent.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa

from core.errors import InvalidInputError


def _kind(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN: missing
        return None
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "number" if -(2**63) <= value < 2**63 else "integer beyond 64 bits"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _as_text(value):
    if _kind(value) is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _where(metadata: pd.DataFrame, row: int) -> str:
    parts = [str(metadata.at[row, c]) for c in ("source", "location") if c in metadata.columns]
    return ", ".join(parts) if parts else f"row {row + 1}"


def storable_metadata(metadata: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``metadata`` with every column Parquet cannot hold as one type turned into text.

    Parameters
    ----------
    metadata : pandas.DataFrame
        One row per document (``source`` and ``location`` name where each came from).

    Returns
    -------
    (pandas.DataFrame, list of str)
        The storable table (a copy where changed) and one warning per converted column.

    Raises
    ------
    InvalidInputError
        A column still cannot be stored (names the column).
    """
    warnings: list[str] = []
    out = metadata
    for column in metadata.columns:
        series = metadata[column]
        if series.dtype != object:
            continue
        kinds: dict[str, int] = {}
        for row, value in enumerate(series.tolist()):
            kind = _kind(value)
            if kind is not None and kind not in kinds:
                kinds[kind] = row
        mixed = len(kinds) > 1 or "integer beyond 64 bits" in kinds
        if not mixed:
            continue
        if out is metadata:
            out = metadata.copy()
        out[column] = [_as_text(v) for v in series.tolist()]
        first, *others = sorted(kinds.items(), key=lambda item: item[1])
        changes = "; ".join(f"{kind} from {_where(metadata, row)}" for kind, row in others)
        warnings.append(
            f"metadata column {column!r} holds {first[0]} ({_where(metadata, first[1])}) but "
            f"also {changes}: it is kept as text so the collection can be saved."
        )
    check_storable(out)
    return out, warnings


def check_storable(metadata: pd.DataFrame) -> None:
    """Raise :class:`~core.errors.InvalidInputError` naming the first column Parquet cannot
    store (checked before anything is embedded, not when saving after the job)."""
    for column in metadata.columns:
        try:
            pa.array(metadata[column], from_pandas=True)
        except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"metadata column {column!r} cannot be saved ({exc}); give it one type "
                "(all text or all numbers), or drop it"
            ) from None
