"""UMAP prepared in a helper process: a fresh process then loads every compiled function of its
first map from numba's disk cache (no compiling, so none of the compiler's memory), and a helper
that fails leaves a process that still draws its map."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("umap")

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import numpy as np
from core.viz import _umap_warm
from core.viz import LayoutParams, compute_map
if len(sys.argv) > 1:
    _umap_warm.HELPER_TIMEOUT_S = float(sys.argv[1])
how = _umap_warm.prepare_umap(force_helper=True)
rng = np.random.default_rng(1)
vectors = rng.standard_normal((90, 32)).astype(np.float32)
result = compute_map(vectors, ["doc"] * 90, LayoutParams("umap", n_neighbors=10))
import umap.layouts
stats = umap.layouts._nb_optimize_layout_euclidean_single_epoch.stats
print(json.dumps({
    "how": how,
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
    "points": int(result.xy.shape[0]),
    "method": result.layout.used_method,
    "written": _umap_warm.cache_written(),
}))
"""


def probe(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_fresh_process_loads_umap_from_the_cache_the_helper_wrote():
    found = probe()
    assert found["how"].startswith("helper process: "), found
    assert found["misses"] == 0 and found["hits"] >= 1, found  # loaded, not compiled here
    assert found["points"] == 90 and found["method"] == "umap"
    assert found["written"]  # the marks cache_written() looks for are what numba wrote


def test_a_written_cache_is_found_where_numba_keeps_it(tmp_path, monkeypatch):
    from core.viz import _umap_warm

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not _umap_warm.cache_written()  # an empty cache folder
    folder = tmp_path / "umap_0123abcd"
    folder.mkdir()
    (folder / "umap_.compute_membership_strengths-352.py311.nbi").write_bytes(b"")
    assert not _umap_warm.cache_written()  # one of the two marks only
    (folder / "layouts._optimize_layout_euclidean_single_epoch-63.py311.nbi").write_bytes(b"")
    assert _umap_warm.cache_written()


def test_a_helper_that_fails_still_leaves_a_working_map():
    found = probe("0.001")  # the helper is killed at once: this process compiles (or loads)
    assert found["how"].startswith("helper process failed (TimeoutExpired"), found
    assert "compiling here" in found["how"]
    assert found["points"] == 90 and found["method"] == "umap"
