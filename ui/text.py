"""Untrusted text (documents, queries, file names, column names, model names from an uploaded
manifest) shown inside Markdown: every character Markdown, Streamlit's directives, LaTeX or
HTML could act on is escaped, so the page shows the text as text.

Use :func:`md` for text embedded in ``st.markdown``, ``st.caption``, ``st.info``/``st.error``
and the other elements that render Markdown; tables (``st.dataframe``) and ``st.text`` show
text as text already.
"""

from __future__ import annotations

import re

# What Markdown (CommonMark + GFM), Streamlit's ``:color[...]`` directives and ``$LaTeX$`` act on
# inside a line: emphasis, code, links and images, autolinks, entities, strikethrough, maths.
_INLINE = re.compile(r"([\\`*_\[\]<&~$])")
# What only acts at the start of a line (headings, lists, quotes, rules); the text is one line.
_LEADING = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
# Shortcodes (":smile:", ":material/home:") and GFM's autolinks ("www.", "http://", "a@b.co") are
# found in the text *after* escapes are resolved: an invisible word joiner (U+2060) after each
# colon or at-sign that a word follows, and inside "www", keeps them from ever forming.
_JOINER = "\u2060"
_BEFORE_WORD = re.compile(r"([:@])(?=[\w/+-])")
_WWW = re.compile(r"(w)(ww)", re.IGNORECASE)


def md(text: object) -> str:
    """``text`` escaped for Markdown: it renders as exactly these characters, nothing else.

    Parameters
    ----------
    text : object
        Any value; ``str(text)`` is escaped.

    Returns
    -------
    str
        Safe to put inside a Markdown string (line breaks become spaces; an invisible word
        joiner follows each ``:`` or ``@`` that a word follows).
    """
    flat = " ".join(str(text).split())  # one line: no blank lines, code blocks or tables
    flat = _WWW.sub(lambda m: m.group(1) + _JOINER + m.group(2), flat)
    escaped = _INLINE.sub(r"\\\1", flat)
    escaped = _LEADING.sub(lambda m: m.group(1) + _lead(m.group(2)), escaped)
    return _BEFORE_WORD.sub(lambda m: m.group(1) + _JOINER, escaped)


def _lead(token: str) -> str:
    # "1." / "1)" start a list: escape the punctuation after the digits; else the sign itself.
    return token[:-1] + "\\" + token[-1] if token[0].isdigit() else "\\" + token
