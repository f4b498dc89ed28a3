"""Documents and collections: parsing uploads, the collection format, single-file exports.

- parsing: :func:`parse_file`, :func:`parse_files` -> :class:`ParsedDocuments`,
  :func:`columns_of`, :func:`check_file_size`, :data:`SPLIT_MODES`, :func:`chunk_text`
- collections: :class:`Collection`, :class:`Manifest`, :func:`check_save_target`
- sharded collections: :class:`ShardedCollection` (shards searched as one, appendable),
  :func:`shard_collection`, :func:`is_sharded`
- one-file formats: :func:`to_parquet_bytes`, :func:`to_npz_bytes`, :func:`from_bytes`
- the bilingual sample corpus: :data:`SAMPLE_DOCUMENTS`, :data:`SAMPLE_QUERIES`,
  :data:`SAMPLE_EVAL_QUERIES` (the labelled queries of ``core.eval``),
  :func:`sample_texts`, :func:`sample_metadata`
"""

from core.data._chunking import chunk_text
from core.data._collection import (
    TEXT_COLUMN,
    Collection,
    CollectionError,
    Manifest,
    check_save_target,
    content_hash,
)
from core.data._formats import FORMATS, from_bytes, to_npz_bytes, to_parquet_bytes
from core.data._parsing import (
    SPLIT_MODES,
    ParsedDocuments,
    check_file_size,
    columns_of,
    parse_file,
    parse_files,
)
from core.data._readers import SUPPORTED_EXTENSIONS, ParseError
from core.data._sample import (
    SAMPLE_DOCUMENTS,
    SAMPLE_EVAL_QUERIES,
    SAMPLE_QUERIES,
    document_index,
    sample_metadata,
    sample_texts,
)
from core.data._shards import ShardedCollection, is_sharded, shard_collection

__all__ = [
    "FORMATS",
    "SAMPLE_DOCUMENTS",
    "SAMPLE_EVAL_QUERIES",
    "SAMPLE_QUERIES",
    "SPLIT_MODES",
    "SUPPORTED_EXTENSIONS",
    "TEXT_COLUMN",
    "Collection",
    "CollectionError",
    "Manifest",
    "ParseError",
    "ParsedDocuments",
    "ShardedCollection",
    "check_file_size",
    "check_save_target",
    "chunk_text",
    "columns_of",
    "content_hash",
    "document_index",
    "from_bytes",
    "is_sharded",
    "parse_file",
    "parse_files",
    "sample_metadata",
    "sample_texts",
    "shard_collection",
    "to_npz_bytes",
    "to_parquet_bytes",
]
