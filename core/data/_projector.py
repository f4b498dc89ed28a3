"""Export to the TensorFlow Embedding Projector (projector.tensorflow.org): two TSV files.

``vectors.tsv``
    One row per document, the vector's values separated by tabs, no header.
``metadata.tsv``
    A header row (``id``, ``text``, then the metadata columns) and one row per document, in
    the same order. Tabs and line breaks inside a cell become spaces (the format has no
    quoting), and long texts are cut to ``max_text_chars``.

Load both with "Load" in the Projector. :func:`to_projector_zip` packs them for a browser
download; :func:`write_projector` writes them into a folder.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from core.data._collection import Collection

VECTORS_TSV, METADATA_TSV = "vectors.tsv", "metadata.tsv"
_BREAKS = re.compile(r"[\t\r\n]+")


def projector_files(collection: Collection, *, max_text_chars: int = 500) -> dict[str, bytes]:
    """``{"vectors.tsv": ..., "metadata.tsv": ...}`` for ``collection`` (UTF-8 bytes)."""
    vectors = io.StringIO()
    np.savetxt(vectors, np.asarray(collection.embeddings, dtype=np.float32), "%.7g", "\t")
    table = collection.to_frame()
    table["text"] = [t[:max_text_chars] for t in collection.texts]
    lines = ["\t".join(_cell(c) for c in table.columns)]
    for row in table.itertuples(index=False):
        lines.append("\t".join(_cell(v) for v in row))
    return {
        VECTORS_TSV: vectors.getvalue().encode("utf-8"),
        METADATA_TSV: ("\n".join(lines) + "\n").encode("utf-8"),
    }


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return _BREAKS.sub(" ", str(value)).strip()


def to_projector_zip(collection: Collection) -> bytes:
    """``vectors.tsv`` and ``metadata.tsv`` in one zip archive."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in projector_files(collection).items():
            archive.writestr(name, data)
    return sink.getvalue()


def write_projector(collection: Collection, directory: str | os.PathLike) -> list[Path]:
    """Write ``vectors.tsv`` and ``metadata.tsv`` into ``directory`` (created if needed);
    returns their paths."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in projector_files(collection).items():
        path = root / name
        path.write_bytes(data)
        paths.append(path)
    return paths
