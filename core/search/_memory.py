"""How much memory a matrix of embeddings takes, per storage type, for the UI and the CLI."""

from __future__ import annotations

import math

from core.errors import InvalidInputError

# Bytes one vector component takes; "binary" stores one bit per dimension, rounded up to bytes.
STORAGE_TYPES = ("float64", "float32", "float16", "int8", "binary")
_BYTES_PER_COMPONENT = {"float64": 8, "float32": 4, "float16": 2, "int8": 1}


def bytes_per_vector(d: int, dtype: str) -> int:
    """Bytes one ``d``-dimensional vector takes stored as ``dtype`` (one of STORAGE_TYPES)."""
    if d < 1:
        raise InvalidInputError(f"dimension must be at least 1, got {d}")
    if dtype == "binary":
        return math.ceil(d / 8)
    try:
        return d * _BYTES_PER_COMPONENT[str(dtype)]
    except KeyError:
        raise InvalidInputError(
            f"unknown storage type {dtype!r}; use one of {', '.join(STORAGE_TYPES)}"
        ) from None


def matrix_nbytes(n: int, d: int, dtype: str) -> int:
    """Bytes an ``(n, d)`` matrix takes stored as ``dtype``."""
    if n < 0:
        raise InvalidInputError(f"row count must be 0 or more, got {n}")
    return n * bytes_per_vector(d, dtype)


def memory_table(n: int, d: int) -> list[dict]:
    """One row per storage type: dtype, bytes_per_vector, total_bytes, total_mb, vs_float32.

    ``total_mb`` is in MiB (2**20 bytes); ``vs_float32`` is the size relative to float32.
    """
    f32_per_vector = bytes_per_vector(d, "float32")
    rows = []
    for dtype in STORAGE_TYPES:
        total = matrix_nbytes(n, d, dtype)
        rows.append(
            {
                "dtype": dtype,
                "bytes_per_vector": bytes_per_vector(d, dtype),
                "total_bytes": total,
                "total_mb": total / 2**20,
                "vs_float32": bytes_per_vector(d, dtype) / f32_per_vector,
            }
        )
    return rows
