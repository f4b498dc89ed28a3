"""core.search._blas: BLAS held to one thread, including a BLAS loaded after the first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from core.search import _blas as blas

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from core.search import _blas as blas

def threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

with blas.single_threaded():  # the controller is built before FAISS is imported
    pass
import faiss  # brings its own OpenBLAS
with threadpool_limits(2, user_api="blas"):
    before = threads()
    with blas.single_threaded():
        inside = threads()
    after = threads()
print(len(before), inside == [1] * len(before), after == before)
"""


def test_single_threaded_covers_a_blas_loaded_after_first_use():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    n_blas, all_one_inside, restored = done.stdout.split()
    assert int(n_blas) >= 2  # NumPy's and FAISS's
    assert all_one_inside == "True" and restored == "True"


def numpy_blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.mark.skipif(not numpy_blas_threads(), reason="no BLAS visible to threadpoolctl")
def test_overlapping_callers_keep_the_limit_until_the_last_one_leaves():
    # Two sessions' searches overlap: A enters, B enters, A leaves first, then B.
    first, second = blas.single_threaded(), blas.single_threaded()
    with threadpool_limits(2, user_api="blas"):
        before = numpy_blas_threads()
        first.__enter__()
        second.__enter__()
        assert numpy_blas_threads() == [1] * len(before)
        first.__exit__(None, None, None)
        assert numpy_blas_threads() == [1] * len(before)  # B is still inside: still one thread
        second.__exit__(None, None, None)
        assert numpy_blas_threads() == before  # the setting from before, not B's "1"
