"""Encoding detection on short files: a few lines are valid in several encodings, and the one
most files are written in wins the tie (GBK over cp949, Western Latin over Central European)."""

from __future__ import annotations

import pytest

from core.data._readers import decode_any
from core.errors import ParseError


@pytest.mark.parametrize(
    ("text", "written_in", "read_as"),
    [
        ("熊猫主要吃竹子。\n长城很长。\n", "gbk", "gb18030"),
        ("Café crème brûlée.\nNaïve façade.\n", "latin-1", "cp1252"),
        ("繁體中文的句子。\n", "big5", "big5"),
        ("日本語の文章です。\n", "shift_jis", "cp932"),
        ("안녕하세요. 한국어 문장입니다.\n", "cp949", "cp949"),
    ],
)
def test_short_files_are_read_in_their_own_encoding(text, written_in, read_as):
    decoded, encoding = decode_any("short.txt", text.encode(written_in))
    assert decoded == text
    assert encoding == read_as


def test_binary_junk_is_still_refused():
    with pytest.raises(ParseError, match=r"junk\.bin.*binary file \(it contains NUL bytes\)"):
        decode_any("junk.bin", bytes(range(256)) * 4)
