"""Query and document prefixes for asymmetric embedding models.

Some models are trained to embed a search query and the passages it should find differently,
and expect a marker in front of each text: nomic-embed-text wants ``search_query: `` /
``search_document: ``, the e5 family ``query: `` / ``passage: ``, bge / mxbai / arctic-embed an
instruction before queries only, and instruction-tuned models (gte-Qwen, e5-mistral, ...) an
``Instruct: ...\\nQuery: `` prompt before queries. Without them such models still work, but
retrieve noticeably worse.

:func:`default_prefixes` knows these families by name; any provider takes explicit
``query_prefix`` / ``document_prefix`` options instead. The batch engine puts the prefix in
front of every non-empty text it sends (:func:`core.embedding.embed_texts` ``role=``), the
collection manifest records both, and a saved collection is queried with the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

_RETRIEVAL_INSTRUCTION = "Represent this sentence for searching relevant passages: "
_INSTRUCT_QUERY = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "
)


@dataclass(frozen=True)
class Prefixes:
    """The two prefixes of a model; ``family`` names the rule that chose them ("" for none)."""

    query: str = ""
    document: str = ""
    family: str = ""


# (name fragment, family, query prefix, document prefix); first match wins, lower-case names.
KNOWN_PREFIXES: tuple[tuple[str, str, str, str], ...] = (
    ("nomic-embed", "nomic", "search_query: ", "search_document: "),
    ("e5-mistral", "instruction (e5-mistral)", _INSTRUCT_QUERY, ""),
    ("gte-qwen", "instruction (gte-Qwen)", _INSTRUCT_QUERY, ""),
    ("multilingual-e5", "e5", "query: ", "passage: "),
    ("e5-", "e5", "query: ", "passage: "),
    ("mxbai-embed", "mxbai", _RETRIEVAL_INSTRUCTION, ""),
    ("snowflake-arctic-embed", "arctic-embed", _RETRIEVAL_INSTRUCTION, ""),
    ("bge-small-en", "bge (English)", _RETRIEVAL_INSTRUCTION, ""),
    ("bge-base-en", "bge (English)", _RETRIEVAL_INSTRUCTION, ""),
    ("bge-large-en", "bge (English)", _RETRIEVAL_INSTRUCTION, ""),
)


def default_prefixes(model: str) -> Prefixes:
    """The prefixes ``model``'s family was trained with, by name; none for other models.

    Parameters
    ----------
    model : str
        A model name as a server or a local directory calls it, e.g. ``nomic-embed-text``,
        ``intfloat/multilingual-e5-small``, ``/models/e5-base-v2``.

    Returns
    -------
    Prefixes
        ``Prefixes("", "", "")`` for a model of no known family (OpenAI's, MiniLM, USE, bge-m3).
    """
    name = model.lower().rsplit("/", 1)[-1] if "/" in model else model.lower()
    for fragment, family, query, document in KNOWN_PREFIXES:
        if fragment in name:
            return Prefixes(query, document, family)
    return Prefixes()


def resolve_prefixes(
    model: str, query_prefix: str | None = None, document_prefix: str | None = None
) -> Prefixes:
    """Explicit prefixes where given (``""`` means none), the family defaults otherwise."""
    default = default_prefixes(model)
    query = default.query if query_prefix is None else str(query_prefix)
    document = default.document if document_prefix is None else str(document_prefix)
    explicit = query_prefix is not None or document_prefix is not None
    family = "custom" if explicit and (query, document) != (default.query, default.document) else ""
    return Prefixes(query, document, family or default.family)
