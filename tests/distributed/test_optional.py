"""Without the dask extra, core and the app still import and run; asking for a cluster says
which extra to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
sys.modules["dask"] = None  # as if not installed: importing them raises ImportError
sys.modules["distributed"] = None
import numpy as np
import core, core.search, core.data, core.distributed, core.cli
from core.cli import _main
from core.errors import MissingDependencyError
x = np.eye(4, dtype=np.float32)
print(core.search(x, x[:1], 2)[0].tolist())
try:
    core.search(x, x[:1], 2, backend="dask", client=object())
except MissingDependencyError as exc:
    print("refused:", exc)
try:
    core.distributed.connect("local")
except MissingDependencyError as exc:
    print("refused:", exc)
"""


def test_core_runs_without_dask_and_names_the_extra():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[[0, 1]]"
    assert len(lines) == 3
    for line in lines[1:]:
        assert line.startswith("refused: running on a cluster needs the optional Dask packages")
        assert 'pip install "embedding-workbench[dask]"' in line
