"""Upload page, reading files: encodings detected and said (GBK, Latin-1), overridable; Markdown
split by sections with the heading kept; a text column per CSV file; messages name the app's
own boxes, never command-line flags."""

from __future__ import annotations

from tests.app_support import assert_ok, new_app, open_page, texts_on_page


def upload(at, files):
    at.get("file_uploader")[0].set_value(files).run()  # the documents uploader comes first
    assert_ok(at)
    return at


def preview(at):
    return at.dataframe[0].value


def test_gbk_and_latin1_are_detected_said_and_can_be_overridden():
    at = open_page(new_app(), "upload")
    gbk = "熊猫主要吃竹子，每天要花十几个小时进食。\n北京是中国的首都，也是政治中心。\n".encode(
        "gbk"
    )
    latin = "Café crème brûlée, à la française.\nNaïve façade, déjà vu.\n".encode("latin-1")
    upload(at, [("gbk.txt", gbk, "text/plain"), ("latin.txt", latin, "text/plain")])
    notes = [w.value for w in at.warning]
    assert any(n.startswith("gbk.txt: not UTF-8; read as gb18030 (detected)") for n in notes)
    latin_note = "latin.txt: not UTF-8; read as cp1252 (detected)"
    assert any(n.startswith(latin_note) for n in notes), notes
    assert "the 'Text encoding' box under 'How to read the files'" in notes[0]
    assert "--encoding" not in texts_on_page(at)
    assert "熊猫主要吃竹子，每天要花十几个小时进食。" in preview(at)["text"].tolist()
    upload(at, [("latin.txt", latin, "text/plain")])
    at.selectbox(key="up_encoding").set_value("latin-1").run()  # the visitor's override
    assert_ok(at)
    assert preview(at)["text"].tolist()[0] == "Café crème brûlée, à la française."
    assert not [w.value for w in at.warning if "not UTF-8" in w.value]  # chosen, not detected
    upload(at, [("gbk.txt", gbk, "text/plain"), ("latin.txt", latin, "text/plain")])
    at.selectbox(key="up_encoding").set_value("utf-8").run()  # override: both now fail, said
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and "not valid UTF-8" in errors[0], errors


def test_markdown_sections_keep_the_heading_with_its_text():
    at = open_page(new_app(), "upload")
    md = b"# Pandas\n\nPandas eat bamboo.\nMost of the day.\n\n## Saturn\nRings of ice.\n"
    upload(at, [("notes.md", md, "text/markdown")])
    at.radio(key="up_split").set_value("section").run()
    assert_ok(at)
    table = preview(at)
    assert table["text"].tolist() == [
        "# Pandas\n\nPandas eat bamboo.\nMost of the day.",
        "## Saturn\nRings of ice.",
    ]
    assert table["location"].tolist() == ["lines 1-4", "lines 6-7"]


def test_a_text_column_for_each_csv_and_app_words_in_errors():
    at = open_page(new_app(), "upload")
    faq = b"question,answer\nHow?,Like this.\nWhy?,Because.\n"
    notes = b"id,note\n1,Buy milk.\n"
    upload(at, [("faq.csv", faq, "text/csv"), ("notes.csv", notes, "text/csv")])
    errors = [e.value for e in at.error]
    assert any(
        "cannot tell which column holds the text" in e
        and "(the 'CSV / JSONL text column' box under 'How to read the files')" in e
        for e in errors
    ), errors
    assert "--text-column" not in texts_on_page(at)
    at.selectbox(key="up_column_faq.csv").set_value("answer").run()
    at.selectbox(key="up_column_notes.csv").set_value("note").run()
    assert_ok(at)
    assert not at.error
    assert preview(at)["text"].tolist() == ["Like this.", "Because.", "Buy milk."]


def test_where_the_collection_lives_and_the_upload_limit_are_said():
    at = open_page(new_app(), "upload")
    captions = "\n".join(c.value for c in at.caption)
    assert "lives only in this browser tab's session" in captions
    assert "reloading the page or closing the tab drops it" in captions
    assert "Up to 50 MB per file: a larger file is refused by the uploader" in captions
