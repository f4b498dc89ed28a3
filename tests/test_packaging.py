"""`pip install .` gives the library and the `embedding-workbench` command, usable from any folder.

The wheel is built from a copy of the tracked files (so the checkout gets no build folders) with
this interpreter's setuptools (no download), then installed into a fresh virtualenv that sees
the already-installed dependencies.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("pkg")
    source = work / "src"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("embedding_workbench-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return {"wheel": wheel, "python": python, "bin": env_dir / "bin", "cwd": work}


def test_only_core_lands_in_site_packages(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"core"}
    assert "core/py.typed" in names
    assert "core/search/_kernels.py" in names and "core/server/__main__.py" in names
    assert not any(n.startswith(("ui/", "pages/", "tests/", "benchmarks/")) for n in names)


def test_command_and_library_work_outside_the_repository(installed):
    import core

    cwd = installed["cwd"]
    done = subprocess.run(
        [str(installed["bin"] / "embedding-workbench"), "--version"],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"embedding-workbench {core.__version__}"
    code = (
        "import core, numpy as np; print(core.__file__); "
        "print(core.search(np.eye(4, dtype='float32'), np.eye(4, dtype='float32')[2], 1)[0])"
    )
    done = subprocess.run(
        [str(installed["python"]), "-c", code], cwd=cwd, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    where, ids = done.stdout.splitlines()
    assert "site-packages" in where and str(ROOT) not in where
    assert ids == "[[2]]"


def test_installed_command_searches_a_collection(installed):
    import json

    import numpy as np

    from core.data import Collection
    from core.embedding.providers import get_embedder

    texts = ["a recipe for sourdough bread", "the planets of the solar system"]
    embedder = get_embedder("use-multilingual")
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    Collection.create(texts, vectors, embedder.spec).save(installed["cwd"] / "kb")
    done = subprocess.run(
        [str(installed["bin"] / "embedding-workbench"), "search", "kb", "面包", "-k", "1",
         "--json"],
        cwd=installed["cwd"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (query,) = json.loads(done.stdout)["queries"]
    assert query["results"][0]["text"] == "a recipe for sourdough bread"
