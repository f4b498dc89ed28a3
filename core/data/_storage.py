"""Can a directory take what is about to be written? Checked before a long job, not after it.

A job that embeds a million texts for an hour must not end on "No space left on device" or
"Read-only file system": :func:`check_writable` probes the nearest existing folder of a path
with a real file (``os.access`` is wrong for root and for read-only mounts) and compares the
free space with what will be written.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from core.errors import StorageError

# Room kept free beyond the estimate: Parquet pages, the manifest, filesystem blocks.
_MARGIN_BYTES = 1 << 20

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def reason(exc: OSError) -> str:
    """A short human reason for an ``OSError`` from a write ("the disk is full"...)."""
    return _REASONS.get(exc.errno, exc.strerror or type(exc).__name__)


def _existing_folder(path: Path) -> Path:
    folder = path
    while not folder.exists():
        if folder.parent == folder:
            break
        folder = folder.parent
    return folder if folder.is_dir() else folder.parent


def collection_bytes(texts: list[str], dimension: int) -> int:
    """About how many bytes a saved collection of ``texts`` with ``dimension``-d vectors takes."""
    return 4 * len(texts) * int(dimension) + sum(len(t.encode("utf-8")) for t in texts)


def check_writable(path: str | os.PathLike, needed_bytes: int = 0, *, what: str = "--out") -> Path:
    """Raise :class:`~core.errors.StorageError` unless ``path`` (a directory, existing or not)
    can be created and take ``needed_bytes`` more.

    Parameters
    ----------
    path : path-like
        The directory that will be written.
    needed_bytes : int
        What will be written there; compared with the free space (plus a 1 MiB margin).
    what : str
        How the caller names the path in the message (``--out``, ``--cache-dir``).

    Returns
    -------
    pathlib.Path
        The nearest existing folder, which was probed.
    """
    target = Path(path)
    folder = _existing_folder(target.resolve())
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".workbench-probe-"):
            pass
    except OSError as exc:
        raise StorageError(
            f"cannot write {what} {target}: {reason(exc)} ({folder}). Choose a writable "
            "directory; nothing was sent."
        ) from exc
    free = shutil.disk_usage(folder).free
    if needed_bytes and free < needed_bytes + _MARGIN_BYTES:
        raise StorageError(
            f"not enough space for {what} {target}: about {needed_bytes / 2**20:,.1f} MiB "
            f"needed, {free / 2**20:,.1f} MiB free on {folder}. Free some space or choose "
            "another directory; nothing was sent."
        )
    return folder


def save_failed(path, exc: OSError, cache, n_vectors: int) -> StorageError:
    """The error for a save that failed after the job: why, and where the vectors are."""
    if cache is None:
        kept = (
            "the vectors were not cached (--no-cache) and are lost; rerun with the cache on "
            "so that a failed save costs nothing"
        )
    else:
        kept = (
            f"all {n_vectors:,} vectors are safe in the embedding cache ({cache.path}): free "
            "some space or choose another --out, then rerun the same command — nothing is sent "
            "again"
        )
    return StorageError(f"could not save the collection to {path}: {reason(exc)} ({exc}); {kept}.")
