"""What `core` and each sub-package export: the table of contents, pinned.

A name added to or removed from a package's public surface shows up here as a failing test, so
the change is deliberate (and README and the note follow it).
"""

from __future__ import annotations

import importlib

import pytest

import core

PUBLIC = {
    "core": {
        "MODES", "BatchEmbeddingProcessor", "Collection", "CollectionError", "EmbedderSpec",
        "EmbeddingCache", "Manifest", "Metric", "ParseError", "ParsedDocuments", "Progress",
        "ProviderInfo", "SimilarityCalculator", "TopKRetriever", "WorkbenchError",
        "WorkbenchVectorStore", "__version__",
        "as_matrix", "available_providers", "build_index", "bytes_per_vector",
        "default_provider", "get_embedder", "matrix_nbytes", "memory_table", "near_duplicates",
        "normalize", "parse_file", "parse_files", "recall_at_k", "search", "similarity_matrix",
    },
    "core.search": {
        "MODES", "extend_strongest_pairs", "mmr", "STORAGE_TYPES", "LinearScorer", "Metric",
        "MetricSpec", "PairSummary",
        "QuantIndex", "Scorer", "get_metric", "metric_names", "register_metric", "row_blocks",
        "unregister_metric", "as_matrix",
        "build_index", "bytes_per_vector", "first_nonfinite_row", "matrix_nbytes",
        "memory_table", "merge_topk", "near_duplicates", "normalize", "recall_at_k",
        "row_cosines", "row_norms", "search", "similarity_matrix", "strongest_pairs",
    },
    "core.embedding": {
        "LONG_TEXT_POLICIES", "BatchEmbedder", "BatchLimits", "BatchOutput", "CostEstimate",
        "EmbedderSpec", "EmbeddingCache", "EmbeddingResult", "EngineEmbeddings", "Progress",
        "TokenCounter",
        "VectorByteStore", "chinese_fraction", "count_tokens", "default_cache", "embed_texts",
        "estimate_cost", "language_warning", "price_per_million", "text_key", "token_counter",
    },
    "core.data": {
        "FORMATS", "EXPORTS", "ExportFormat", "ID_COLUMN", "SearchResults", "parse_where",
        "projector_files", "to_projector_zip", "where_mask", "write_projector", "ShardedCollection",
        "is_sharded", "shard_collection", "SAMPLE_DOCUMENTS",
        "SAMPLE_EVAL_QUERIES", "SAMPLE_QUERIES", "SPLIT_MODES",
        "SUPPORTED_EXTENSIONS", "TEXT_COLUMN", "Collection", "CollectionError", "Manifest",
        "ParseError", "ParsedDocuments", "check_file_size", "check_save_target", "chunk_text",
        "columns_of", "content_hash", "document_index", "from_bytes", "parse_file", "parse_files",
        "sample_metadata", "sample_texts", "to_npz_bytes", "to_parquet_bytes",
    },
    "core.viz": {
        "Projection", "bar_figure", "fit_projection", "format_share", "hover_text",
        "line_figure", "metric_bars_figure", "points_to_draw", "projection_figure",
        "recall_memory_figure", "selected_document", "similarity_heatmap", "truncate_label",
        "seriation_order",
        "CLUSTER_METHODS", "ClusterParams", "ClusterSummary", "CorpusMap", "LAYOUT_METHODS",
        "Layout", "LayoutParams", "NOISE", "available_methods", "cluster_centres", "cluster_points",
        "compute_map", "default_neighbours", "distinctive_terms", "fit_layout",
        "load_or_compute_map", "map_cache_file", "map_figure", "place_by_neighbours",
        "points_in_selection", "summarise_clusters", "terms_of", "umap_available",
    },
    "core.services": {
        "EXACT", "LOW_COSINE", "MEMORY_MODES", "RECALL_K", "SCORE_DECIMALS", "EmbedOutcome",
        "EmbedPlan", "EmbedSummary", "SearchReport", "check_queries", "embed_collection",
        "embed_value", "format_bytes", "format_score", "memory_label", "memory_note",
        "mode_label", "neighbours", "no_match_note", "no_pairs_message", "pairs_heading",
        "parse_queries",
        "plan_embedding", "previous_note", "recall_note", "recall_value", "run_search",
        "summarise", "too_many_pairs_note", "top_cosines",
        "clamp_k", "collection_name", "csv_bytes", "download_name",
        "KeptCollections", "KeptInfo", "is_token", "new_token",
    },
    "core.eval": {
        "LABEL_EXTENSIONS", "MATRYOSHKA_MODELS", "METRICS", "METRIC_LABELS", "Comparison",
        "ConfigResult", "EvalConfig", "EvalCorpus", "LabelledQueries", "PairedTest",
        "bootstrap_ci", "compare", "disagreements", "estimate_costs", "group_table",
        "mean_metrics", "paired", "paired_test", "parse_config", "parse_labels",
        "per_query_metrics", "rank_scores", "read_labels", "sample_labels", "summary_table",
        "to_json", "to_records",
    },
    "core.server": {
        "MODEL_DIMENSIONS", "SERVER_MODES", "Fault", "OpenAICompatibleServer", "RequestRecord",
        "ServerMode", "main", "reference_embedding",
    },
    "core.cli": {"main"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_package_exports_exactly_its_table_of_contents(name):
    module = importlib.import_module(name)
    assert set(module.__all__) == PUBLIC[name]
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ names {public!r}, which is missing"


def test_core_search_is_the_package_and_the_function():
    import numpy as np

    corpus = np.eye(3, dtype=np.float32)
    ids, scores = core.search(corpus, corpus[1], 1)
    assert ids.tolist() == [[1]] and scores.tolist() == [[1.0]]
    assert core.search.search(corpus, corpus[2], 1)[0].tolist() == [[2]]
    from core.search import merge_topk

    assert callable(merge_topk)


def test_every_exception_derives_from_one_base():
    from core import errors

    raised = [getattr(errors, n) for n in dir(errors) if isinstance(getattr(errors, n), type)]
    exceptions = [e for e in raised if issubclass(e, BaseException)]
    assert len(exceptions) >= 10
    assert all(issubclass(e, errors.WorkbenchError) for e in exceptions)
    assert issubclass(errors.InvalidInputError, ValueError)
    assert issubclass(core.ParseError, errors.InvalidInputError)


def test_core_never_imports_streamlit():
    import subprocess
    import sys

    code = (
        "import sys, core, core.search, core.embedding, core.data, core.viz, core.services, "
        "core.eval, core.server, core.cli, core.bench; print('streamlit' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
