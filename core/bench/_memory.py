"""Peak extra memory of a call, measured with tracemalloc (NumPy reports its buffers to it)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable


def peak_extra_bytes(fn: Callable[[], object]) -> int:
    """Highest traced allocation above the starting level while ``fn()`` runs (result included).

    BLAS's own work buffers (allocated by OpenBLAS outside Python's allocators) are not seen.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, peak - base)
