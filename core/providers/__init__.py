"""Embedding providers: the registry (get_embedder, available_providers) and the providers."""
