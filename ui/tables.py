"""Result tables the pages show and offer for download (pandas), and how their scores are shown.

The tables keep full-precision floats (the CSV download gets them all); every page shows scores
with the same number of decimals through :func:`score_config`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from core.data._collection import Collection
from core.services import SCORE_DECIMALS


def _source_of(collection: Collection, row: int) -> str:
    meta = collection.metadata
    parts = []
    if "source" in meta.columns:
        parts.append(str(meta.at[row, "source"]))
    if "location" in meta.columns:
        parts.append(str(meta.at[row, "location"]))
    elif "id" in meta.columns:
        parts.append(str(meta.at[row, "id"]))
    return " · ".join(p for p in parts if p and p != "nan")


def score_column(method: str) -> str:
    return "distance" if method == "euclidean" else "score"


def score_config(method: str) -> dict:
    """``column_config`` for a table's score (or distance) column: fixed decimals."""
    return {
        score_column(method): st.column_config.NumberColumn(
            score_column(method), format=f"%.{SCORE_DECIMALS}f"
        )
    }


def display_scores(scores: np.ndarray, method: str) -> np.ndarray:
    """Engine scores as people read them: euclidean ``-distance`` becomes the distance."""
    return -scores if method == "euclidean" else scores


def results_table(
    collection: Collection,
    queries: Sequence[str],
    ids: np.ndarray,
    scores: np.ndarray,
    method: str,
) -> pd.DataFrame:
    """One row per (query, rank): query, rank, score (or distance), text, source, doc.

    Parameters
    ----------
    ids, scores : numpy.ndarray of shape (n_queries, k)
        From ``engine.search`` / ``Collection.search``.
    """
    shown = display_scores(np.asarray(scores), method)
    rows = []
    for q, query in enumerate(queries):
        for rank, (doc, score) in enumerate(zip(ids[q], shown[q], strict=True), start=1):
            doc = int(doc)
            rows.append(
                {
                    "query": query,
                    "rank": rank,
                    score_column(method): float(score),
                    "text": collection.texts[doc],
                    "source": _source_of(collection, doc),
                    "doc": doc,
                }
            )
    return pd.DataFrame.from_records(
        rows, columns=["query", "rank", score_column(method), "text", "source", "doc"]
    )


def neighbours_table(
    collection: Collection, ids: np.ndarray, scores: np.ndarray, method: str
) -> pd.DataFrame:
    """A document's nearest neighbours: rank, score (or distance), text, source, doc.

    Parameters
    ----------
    ids, scores : numpy.ndarray of shape (k,)
        From ``ui.search.neighbours`` (engine scores; euclidean ones become distances).
    """
    table = results_table(
        collection, [""], np.asarray(ids)[None, :], np.asarray(scores)[None, :], method
    )
    return table.drop(columns=["query"])


def pairs_table(collection: Collection, pairs: Sequence[tuple[int, int, float]], method: str):
    """Near-duplicate pairs with both texts, most alike first."""
    column = score_column(method)
    return pd.DataFrame.from_records(
        [
            {
                column: float(s),
                "doc_a": i,
                "text_a": collection.texts[i],
                "doc_b": j,
                "text_b": collection.texts[j],
            }
            for i, j, s in pairs
        ],
        columns=[column, "doc_a", "text_a", "doc_b", "text_b"],
    )
