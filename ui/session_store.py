"""This session's embedding store: where the dashboard keeps vectors it has already computed.

Choice: a per-session, in-memory store — not the shared persistent cache
(``core.embedding.EmbeddingCache``, one SQLite file on the server) that the CLI and the library
use by default. Why:

* **Privacy.** The dashboard is meant to be deployed for many visitors. A shared disk cache
  would keep every visitor's uploaded texts, as hashes and vectors, on the server after they
  leave, and would let one visitor learn that another embedded a given text (its vectors come
  back "cached", faster and free). Embeddings can also be partly inverted back into text. Per
  session, nothing outlives the session and nothing crosses between sessions.
* **It still gives what the cache is for here.** Within a session: a stopped embedding job
  resumes where it stopped (finished batches are kept), a rerun never re-embeds, and queries
  typed twice are embedded once.
* **Cost.** The store is memory bounded (``max_bytes``, oldest entries dropped first), so a
  session that embeds a large corpus cannot grow without limit on a small cloud container.

The built-in sample corpus is public text, so its vectors are shared between sessions through
``st.cache_data`` instead (see ``ui.cache``).

The class is a ``core.embedding._cache.VectorByteStore`` (a LangChain ``ByteStore`` plus the vector
methods the batch engine uses), with the same keys and value format as the disk cache; it never
imports Streamlit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence

from core.embedding._cache import VectorByteStore

DEFAULT_MAX_BYTES = 256 * 2**20


class SessionVectorStore(VectorByteStore):
    """In-memory ``ByteStore`` of float32 vectors keyed by embedder and text hash.

    Parameters
    ----------
    max_bytes : int
        Upper bound for the stored values; the least recently stored entries go first.
    on_grow : callable, optional
        ``on_grow(store, extra_bytes)`` before the store grows; may raise to refuse (the
        process-wide budget of ``ui.budget`` does).
    """

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_grow: Callable[[SessionVectorStore, int], None] | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.on_grow = on_grow
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()  # the batch engine writes from worker threads

    def __repr__(self) -> str:
        return f"SessionVectorStore({len(self._data)} vectors, {self._nbytes / 2**20:.1f} MB)"

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._data)

    # --- ByteStore ---------------------------------------------------------------------------
    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        with self._lock:
            return [self._data.get(key) for key in keys]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        pairs = list(key_value_pairs)
        with self._lock:
            if self.on_grow is not None:
                incoming = sum(len(v) for _, v in pairs)
                grown = min(self._nbytes + incoming, self.max_bytes) - self._nbytes
                if grown > 0:
                    self.on_grow(self, grown)
            for key, value in pairs:
                old = self._data.pop(key, None)
                if old is not None:
                    self._nbytes -= len(old)
                self._data[key] = value
                self._nbytes += len(value)
            while self._nbytes > self.max_bytes and self._data:
                _, dropped = self._data.popitem(last=False)
                self._nbytes -= len(dropped)

    def mdelete(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                old = self._data.pop(key, None)
                if old is not None:
                    self._nbytes -= len(old)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        with self._lock:
            keys = list(self._data)
        yield from (k for k in keys if prefix is None or k.startswith(prefix))
