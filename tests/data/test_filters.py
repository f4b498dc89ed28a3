import numpy as np
import pandas as pd
import pytest

from core.data._filters import parse_where, where_mask

META = pd.DataFrame(
    {
        "source": ["faq.csv", "faq.csv", "guide.md", "notes.txt", None],
        "year": ["2019", "2021", "2024", "x", "2022"],  # CSV cells are text
        "chunk": [0, 1, 0, 2, 0],
        "page no": [1, 2, 3, 4, 5],
    }
)


def rows(where):
    return np.flatnonzero(where_mask(where, META)).tolist()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"source": "faq.csv"}, [0, 1]),
        ('source = "faq.csv"', [0, 1]),
        ("source == 'faq.csv' and chunk = 1", [1]),
        ({"source": {"$in": ["guide.md", "notes.txt"]}}, [2, 3]),
        ('source in ("guide.md", "notes.txt")', [2, 3]),
        ('source not in ("faq.csv")', [2, 3, 4]),
        ({"source": {"$ne": "faq.csv"}}, [2, 3, 4]),
        ({"year": {"$gte": 2021, "$lt": 2024}}, [1, 4]),
        ("year >= 2021 and year < 2024", [1, 4]),
        ("year > 2020 or chunk = 2", [1, 2, 3, 4]),
        ("not (chunk = 0)", [1, 3]),
        ("`page no` <= 2", [0, 1]),
        ('chunk = "0"', [0, 2, 4]),
        (lambda m: m.get("source") == "guide.md", [2]),
        ({"$or": [{"chunk": 2}, {"source": "guide.md"}]}, [2, 3]),
    ],
)
def test_every_spelling_selects_the_same_rows(where, expected):
    assert rows(where) == expected


def test_no_filter_is_none():
    assert where_mask(None, META) is None
    assert where_mask("", META) is None
    assert where_mask({}, META) is None


def test_string_form_parses_to_the_dict_form():
    assert parse_where('source = "a" and year >= 3') == {
        "$and": [{"source": {"$eq": "a"}}, {"year": {"$gte": 3}}]
    }


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("source = faq.csv", r"character 10: expected a value: a quoted text"),
        ('source ~ "a"', r"character 8: an operator after 'source'"),
        ('source "a"', r"an operator after 'source'"),
        ('source = "a" chunk = 1', r"join conditions with 'and' or 'or'"),
        ('source in "a"', r"expected a '\(' opening the list"),
        ('(source = "a"', r"expected a closing '\)'"),
        ('"a" = source', r"a column name here, not a quoted value"),
        ({"nope": 1}, r"unknown metadata column 'nope'; the columns are: 'source', 'year'"),
        ({"chunk": {"$like": 1}}, r"unknown filter operator '\$like' on 'chunk'"),
        ({"chunk": {"$in": 1}}, r"\$in on 'chunk' takes a list of values"),
        ({"chunk": {"$gt": None}}, r"\$gt on 'chunk' needs a number or a text"),
        (42, r"a filter is a dict, a string or a callable, got int"),
        (np.ones(2, dtype=bool), r"a filter array must be bool of shape \(5,\)"),
    ],
)
def test_bad_filters_name_the_bad_part(where, message):
    with pytest.raises(ValueError, match=message):
        where_mask(where, META)


def test_error_points_at_the_place():
    with pytest.raises(ValueError) as caught:
        where_mask("chunk = 1 and source = faq", META)
    lines = str(caught.value).splitlines()
    assert lines[1].strip() == "chunk = 1 and source = faq"
    assert lines[2].index("^") - lines[1].index("c") == len("chunk = 1 and source = ")
