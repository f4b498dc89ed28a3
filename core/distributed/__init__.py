"""Past one machine on Dask: the same kernels on a cluster, chosen by one setting.

Needs the optional ``dask`` extra (``dask`` + ``distributed``); importing this package does not,
each function imports them when called and names the extra if they are missing.

- connecting: :func:`connect` (``"local"`` starts a ``LocalCluster``; or a scheduler address)
- exact search: :func:`search`, also reached as ``core.search.search(..., backend="dask",
  client=client)``, ``Collection.search(..., client=client)`` and
  ``ShardedCollection.search(..., client=client)``, with metadata filters and MMR
- embedding jobs: :func:`embed_to_shards` (one shard per partition, resumable) under one
  cluster-wide :class:`SharedRateLimit`
"""

from core.distributed._cluster import connect, require_distributed, worker_addresses
from core.distributed._embed import DistributedEmbeddingResult, JobProgress, embed_to_shards
from core.distributed._limits import LimitedEmbedder, SharedRateLimit
from core.distributed._search import search

__all__ = [
    "DistributedEmbeddingResult",
    "JobProgress",
    "LimitedEmbedder",
    "SharedRateLimit",
    "connect",
    "embed_to_shards",
    "require_distributed",
    "search",
    "worker_addresses",
]
