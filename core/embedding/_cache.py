"""Persistent embedding cache: every vector paid for is kept, so nothing is embedded twice.

Location
--------
One SQLite file, ``embeddings.sqlite3``, in the first of:

1. the ``directory`` argument of :class:`EmbeddingCache`;
2. the environment variable ``EMBEDDING_WORKBENCH_CACHE_DIR``;
3. ``~/.cache/embedding-workbench/``.

The batch engine (:func:`core.embedding.embed_texts`) uses it by default (``cache="default"``);
pass ``cache=None`` to turn it off. Delete the file (or call :meth:`EmbeddingCache.clear`) to
empty it.

Keys and values
---------------
A vector's key is ``"<EmbedderSpec.key>|<sha256 of the text>"``, e.g.
``"openai|text-embedding-3-small|native|9f86d0…"``: the same text under another model or dimension
is another entry. (A provider may extend the first part through a ``cache_key`` attribute: the
OpenAI provider adds the base URL when it talks to another endpoint than api.openai.com.)
The value is the vector's raw little-endian float32 bytes; a value whose length
does not match the expected dimension is treated as missing (and so re-embedded).

Why a LangChain ``ByteStore`` the engine talks to directly
----------------------------------------------------------
:class:`EmbeddingCache` implements langchain_core's ``ByteStore`` (``mget``/``mset``/``mdelete``/
``yield_keys``), so it can also back ``langchain.embeddings.CacheBackedEmbeddings`` in user code
(that wrapper writes JSON under its own keys; both can share one store). The engine does not go
through that wrapper because it needs what the wrapper cannot give: progress after each request,
several requests in flight, and writing each finished request at once, so a crash, Ctrl-C, cancel
or exhausted quota loses nothing and a rerun sends only what is missing. ``langchain`` itself is
therefore not a dependency.

Size cap
--------
The file is capped (``max_bytes``; default 4 GiB, or ``EMBEDDING_WORKBENCH_CACHE_MAX_MB``): when a
write takes it over the cap, the least recently written entries are evicted until it is 10 %
under. Keep the cap above your largest job, or a resumed job pays again for what was evicted.

A read-only, full or unwritable cache folder raises :class:`~core.errors.StorageError` (the
CLI checks it before a job starts: :meth:`EmbeddingCache.check_writable`).

SQLite runs in WAL mode with a 30 s busy timeout; one connection per cache object, shared by the
engine's worker threads under a lock, so threads and several processes (app, CLI) can read and
write the same file safely.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from langchain_core.stores import BaseStore

from core.errors import InvalidInputError, StorageError

CACHE_DIR_ENV = "EMBEDDING_WORKBENCH_CACHE_DIR"
CACHE_MAX_MB_ENV = "EMBEDDING_WORKBENCH_CACHE_MAX_MB"
DEFAULT_CACHE_MAX_BYTES = 4 * 2**30
_EVICT_TO = 0.9  # after an eviction the cache holds at most this share of the cap
_PROBE_KEY = "\x00workbench-write-probe"
CACHE_FILE_NAME = "embeddings.sqlite3"
_SQLITE_BATCH = 500  # keys per IN (...) query, well under SQLite's variable limit
_MAX_CHAR = "\U0010ffff"  # sorts after every other character: prefix range upper bound


def default_cache_dir() -> Path:
    """``$EMBEDDING_WORKBENCH_CACHE_DIR`` if set, else ``~/.cache/embedding-workbench``."""
    env = os.environ.get(CACHE_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "embedding-workbench"


def text_key(spec_key: str, text: str) -> str:
    """Cache key of ``text`` embedded by the embedder whose ``EmbedderSpec.key`` is ``spec_key``."""
    return f"{spec_key}|{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


class VectorByteStore(BaseStore[str, bytes]):
    """A LangChain ``ByteStore`` of float32 vectors keyed by :func:`text_key`.

    Subclasses provide the four ``ByteStore`` methods; this adds what the batch engine uses
    (``get_vectors``, ``put_vectors``) and generic ``count``/``clear`` that a subclass may do
    faster.
    """

    def get_vectors(self, spec_key: str, texts: Sequence[str], dim: int) -> list[np.ndarray | None]:
        """Stored vectors for ``texts``, ``None`` for a miss or a stored value of the wrong size.

        Returns
        -------
        list of (ndarray of shape (dim,), float32) or None
        """
        values = self.mget([text_key(spec_key, text) for text in texts])
        return [
            None if v is None or len(v) != 4 * dim else np.frombuffer(v, dtype="<f4").copy()
            for v in values
        ]

    def put_vectors(self, spec_key: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (shape ``(len(texts), dim)``) for ``texts`` in one ``mset``."""
        matrix = np.ascontiguousarray(vectors, dtype="<f4")
        if matrix.ndim != 2 or matrix.shape[0] != len(texts):
            raise InvalidInputError(
                f"put_vectors needs one row per text: got {len(texts)} texts and an array of "
                f"shape {matrix.shape}"
            )
        if not np.isfinite(matrix).all():
            raise InvalidInputError("put_vectors refuses NaN or infinite vectors")
        self.mset(
            [(text_key(spec_key, t), row.tobytes()) for t, row in zip(texts, matrix, strict=True)]
        )

    def count(self, spec_key: str | None = None) -> int:
        """Stored entries, or those of one ``EmbedderSpec.key``."""
        prefix = None if spec_key is None else spec_key + "|"
        return sum(1 for _ in self.yield_keys(prefix=prefix))

    def clear(self, spec_key: str | None = None) -> int:
        """Drop every entry (or one embedder's); returns how many were removed."""
        keys = list(self.yield_keys(prefix=None if spec_key is None else spec_key + "|"))
        self.mdelete(keys)
        return len(keys)


class EmbeddingCache(VectorByteStore):
    """A SQLite-backed LangChain ``ByteStore`` plus vector helpers for the batch engine.

    Parameters
    ----------
    directory : path, optional
        Folder holding ``embeddings.sqlite3``; created if missing. Default: see the module
        docstring.
    """

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, *, max_bytes: int | None = None
    ) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self.path = self.directory / CACHE_FILE_NAME
        self.max_bytes = _max_bytes(max_bytes)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._transaction() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
                )
                self._nbytes = conn.execute(
                    "SELECT COALESCE(SUM(LENGTH(value)), 0) FROM kv"
                ).fetchone()[0]
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise self._storage_error(exc) from exc

    def _storage_error(self, exc: Exception) -> StorageError:
        why = str(exc)
        if isinstance(exc, OSError):
            from core.data._storage import reason

            why = reason(exc)
        return StorageError(
            f"the embedding cache {self.path} cannot be written ({why}). Choose a writable "
            f"folder (--cache-dir, or {CACHE_DIR_ENV}), or turn the cache off (--no-cache)."
        )

    def check_writable(self) -> None:
        """Write and delete a probe entry; :class:`~core.errors.StorageError` if that fails."""
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (_PROBE_KEY, b"\0")
                )
                conn.execute("DELETE FROM kv WHERE key = ?", (_PROBE_KEY,))
        except sqlite3.Error as exc:
            raise self._storage_error(exc) from exc

    @property
    def nbytes(self) -> int:
        """Bytes of stored values (as this object counted them)."""
        return self._nbytes

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked for this thread, committing on success."""
        with self._lock:
            if self._conn is None:
                conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                self._conn = conn
            with self._conn:
                yield self._conn

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- ByteStore -----------------------------------------------------------------------------
    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values for ``keys`` in order, ``None`` where missing."""
        found: dict[str, bytes] = {}
        with self._transaction() as conn:
            for start in range(0, len(keys), _SQLITE_BATCH):
                chunk = list(keys[start : start + _SQLITE_BATCH])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, value FROM kv WHERE key IN ({marks})", chunk)
                found.update(rows)
        return [found.get(key) for key in keys]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Insert or replace ``(key, value)`` pairs in one transaction; evict past the cap."""
        pairs = list(key_value_pairs)
        try:
            with self._transaction() as conn:
                conn.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", pairs)
                self._nbytes += sum(len(v) for _, v in pairs)
                if self._nbytes > self.max_bytes:
                    self._evict(conn)
        except sqlite3.Error as exc:  # disk full, read-only, locked for 30 s
            raise self._storage_error(exc) from exc

    def _evict(self, conn: sqlite3.Connection) -> None:
        """Drop the least recently written entries until the cache is under 90 % of the cap."""
        # Another process may have written too: count for real before evicting.
        self._nbytes = conn.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM kv").fetchone()[0]
        target = int(self.max_bytes * _EVICT_TO)
        while self._nbytes > target:
            rows = conn.execute(
                "SELECT rowid, LENGTH(value) FROM kv ORDER BY rowid LIMIT ?", (_SQLITE_BATCH,)
            ).fetchall()
            if not rows:
                break
            drop, freed = [], 0
            for rowid, size in rows:
                if self._nbytes - freed <= target:
                    break
                drop.append((rowid,))
                freed += size
            conn.executemany("DELETE FROM kv WHERE rowid = ?", drop)
            self._nbytes -= freed

    def mdelete(self, keys: Sequence[str]) -> None:
        """Remove ``keys`` (missing ones are ignored)."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM kv WHERE key = ?", [(key,) for key in keys])

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """All keys, or those starting with ``prefix``, in sorted order."""
        with self._transaction() as conn:
            if prefix is None:
                rows = conn.execute("SELECT key FROM kv ORDER BY key").fetchall()
            else:
                # A range scan, not LIKE: prefixes may contain % or _.
                rows = conn.execute(
                    "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                    (prefix, prefix + _MAX_CHAR),
                ).fetchall()
        for (key,) in rows:
            yield key

    def count(self, spec_key: str | None = None) -> int:
        """Number of stored entries, or of those for one ``EmbedderSpec.key``."""
        with self._transaction() as conn:
            if spec_key is None:
                return conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0]
            prefix = spec_key + "|"
            return conn.execute(
                "SELECT COUNT(*) FROM kv WHERE key >= ? AND key < ?", (prefix, prefix + _MAX_CHAR)
            ).fetchone()[0]

    def clear(self, spec_key: str | None = None) -> int:
        """Delete every entry (or one embedder's); returns how many were removed."""
        prefix = None if spec_key is None else spec_key + "|"
        with self._transaction() as conn:
            if prefix is None:
                return conn.execute("DELETE FROM kv").rowcount
            return conn.execute(
                "DELETE FROM kv WHERE key >= ? AND key < ?", (prefix, prefix + _MAX_CHAR)
            ).rowcount


def _max_bytes(explicit: int | None) -> int:
    if explicit is None:
        env = os.environ.get(CACHE_MAX_MB_ENV, "").strip()
        if not env:
            return DEFAULT_CACHE_MAX_BYTES
        try:
            explicit = int(float(env) * 2**20)
        except ValueError:
            raise InvalidInputError(
                f"{CACHE_MAX_MB_ENV} must be a number of MB, got {env!r}"
            ) from None
    if explicit < 1:
        raise InvalidInputError(f"the cache size cap must be positive, got {explicit} bytes")
    return int(explicit)


_default_caches: dict[Path, EmbeddingCache] = {}
_default_lock = threading.Lock()


def default_cache() -> EmbeddingCache:
    """The shared cache at :func:`default_cache_dir` (one object per directory per process)."""
    directory = default_cache_dir()
    with _default_lock:
        cache = _default_caches.get(directory)
        if cache is None:
            cache = _default_caches[directory] = EmbeddingCache(directory)
        return cache
