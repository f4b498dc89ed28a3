"""UMAP's compiled code: numba's disk cache turned on for umap-learn, and filled by a helper
process, so this process never pays for compiling it.

umap-learn and pynndescent are numba code. Compiling it takes 10-35 s, and the memory LLVM
takes for that stays with the process: measured here on the sample, importing umap-learn and
drawing a first UMAP map grew a process by 327 MiB when numba compiled everything, and by 133
MiB when it loaded the same code from numba's on-disk cache (:func:`enable_umap_disk_cache`
turns that cache on for umap-learn's own functions). A long-lived app server with many sessions
keeps whichever it paid, so the compiling is done once in a short-lived helper process
(``python -m core.viz._umap_warm``: a small UMAP of random vectors, the same code path as a real
map, and the binary search mode's popcount kernel) which writes the cache and exits; this process
then imports umap-learn from the cache.

:func:`prepare_umap` runs once per process (later calls return at once, concurrent ones wait
for the first). When the helper fails (no writable cache directory, a crash), the process
compiles for itself on its first UMAP, as without this module: slower and larger, never wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

# umap-learn's own numba functions (unlike pynndescent's) are not cached on disk, so every new
# process compiled them again before its first UMAP: 15-30 s on this machine. Turning numba's
# on-disk cache on for them (before their first compile) makes that a one-off per installation;
# numba keeps the cache beside the package when it can write there, else in the user's cache
# directory (or NUMBA_CACHE_DIR), and recompiles when the package's source changes.
_UMAP_NUMBA_MODULES = (
    "umap.umap_",
    "umap.layouts",
    "umap.utils",
    "umap.distances",
    "umap.spectral",
)
_numba_cache_lock = threading.Lock()
_numba_cache_on = False


def enable_umap_disk_cache() -> int:
    """Turn numba's on-disk cache on for umap-learn's compiled functions (once per process).

    Returns
    -------
    int
        How many functions it was turned on for (0 when already done).
    """
    global _numba_cache_on
    import importlib

    from numba.core.dispatcher import Dispatcher

    with _numba_cache_lock:
        if _numba_cache_on:
            return 0
        count = 0
        for name in _UMAP_NUMBA_MODULES:
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if (
                    isinstance(obj, Dispatcher)
                    and obj.__module__ == name
                    and not obj.signatures  # not compiled yet: the cache can still serve it
                    and type(obj._cache).__name__ == "NullCache"
                ):
                    obj.enable_caching()
                    count += 1
        _numba_cache_on = True
        return count


_lock = threading.Lock()
_outcome: str | None = None  # how UMAP was prepared, once it was
HELPER_TIMEOUT_S = 600
HELPER_ENV = "WORKBENCH_UMAP_HELPER"  # set in the helper process: it compiles for itself


def prepared() -> bool:
    """Whether :func:`prepare_umap` has run in this process (or this is the helper itself)."""
    return _outcome is not None or os.environ.get(HELPER_ENV) == "1"


# Index files numba writes for two functions every map compiles (named by the Python function):
# when both are there, the helper has nothing left to compile and its start-up (about 4 s of
# imports) is skipped.
_CACHE_MARKS = (
    "umap_.compute_membership_strengths-*.nbi",
    "layouts._optimize_layout_euclidean_single_epoch-*.nbi",
)


def cache_written() -> bool:
    """Whether numba's disk cache already holds UMAP's compiled layout code, found where numba
    keeps it: ``NUMBA_CACHE_DIR/umap_*/`` when that is set, else the package's ``__pycache__``
    (numba's user-wide fallback is not searched: the helper then runs, which is only slower)."""
    import importlib.util

    spec = importlib.util.find_spec("umap")
    if spec is None or spec.origin is None:
        return False
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    folders = (
        list(Path(chosen).glob("umap_*")) if chosen else [Path(spec.origin).parent / "__pycache__"]
    )
    return any(all(any(f.glob(mark)) for mark in _CACHE_MARKS) for f in folders)


def prepare_umap(*, force_helper: bool = False) -> str:
    """Compile UMAP in a helper process (once per process), then import it here from the cache.

    Parameters
    ----------
    force_helper : bool
        Run the helper even when :func:`cache_written` says there is nothing to compile.

    Returns
    -------
    str
        What happened, for logs and benchmarks: ``"not installed"``, ``"cache already
        written"``, ``"helper process: N s"`` or ``"helper process failed (...); compiling
        here"``.
    """
    global _outcome
    if _outcome is not None:
        return _outcome
    if os.environ.get(HELPER_ENV) == "1":
        return "this is the helper process"
    with _lock:
        if _outcome is not None:
            return _outcome
        from core.viz._layout import umap_available

        if not umap_available():
            _outcome = "not installed"
            return _outcome
        started = time.perf_counter()
        if not force_helper and cache_written():
            enable_umap_disk_cache()  # imports umap-learn here, from the cache
            _outcome = "cache already written"
            return _outcome
        package_root = Path(__file__).resolve().parents[2]  # the folder holding core/
        try:
            done = subprocess.run(
                [sys.executable, "-m", "core.viz._umap_warm"],
                cwd=package_root,
                env=os.environ.copy(),
                capture_output=True,
                text=True,
                timeout=HELPER_TIMEOUT_S,
            )
            failed = done.returncode != 0 and (done.stderr.strip().splitlines() or ["?"])[-1]
        except (OSError, subprocess.SubprocessError) as exc:
            failed = f"{type(exc).__name__}: {exc}"
        enable_umap_disk_cache()  # imports umap-learn here, from the cache the helper wrote
        seconds = time.perf_counter() - started
        _outcome = (
            f"helper process failed ({failed}); compiling here"
            if failed
            else f"helper process: {seconds:.1f} s"
        )
        return _outcome


def _warm_in_this_process() -> None:
    """A small map through the real code path: every function a map needs gets compiled."""
    import numpy as np

    from core.viz._layout import LayoutParams
    from core.viz._maps import compute_map

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((200, 64)).astype(np.float32)  # > 2 x neighbours: spectral
    compute_map(vectors, ["warm-up"] * len(vectors), LayoutParams("umap", n_neighbors=15))
    # The binary mode's popcount kernel is numba too (cache=True): compiled here as well.
    from core.search import _popcount

    codes = np.zeros((64, 8), dtype=np.uint64)
    _popcount.hamming_candidates(codes, codes[:1], 4, 1)


if __name__ == "__main__":
    os.environ[HELPER_ENV] = "1"  # this process compiles for itself: no helper of its own
    _warm_in_this_process()
