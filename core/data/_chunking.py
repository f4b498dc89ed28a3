"""Cut long text into overlapping character chunks that end at word (or sentence) boundaries."""

from __future__ import annotations

from core.errors import InvalidInputError

# Characters after which a cut is natural in text without spaces (Chinese punctuation included).
_CUT_AFTER = frozenset("。！？；，、：.!?;,:)]}»”’")


def _is_break(text: str, i: int) -> bool:
    """True when cutting right before ``text[i]`` does not split a word."""
    return text[i].isspace() or text[i - 1].isspace() or text[i - 1] in _CUT_AFTER


def chunk_text(text: str, size: int, overlap: int = 0) -> list[str]:
    """Split ``text`` into chunks of at most ``size`` characters that overlap by ``overlap``.

    A chunk ends at the last word boundary (whitespace or punctuation, Chinese included) in the
    second half of its window; only a run with no boundary there (a long word, unpunctuated
    Chinese) is cut mid-run. Overlaps also start at a word boundary where one exists, so they
    can be a little shorter than ``overlap``. Chunks are stripped; empty ones are dropped.

    Parameters
    ----------
    text : str
        The text.
    size : int
        Most characters per chunk, at least 1.
    overlap : int
        Characters shared by consecutive chunks, ``0 <= overlap < size``.

    Returns
    -------
    list of str
        ``[]`` for blank text, ``[text.strip()]`` when it already fits.

    Raises
    ------
    ValueError
        If ``size < 1`` or ``overlap`` is negative or not smaller than ``size``.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInputError(
            f"chunk size must be a whole number of characters >= 1, got {size!r}"
        )
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < size:
        raise InvalidInputError(
            f"chunk overlap must be a whole number with 0 <= overlap < size ({size}), "
            f"got {overlap!r}"
        )
    text = text.strip()
    n = len(text)
    if n <= size:
        return [text] if text else []
    chunks: list[str] = []
    start = 0
    while start < n:
        end = min(start + size, n)
        if end < n:
            for cut in range(end, start + size // 2, -1):
                if _is_break(text, cut):
                    end = cut
                    break
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= n:
            break
        nxt = end - overlap
        if nxt <= start:  # the window was cut short at a boundary: no room left to overlap
            nxt = end
        for i in range(nxt, end):
            if _is_break(text, i):
                nxt = i
                break
        start = nxt
        while start < n and text[start].isspace():
            start += 1
    return chunks
