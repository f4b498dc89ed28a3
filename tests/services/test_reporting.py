"""What the numbers mean, in words: k brought into range."""

from __future__ import annotations

import pytest

from core.services import clamp_k


@pytest.mark.parametrize(
    ("k", "n", "max_k", "used", "note"),
    [
        (5, 72, 100, 5, None),
        (72, 72, 100, 72, None),
        (100, 72, 100, 72, "more than the collection has 72 documents"),
        (150, 1_000, 100, 100, "more than a search shows at most 100"),
        (0, 72, 100, 1, "asks for no results"),
        (-1, 3, 100, 1, "k = -1 asks for no results"),
        (2, 1, 100, 1, "the collection has 1 document:"),
    ],
)
def test_clamp_k(k, n, max_k, used, note):
    got, said = clamp_k(k, n, max_k)
    assert got == used
    if note is None:
        assert said is None
    else:
        assert note in said and f"k = {used}" in said
