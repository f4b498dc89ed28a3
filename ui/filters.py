"""The metadata filter box, shared by the Search page and the documents table: a filter
written as ``source = "faq.csv" and year >= 2020``, checked against the collection before any
query is embedded. Parsing is :mod:`core.data._filters` (no ``eval``)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data._collection import Collection
from core.errors import InvalidInputError

FILTER_HELP = (
    'Only documents whose metadata pass are searched, e.g. `source = "faq.csv"`, '
    '`chunk >= 1 and lang in ("en", "zh")`, `not source = "old.txt"`. Quote text values; '
    "put a column name with spaces in backquotes. Leave empty to search everything."
)


def filter_input(collection: Collection, key: str) -> str:
    """The filter text box (usable inside a form); returns what is typed, stripped."""
    columns = ", ".join(map(str, collection.metadata.columns)) or "none"
    text = st.text_input(
        "Metadata filter (optional)",
        key=key,
        placeholder='source = "faq.csv"',
        help=FILTER_HELP + f" Columns: {columns}.",
    )
    return (text or "").strip()


class FilterRefused(Exception):
    """The filter was refused and the reason is on screen: do not search."""


def check_filter(collection: Collection, text: str) -> np.ndarray | None:
    """The rows passing ``text`` as a bool mask (None: no filter). A filter that cannot be read,
    or that no document passes, is explained on screen (as plain text) and raises
    :class:`FilterRefused`."""
    if not text:
        return None
    try:
        rows = collection.select(text)
    except InvalidInputError as exc:
        st.error("The metadata filter cannot be used:")
        st.code(str(exc), language=None)
        raise FilterRefused from None
    if rows.size == 0:
        st.warning("No document matches the metadata filter; change or clear it.")
        raise FilterRefused
    mask = np.zeros(len(collection), dtype=bool)
    mask[rows] = True
    return mask
