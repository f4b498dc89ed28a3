"""What the dashboard's downloads are called and how their bytes are written.

CSV files are UTF-8 *with* a byte-order mark: Excel reads a CSV without one in the machine's
legacy code page, which turns Chinese (and any accented text) into mojibake; pandas, Python's
``csv`` module (``encoding="utf-8-sig"``) and every other tool skip the mark. File names say
which collection and when: ``notes-search-results-2026-12-01-0915.csv``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import PurePath

import pandas as pd

from core.data._collection import Collection

CSV_ENCODING = "utf-8-sig"


def csv_bytes(table: pd.DataFrame) -> bytes:
    """``table`` as CSV bytes, UTF-8 with a BOM (Excel shows Chinese), without the index."""
    return table.to_csv(index=False).encode(CSV_ENCODING)


def _slug(text: str, max_len: int = 40) -> str:
    # Letters of any script stay (a Chinese file name stays Chinese); the rest becomes "-".
    text = unicodedata.normalize("NFC", text).strip().lower()
    slug = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-_")
    return slug[:max_len].strip("-_") or "collection"


def collection_name(collection: Collection) -> str:
    """A short name for ``collection``, from its source files: ``notes``, ``notes-and-2-more``,
    ``sample`` for the built-in corpus, ``collection`` when nothing says more."""
    if collection.manifest.extra.get("origin") == "sample":
        return "sample"
    meta = collection.metadata
    if "source" not in meta.columns:
        return "collection"
    sources = [str(s) for s in meta["source"].dropna().unique() if str(s).strip()]
    if not sources:
        return "collection"
    first = _slug(PurePath(sources[0]).stem)
    return first if len(sources) == 1 else f"{first}-and-{len(sources) - 1}-more"


def download_name(
    collection: Collection | None, what: str, extension: str, when: datetime | None = None
) -> str:
    """``<collection>-<what>-<YYYY-MM-DD-HHMM>.<extension>``, e.g.
    ``notes-search-results-2026-12-01-0915.csv``; local time unless ``when`` is given."""
    name = "collection" if collection is None else collection_name(collection)
    stamp = (when or datetime.now()).strftime("%Y-%m-%d-%H%M")
    return f"{name}-{_slug(what)}-{stamp}.{extension.lstrip('.')}"
