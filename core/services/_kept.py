"""Collections kept on the server for a while, under an unguessable key, so a visitor restores
theirs after a page reload in one click.

The dashboard serves strangers at once. A kept collection is therefore reachable only through
its key: a random ``secrets.token_urlsafe`` the dashboard puts in the visitor's page address.

* **Not listable.** Files are named after the SHA-256 of the key, never the key itself: reading
  the directory gives nothing to restore with, and no function lists kept collections.
* **Not guessable.** 32 random bytes; anything that is not of that form is refused before the
  disk is touched (no path is ever built from what a visitor typed).
* **Bounded.** Each kept collection expires after ``ttl_s`` and its file is then deleted; all
  of them together stay under ``max_total_bytes`` (a keep that does not fit is refused with the
  reason, it never evicts another visitor's collection before its time).
* **Precise when it fails.** An expired or removed key leaves a small marker until the key would
  have expired twice over, so the message says *expired at 14:05* or *removed at 13:40*, not
  just "not found".

Writes are atomic (a temporary file renamed into place), so a crash never leaves half a
collection behind; a damaged file is refused by :func:`core.data._formats.from_bytes`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from core.data._collection import Collection
from core.data._formats import from_bytes, to_parquet_bytes
from core.errors import BudgetExceededError, CollectionError, InvalidInputError, StorageError

TOKEN_BYTES = 32
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
DEFAULT_TTL_S = 24 * 3600
DEFAULT_MAX_TOTAL_BYTES = 1 * 2**30
_DATA = ".parquet"
_INFO = ".json"
_GONE = ".gone"


def new_token() -> str:
    """A fresh key: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_token(text: str) -> bool:
    """Whether ``text`` has the form of a key made by :func:`new_token` (not whether it exists)."""
    return isinstance(text, str) and _TOKEN_RE.fullmatch(text) is not None


@dataclass(frozen=True)
class KeptInfo:
    """What is known about a kept collection without loading it.

    Attributes
    ----------
    name : str
        A short name (``notes``, ``sample``; see :func:`core.services.collection_name`).
    count, dimension : int
        Documents and vector dimension.
    model : str
    n_bytes : int
        Size of the stored file.
    saved_at, expires_at : float
        Unix times.
    """

    name: str
    count: int
    dimension: int
    model: str
    n_bytes: int
    saved_at: float
    expires_at: float


class KeptCollections:
    """A directory of collections kept under keys, with a time to live and a disk quota.

    Parameters
    ----------
    root : path
        Directory of the files (created if missing). Only this class writes there.
    ttl_s : float
        How long a kept collection stays, from its last keep.
    max_total_bytes : int
        Disk quota of all kept collections together.
    clock : callable, optional
        Returns the current Unix time (``time.time``); tests pass a settable one.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        clock=time.time,
    ) -> None:
        if ttl_s <= 0:
            raise InvalidInputError(f"ttl_s must be positive, got {ttl_s}")
        if max_total_bytes < 1:
            raise InvalidInputError(f"max_total_bytes must be positive, got {max_total_bytes}")
        self.root = Path(root)
        self.ttl_s = float(ttl_s)
        self.max_total_bytes = int(max_total_bytes)
        self._clock = clock
        self._lock = threading.Lock()  # sessions run in threads of one process

    def __repr__(self) -> str:
        return f"KeptCollections({str(self.root)!r}, ttl_s={self.ttl_s:g})"

    # --- paths -------------------------------------------------------------------------------
    def _stem(self, token: str) -> Path:
        if not is_token(token):
            raise InvalidInputError(
                "This page address does not hold a valid key of a kept collection (it was "
                "changed or cut short). Open the address you had when you kept it, or upload "
                "the files or a downloaded collection again."
            )
        return self.root / hashlib.sha256(token.encode("ascii")).hexdigest()

    def _mkdir(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StorageError(f"Cannot create {self.root} for kept collections: {exc}") from exc

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- housekeeping ------------------------------------------------------------------------
    def _read_info(self, stem: Path) -> KeptInfo | None:
        try:
            raw = json.loads(stem.with_suffix(_INFO).read_text("utf-8"))
            return KeptInfo(**raw)
        except (OSError, ValueError, TypeError):
            return None

    def _drop(self, stem: Path, reason: str, when: float, until: float) -> None:
        """Delete a kept collection's files, leaving a marker that says why and when."""
        marker = json.dumps({"reason": reason, "at": when, "until": until}).encode("utf-8")
        self._write_atomic(stem.with_suffix(_GONE), marker)
        stem.with_suffix(_DATA).unlink(missing_ok=True)
        stem.with_suffix(_INFO).unlink(missing_ok=True)

    def purge(self) -> int:
        """Delete expired collections (and markers past their time); returns how many expired."""
        if not self.root.is_dir():
            return 0
        now = self._clock()
        expired = 0
        with self._lock:
            for path in self.root.glob(f"*{_INFO}"):
                stem = path.with_suffix("")
                info = self._read_info(stem)
                if info is None or info.expires_at <= now:
                    expires = info.expires_at if info else now
                    self._drop(stem, "expired", expires, expires + self.ttl_s)
                    expired += 1
            for path in self.root.glob(f"*{_GONE}"):
                try:
                    until = json.loads(path.read_text("utf-8"))["until"]
                except (OSError, ValueError, KeyError, TypeError):
                    until = 0
                if until <= now:
                    path.unlink(missing_ok=True)
            for path in self.root.glob(f"*{_DATA}"):  # data without info: a crashed keep
                if not path.with_suffix(_INFO).exists():
                    path.unlink(missing_ok=True)
        return expired

    def used_bytes(self) -> int:
        """Bytes taken by the kept collections now on disk."""
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.glob(f"*{_DATA}"))

    # --- the three operations ----------------------------------------------------------------
    def keep(
        self, collection: Collection, name: str, token: str | None = None
    ) -> tuple[str, KeptInfo]:
        """Store ``collection`` under ``token`` (a new key when None); returns the key and info.

        Keeping again under the same key replaces the earlier copy and restarts its time.

        Raises
        ------
        InvalidInputError
            ``token`` is not a key made by :func:`new_token`.
        BudgetExceededError
            The quota cannot hold it, even after expired collections were deleted.
        StorageError
            The directory cannot be written.
        """
        token = new_token() if token is None else token
        stem = self._stem(token)
        self._mkdir()
        self.purge()
        data = to_parquet_bytes(collection)
        now = self._clock()
        m = collection.manifest
        info = KeptInfo(name, int(m.count), int(m.dimension), str(m.model), len(data), now,
                        now + self.ttl_s)  # fmt: skip
        with self._lock:
            old = stem.with_suffix(_DATA)
            replacing = old.stat().st_size if old.exists() else 0
            free = self.max_total_bytes - (self.used_bytes() - replacing)
            if len(data) > free:
                raise BudgetExceededError(
                    f"The server cannot keep this collection: it takes {len(data) / 2**20:.1f} MB "
                    f"and the space for kept collections has {max(free, 0) / 2**20:.1f} MB "
                    f"free. Download it instead (Parquet or .npz) and load that file later."
                )
            try:
                self._write_atomic(stem.with_suffix(_DATA), data)
                self._write_atomic(stem.with_suffix(_INFO), json.dumps(asdict(info)).encode())
            except OSError as exc:
                stem.with_suffix(_DATA).unlink(missing_ok=True)
                raise StorageError(f"Cannot write the kept collection: {exc}") from exc
            stem.with_suffix(_GONE).unlink(missing_ok=True)
        return token, info

    def info(self, token: str) -> KeptInfo:
        """What is kept under ``token``, without loading it.

        Raises
        ------
        InvalidInputError
            ``token`` is not a key made by :func:`new_token` (forged, garbled, cut short).
        CollectionError
            Nothing is kept under it: it expired, was removed, or never existed (the message
            says which, with the time).
        """
        stem = self._stem(token)
        info = self._read_info(stem)
        now = self._clock()
        if info is not None and info.expires_at > now and stem.with_suffix(_DATA).exists():
            return info
        if info is not None:  # expired but not purged yet
            with self._lock:
                self._drop(stem, "expired", info.expires_at, info.expires_at + self.ttl_s)
        raise CollectionError(self._gone_message(stem))

    def _gone_message(self, stem: Path) -> str:
        try:
            gone = json.loads(stem.with_suffix(_GONE).read_text("utf-8"))
            reason, at = gone["reason"], float(gone["at"])
        except (OSError, ValueError, KeyError, TypeError):
            return (
                "No collection is kept under this page address: it never existed, or it "
                "expired long ago. Upload the files or a downloaded collection again."
            )
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))
        if reason == "removed":
            what = f"was removed from the server at {stamp} (Forget was pressed)"
        else:
            what = f"expired at {stamp} (collections are kept {self.ttl_s / 3600:g} h)"
        return (
            f"The collection kept under this page address {what}. Upload the files or a "
            "downloaded collection again."
        )

    def load(self, token: str, *, max_bytes: int) -> tuple[Collection, KeptInfo]:
        """The collection kept under ``token`` and its info.

        Parameters
        ----------
        max_bytes : int
            Most memory the loaded collection may take (checked before it is decoded).

        Raises
        ------
        InvalidInputError, CollectionError
            As :meth:`info`; also ``CollectionError`` if the file is damaged or too large.
        """
        info = self.info(token)
        stem = self._stem(token)
        try:
            data = stem.with_suffix(_DATA).read_bytes()
        except FileNotFoundError:  # expired and purged by another session in between
            raise CollectionError(self._gone_message(stem)) from None
        return from_bytes(f"kept collection {info.name}{_DATA}", data, max_bytes=max_bytes), info

    def forget(self, token: str) -> bool:
        """Delete what is kept under ``token``; False if nothing was."""
        stem = self._stem(token)
        with self._lock:
            if not stem.with_suffix(_DATA).exists():
                return False
            now = self._clock()
            self._drop(stem, "removed", now, now + self.ttl_s)
        return True
