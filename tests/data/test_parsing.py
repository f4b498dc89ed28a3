"""File parsing for the upload page and the CLI: every format, every error path, chunking."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from core.data._parsing import (
    SUPPORTED_EXTENSIONS,
    ParseError,
    chunk_text,
    columns_of,
    parse_file,
    parse_files,
)


def make_pdf(pages: list[str], password: str | None = None) -> bytes:
    """A real PDF with one Helvetica text line per page ("" makes a page without text)."""
    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(612, 792)
        if not text:
            continue
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"))
        page.replace_contents(stream)
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# ---- text and markdown ----------------------------------------------------------------------

TEXT = "First line.\n\n  Second line\nthird line\n\n\n中文第四行\n"


def test_txt_by_line_skips_blank_lines_and_records_line_numbers():
    parsed = parse_file("notes.txt", TEXT.encode())
    assert parsed.texts == ["First line.", "Second line", "third line", "中文第四行"]
    assert list(parsed.metadata["location"]) == ["line 1", "line 3", "line 4", "line 7"]
    assert set(parsed.metadata["source"]) == {"notes.txt"}
    assert list(parsed.metadata["chunk"]) == [0, 0, 0, 0]


def test_md_by_paragraph_and_whole_file():
    by_par = parse_file("notes.md", TEXT.encode(), split="paragraph")
    assert by_par.texts == ["First line.", "Second line\nthird line", "中文第四行"]
    assert list(by_par.metadata["location"]) == ["line 1", "lines 3-4", "line 7"]
    whole = parse_file("notes.md", TEXT.encode(), split="file")
    assert len(whole) == 1
    assert whole.texts[0].startswith("First line.") and whole.texts[0].endswith("中文第四行")


def test_utf8_bom_and_windows_newlines_are_accepted():
    parsed = parse_file("win.txt", "\ufeffalpha\r\nbeta\r\n".encode())
    assert parsed.texts == ["alpha", "beta"]


def test_chunking_applies_per_document_and_numbers_chunks():
    long_line = " ".join(f"word{i}" for i in range(60))
    parsed = parse_file("long.txt", f"short\n{long_line}\n".encode(), chunk_size=50)
    assert parsed.texts[0] == "short"
    assert all(len(t) <= 50 for t in parsed.texts)
    rows = parsed.metadata[parsed.metadata["location"] == "line 2"]
    assert list(rows["chunk"]) == list(range(len(rows)))
    assert len(rows) > 1


# ---- csv and jsonl ---------------------------------------------------------------------------


CSV = 'id,text,topic\n1,hello there,greeting\n2,,empty\n3,"with, a comma",punct\n'


def test_csv_text_column_others_become_metadata_blank_rows_reported():
    parsed = parse_file("data.csv", CSV.encode())
    assert parsed.texts == ["hello there", "with, a comma"]
    assert list(parsed.metadata["location"]) == ["row 1", "row 3"]
    assert list(parsed.metadata["topic"]) == ["greeting", "punct"]
    assert list(parsed.metadata["id"]) == ["1", "3"]
    assert parsed.warnings == ["data.csv: skipped 1 empty text(s) (row 2)."]


def test_csv_semicolon_delimiter_and_explicit_column():
    parsed = parse_file("eu.csv", b"titel;inhalt\nA;erster Text\n", text_column="inhalt")
    assert parsed.texts == ["erster Text"]
    assert list(parsed.metadata["titel"]) == ["A"]


def test_csv_column_named_like_a_base_column_is_kept_under_another_name():
    parsed = parse_file("s.csv", b"body,source,text\nhi,web,other\n", text_column="body")
    assert list(parsed.metadata["source"]) == ["s.csv"]
    assert list(parsed.metadata["source_"]) == ["web"]
    assert list(parsed.metadata["text_"]) == ["other"]
    assert "text" not in parsed.metadata.columns


def test_jsonl_key_extra_keys_and_nested_values():
    lines = [{"text": "alpha", "tags": ["a", "b"]}, {}, {"text": "beta", "n": 2}]
    data = "\n".join(json.dumps(o) if o else "" for o in lines).encode()
    parsed = parse_file("d.jsonl", data)
    assert parsed.texts == ["alpha", "beta"]
    assert list(parsed.metadata["location"]) == ["line 1", "line 3"]
    assert parsed.metadata["tags"][0] == '["a", "b"]'


def test_columns_of_offers_the_text_column_choices():
    assert columns_of("data.csv", CSV.encode()) == ["id", "text", "topic"]
    assert columns_of("d.jsonl", b'{"a": 1, "b": 2}\n{"c": "x"}\n') == ["a", "b", "c"]
    assert columns_of("notes.txt", b"anything") == []


# ---- pdf -------------------------------------------------------------------------------------


def test_pdf_one_document_per_page_and_textless_pages_reported():
    parsed = parse_file("paper.pdf", make_pdf(["Page one text", "", "Third page text"]))
    assert parsed.texts == ["Page one text", "Third page text"]
    assert list(parsed.metadata["location"]) == ["page 1", "page 3"]
    assert parsed.warnings and "page(s) 2" in parsed.warnings[0]
    whole = parse_file("paper.pdf", make_pdf(["One", "Two"]), split="file")
    assert whole.texts == ["One\n\nTwo"]
    assert list(whole.metadata["location"]) == ["pages 1-2"]


def test_pdf_with_empty_user_password_opens():
    assert parse_file("open.pdf", make_pdf(["Readable"], password="")).texts == ["Readable"]


# ---- errors ----------------------------------------------------------------------------------

ERROR_CASES = [
    ("empty.txt", b"", {}, r"empty\.txt: the file is empty"),
    ("blank.txt", b"  \n\n ", {}, r"blank\.txt: the file holds only blank space, no text"),
    ("bin.txt", b"abc\x00def", {}, r"bin\.txt, byte 3: .*binary file"),
    (
        "gbk.txt",
        "第一行\n第二行".encode("gbk"),
        {"encoding": "utf-8"},
        r"gbk\.txt, line 1, byte 0: not valid UTF-8",
    ),
    (
        "late.txt",
        b"ok\nfine\ncaf\xe9\n",
        {"encoding": "utf-8"},
        r"late\.txt, line 3, byte 11: not valid UTF-8",
    ),
    ("enc.txt", b"hi", {"encoding": "klingon"}, r"enc\.txt: unknown encoding 'klingon'"),
    (
        "c.csv",
        b"id,body2\n1,x\n",
        {"text_column": "text"},
        r"c\.csv: there is no column 'text'\. Available columns: 'id', 'body2'\. "
        r"Choose one of them as the text column \(the text_column argument\)\.$",
    ),
    (
        "c.csv",
        b"id,title\n1,x\n",
        {},
        r"cannot tell which column.*'id', 'title'\. Choose the text column "
        r"\(the text_column argument\)\.$",
    ),
    ("r.csv", b"a,b\n1,2\n1,2,3\n", {"text_column": "a"}, r"r\.csv, row 2 \(line 3\): .*3 fields"),
    ("blank.csv", b"text,id\n,1\n  ,2\n", {}, r"blank\.csv: no non-empty text"),
    ("j.jsonl", b'{"text": "a"}\n{bad\n', {}, r"j\.jsonl, line 2: broken JSON: .*property name"),
    ("j.jsonl", b'{"text": "a"}\n[1, 2]\n', {}, r"j\.jsonl, line 2: expected a JSON object"),
    (
        "j.jsonl",
        b'{"text": "a"}\n{"body": "b"}\n',
        {},
        r"line 2: this object has no 'text' key .* choose another text column "
        r"\(the text_column argument\)\.$",
    ),
    ("j.jsonl", b'{"text": {"x": 1}}\n', {}, r"line 1: 'text' holds a JSON dict"),
    ("bad.pdf", b"%PDF-1.4 not really a pdf", {}, r"bad\.pdf: cannot read this PDF"),
    ("big.txt", b"x" * 2000, {"max_bytes": 1000}, r"2,000 bytes; the limit is 1,000 bytes"),
    ("deck.pptx", b"PK\x03\x04", {}, r"unsupported file type '\.pptx'\. Supported: \.txt, \.md"),
    ("noext", b"text", {}, r"unsupported file type '\(no extension\)'"),
]


@pytest.mark.parametrize(("name", "data", "options", "message"), ERROR_CASES)
def test_bad_input_names_file_place_and_fix(name, data, options, message):
    with pytest.raises(ParseError, match=message):
        parse_file(name, data, **options)


def test_locked_and_textless_pdfs_are_refused():
    with pytest.raises(ParseError, match=r"locked\.pdf: the PDF is password-protected"):
        parse_file("locked.pdf", make_pdf(["secret"], password="pw"))
    with pytest.raises(ParseError, match=r"scan\.pdf: none of its 2 page\(s\).*OCR"):
        parse_file("scan.pdf", make_pdf(["", ""]))


def test_too_large_file_states_the_limit_in_mb():
    with pytest.raises(ParseError, match=r"the file is 2\.0 MB; the limit is 1\.0 MB"):
        parse_file("big.txt", b"x" * 2_000_000, max_bytes=1_000_000)


def test_parse_error_carries_file_and_location():
    with pytest.raises(ParseError) as info:
        parse_file("j.jsonl", b'{"text": "a"}\n\n{oops\n')
    assert info.value.file == "j.jsonl"
    assert info.value.location == "line 3"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split": "sentence"}, r"split must be one of line, paragraph, section, file"),
        ({"chunk_size": 0}, r"chunk size must be .* >= 1"),
        ({"chunk_size": 10, "chunk_overlap": 10}, r"0 <= overlap < size \(10\)"),
    ],
)
def test_bad_options_raise_value_error(options, message):
    with pytest.raises(ValueError, match=message):
        parse_file("a.txt", b"text", **options)


def test_parse_files_keeps_good_files_and_collects_errors():
    result = parse_files(
        [
            ("a.txt", b"one\ntwo\n"),
            ("broken.jsonl", b"{nope\n"),
            ("b.csv", b"text,lang\nhola,es\n"),
            ("empty.md", b""),
        ]
    )
    assert result.texts == ["one", "two", "hola"]
    assert list(result.metadata["source"]) == ["a.txt", "a.txt", "b.csv"]
    assert [e.file for e in result.errors] == ["broken.jsonl", "empty.md"]
    assert result.metadata["lang"].iloc[2] == "es"


def test_parse_files_with_only_bad_files_returns_empty_frame():
    result = parse_files([("x.doc", b"data")])
    assert result.texts == []
    assert list(result.metadata.columns) == ["source", "location", "chunk"]
    assert len(result.errors) == 1


def test_supported_extensions_are_listed():
    assert SUPPORTED_EXTENSIONS == (".txt", ".md", ".csv", ".jsonl", ".json", ".parquet", ".pdf")


# ---- chunk_text ------------------------------------------------------------------------------


def test_chunk_text_breaks_at_word_boundaries_with_overlap():
    text = "The quick brown fox jumps over the lazy dog and runs away fast"
    chunks = chunk_text(text, 20, 5)
    assert all(len(c) <= 20 for c in chunks)
    words = set(text.split())
    for c in chunks:
        assert set(c.split()) <= words  # no word cut in half
    assert chunks[0] == "The quick brown fox"
    assert chunks[1].startswith("fox")  # the overlap repeats the last word


def test_chunk_text_chinese_breaks_after_punctuation():
    chunks = chunk_text("今天天气很好，我们去公园散步吧。明天可能会下雨，记得带伞。", 12)
    assert chunks[0] == "今天天气很好，"
    assert "".join(chunks) == "今天天气很好，我们去公园散步吧。明天可能会下雨，记得带伞。"


def test_chunk_text_short_and_blank():
    assert chunk_text("  short  ", 100) == ["short"]
    assert chunk_text("   ", 5) == []


@given(
    text=st.text(alphabet=st.sampled_from("ab c。，\n中文"), max_size=300),
    size=st.integers(1, 40),
    data=st.data(),
)
def test_chunk_text_properties(text, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    chunks = chunk_text(text, size, overlap)
    assert all(0 < len(c) <= size for c in chunks)
    # Every non-space character is covered, in order (chunks may repeat the overlap).
    joined = "".join(chunks)
    squeezed = "".join(text.split())
    it = iter("".join(joined.split()))
    assert all(ch in it for ch in squeezed)
    if overlap == 0:
        assert "".join("".join(chunks).split()) == squeezed


def test_a_broken_pdf_reports_our_message_and_nothing_from_pypdf(caplog):
    with caplog.at_level("DEBUG"):
        parsed = parse_files([("fake.pdf", b"this is not a pdf at all")])
    assert len(parsed.errors) == 1
    assert str(parsed.errors[0]).startswith("fake.pdf: cannot read this PDF")
    assert [r for r in caplog.records if r.name.startswith("pypdf")] == []
