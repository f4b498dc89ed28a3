"""Documents and collections: parsing uploads, the collection format, single-file exports.

- parsing: :func:`parse_file`, :func:`parse_files` -> :class:`ParsedDocuments`,
  :func:`columns_of`, :func:`check_file_size`, :data:`SPLIT_MODES`, :func:`chunk_text`
- collections: :class:`Collection` (add / delete / update by id, search with filters and MMR,
  ``from_dataframe``, ``to_frame``), :class:`SearchResults`, :class:`Manifest`,
  :func:`check_save_target`
- sharded collections: :class:`ShardedCollection` (shards searched as one, appendable),
  :func:`shard_collection`, :func:`is_sharded`
- metadata filters: :func:`where_mask`, :func:`parse_where`
- one-file formats: :func:`to_parquet_bytes`, :func:`to_npz_bytes`, :func:`from_bytes`; every
  download format in :data:`EXPORTS` (:class:`ExportFormat`), including the TensorFlow
  Projector's TSVs (:func:`projector_files`, :func:`write_projector`)
- the bilingual sample corpus: :data:`SAMPLE_DOCUMENTS`, :data:`SAMPLE_QUERIES`,
  :data:`SAMPLE_EVAL_QUERIES` (the labelled queries of ``core.eval``),
  :func:`sample_texts`, :func:`sample_metadata`
"""

from core.data._chunking import chunk_text
from core.data._collection import (
    ID_COLUMN,
    TEXT_COLUMN,
    Collection,
    CollectionError,
    Manifest,
    SearchResults,
    check_save_target,
    content_hash,
)
from core.data._filters import parse_where, where_mask
from core.data._formats import (
    EXPORTS,
    FORMATS,
    ExportFormat,
    from_bytes,
    to_npz_bytes,
    to_parquet_bytes,
)
from core.data._parsing import (
    SPLIT_MODES,
    ParsedDocuments,
    check_file_size,
    columns_of,
    parse_file,
    parse_files,
)
from core.data._projector import projector_files, to_projector_zip, write_projector
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
    "EXPORTS",
    "FORMATS",
    "ID_COLUMN",
    "SAMPLE_DOCUMENTS",
    "SAMPLE_EVAL_QUERIES",
    "SAMPLE_QUERIES",
    "SPLIT_MODES",
    "SUPPORTED_EXTENSIONS",
    "TEXT_COLUMN",
    "Collection",
    "CollectionError",
    "ExportFormat",
    "Manifest",
    "ParseError",
    "ParsedDocuments",
    "SearchResults",
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
    "parse_where",
    "projector_files",
    "sample_metadata",
    "sample_texts",
    "shard_collection",
    "to_npz_bytes",
    "to_parquet_bytes",
    "to_projector_zip",
    "where_mask",
    "write_projector",
]
