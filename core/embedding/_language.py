"""How Chinese a corpus is, and a warning when the chosen model cannot read it.

English-only models (all-MiniLM-L6-v2 and most sentence-transformers checkpoints) split Chinese
into unknown or single-character pieces; their vectors for Chinese text are close to noise, so
search quietly fails. The UI and the CLI call :func:`language_warning` before embedding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from core.embedding._types import EmbedderSpec
from core.errors import InvalidTypeError

#: Share of Chinese characters among letters above which an English-only model gets a warning.
CHINESE_WARNING_THRESHOLD = 0.3

# Han ideographs: CJK Unified (+ Extension A), compatibility ideographs, and Extensions B-F.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
# A letter in any script (Han ideographs count as letters too): a word char that is not a digit
# and not an underscore.
_LETTER = re.compile(r"[^\W\d_]")


def chinese_fraction(texts: str | Iterable[str], *, max_chars: int = 200_000) -> float:
    """Share of Chinese (Han) characters among all letters of ``texts``.

    Parameters
    ----------
    texts : str or iterable of str
        One text or many.
    max_chars : int
        Stop reading after about this many characters (a large corpus is judged by its start,
        which keeps this instant for a million rows).

    Returns
    -------
    float
        In [0, 1]; 0.0 when there are no letters at all.
    """
    if isinstance(texts, str):
        texts = [texts]
    han = letters = seen = 0
    for text in texts:
        han += len(_HAN.findall(text))
        letters += len(_LETTER.findall(text))
        seen += len(text)
        if seen >= max_chars:
            break
    return 0.0 if letters == 0 else han / letters


def _describe(model_info: Any) -> tuple[str, bool]:
    """(display name, english_only) for a ProviderInfo, an EmbedderSpec or an embedder."""
    from core.embedding.providers import ProviderInfo, is_english_only

    if isinstance(model_info, ProviderInfo):
        return f"{model_info.label} ({model_info.default_model})", model_info.languages == "en"
    spec = getattr(model_info, "spec", model_info)
    if isinstance(spec, EmbedderSpec):
        return spec.model, is_english_only(spec)
    raise InvalidTypeError(
        "language_warning expects a ProviderInfo, an EmbedderSpec or an embedder with .spec, "
        f"got {type(model_info).__name__}"
    )


def language_warning(
    texts: Sequence[str] | Iterable[str],
    model_info: Any,
    *,
    threshold: float = CHINESE_WARNING_THRESHOLD,
) -> str | None:
    """A warning when the corpus is mostly Chinese and the model reads English only.

    Parameters
    ----------
    texts : iterable of str
        The documents (or queries) about to be embedded.
    model_info : ProviderInfo, EmbedderSpec or embedder
        What will embed them.
    threshold : float
        Chinese share of letters above which the warning fires.

    Returns
    -------
    str or None
        A message that says what is wrong and what to choose instead, or None when all is well.
    """
    name, english_only = _describe(model_info)
    if not english_only:
        return None
    share = chinese_fraction(texts)
    if share <= threshold:
        return None
    return (
        f"About {share:.0%} of the text is Chinese, but {name} was trained on English only: its "
        "vectors for Chinese text are close to noise and search results will be poor. Choose "
        "use-multilingual (offline, Chinese + English) or an OpenAI text-embedding-3 model."
    )
