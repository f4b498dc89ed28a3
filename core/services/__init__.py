"""Workflows the dashboard and the CLI both call, so that none exists twice.

- embedding files into a collection: :func:`plan_embedding` -> :class:`EmbedPlan` (what will be
  sent and what it costs), :func:`embed_collection` -> :class:`EmbedOutcome` (the collection,
  the engine's result and an :class:`EmbedSummary`)
- searching a collection with text: :func:`run_search` -> :class:`SearchReport`;
  :func:`parse_queries`, :func:`check_queries`, :func:`neighbours`
- downloads: :func:`csv_bytes` (UTF-8 with BOM, for Excel), :func:`download_name`
  (collection and time in the file name)
- keeping a collection on the server for a while under an unguessable key:
  :class:`KeptCollections` (keep, info, load, forget), :class:`KeptInfo`, :func:`new_token`
- what the numbers mean, in words: :func:`memory_note`, :func:`recall_note`,
  :func:`no_match_note`, :func:`format_score`, … (``core.services._reporting``)
"""

from core.services._downloads import collection_name, csv_bytes, download_name
from core.services._embed import (
    EmbedOutcome,
    EmbedPlan,
    EmbedSummary,
    embed_collection,
    plan_embedding,
    summarise,
)
from core.services._kept import KeptCollections, KeptInfo, is_token, new_token
from core.services._reporting import (
    SCORE_DECIMALS,
    clamp_k,
    embed_value,
    format_bytes,
    format_score,
    memory_label,
    memory_note,
    no_match_note,
    no_pairs_message,
    pairs_heading,
    previous_note,
    recall_note,
    recall_value,
    too_many_pairs_note,
)
from core.services._search import (
    EXACT,
    LOW_COSINE,
    MEMORY_MODES,
    RECALL_K,
    SearchReport,
    check_queries,
    mode_label,
    neighbours,
    parse_queries,
    run_search,
    top_cosines,
)

__all__ = [
    "EXACT",
    "LOW_COSINE",
    "MEMORY_MODES",
    "RECALL_K",
    "SCORE_DECIMALS",
    "EmbedOutcome",
    "EmbedPlan",
    "EmbedSummary",
    "KeptCollections",
    "KeptInfo",
    "SearchReport",
    "check_queries",
    "clamp_k",
    "collection_name",
    "csv_bytes",
    "download_name",
    "embed_collection",
    "embed_value",
    "format_bytes",
    "format_score",
    "is_token",
    "memory_label",
    "memory_note",
    "mode_label",
    "neighbours",
    "new_token",
    "no_match_note",
    "no_pairs_message",
    "pairs_heading",
    "parse_queries",
    "plan_embedding",
    "previous_note",
    "recall_note",
    "recall_value",
    "run_search",
    "summarise",
    "too_many_pairs_note",
    "top_cosines",
]
