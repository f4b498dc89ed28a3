"""Real small and read-only file systems for the disk-fault tests (a tmpfs mounted as root).

Where the machine does not allow mounting (not root, no CAP_SYS_ADMIN), read-only falls back
to ``chmod 555`` (enforced for non-root users) and the tests that need a full disk are skipped,
saying why.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


def _mount(path: Path, options: str) -> str | None:
    """Mount a tmpfs at ``path``; None on success, else why not."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root; this test runs as an ordinary user"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else f"mount -t tmpfs failed: {done.stderr.strip()}"


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def small_disk(path: Path, size: str = "1m"):
    """A real tmpfs of ``size`` at ``path`` (created); skips the test where mounting fails."""
    path.mkdir(parents=True, exist_ok=True)
    why = _mount(path, f"size={size}")
    if why:
        pytest.skip(f"no small disk for this test: {why}")
    try:
        yield path
    finally:
        _umount(path)


def remount_read_only(path: Path) -> None:
    """Turn a mounted :func:`small_disk` read-only, as a failing disk does."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


@contextlib.contextmanager
def read_only_dir(path: Path):
    """A real read-only directory at ``path``: a read-only tmpfs as root, else ``chmod 555``
    (checked to refuse writes); skips the test where neither works."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = _mount(path, "ro,size=64k") is None
    if not mounted:
        path.chmod(0o555)
        probe = path / "probe"
        try:
            probe.write_bytes(b"x")
        except OSError:
            pass
        else:
            probe.unlink()
            path.chmod(0o755)
            pytest.skip("cannot make a read-only directory here (root without mount rights)")
    try:
        yield path
    finally:
        if mounted:
            _umount(path)
        else:
            path.chmod(0o755)
