"""The Map page: layouts, clusters, colour, filters, selection and search inside it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app_support import assert_ok, charts, load_sample, new_app, open_page, texts_on_page

LAYOUT_TIMEOUT_S = 300


def points_drawn(figure: dict) -> int:
    from tests.app_support import plotly_array

    return sum(
        len(plotly_array(t["x"]))
        for t in figure["data"]
        if t.get("name") not in ("selection", "top hits", "queries", "clicked + neighbours")
    )


@pytest.fixture(scope="module")
def sample_map():
    at = new_app()
    load_sample(at)
    return open_page(at, "map")


def test_the_map_opens_with_pca_clusters_in_the_legend_and_labels_on_the_map(sample_map):
    at = sample_map
    figure = charts(at)[0]
    names = [t["name"] for t in figure["data"]]
    assert any(name.startswith("noise") for name in names) or len(names) > 1
    assert points_drawn(figure) == 72
    assert figure["layout"]["annotations"], "cluster labels are drawn on the map"
    assert "PCA map of 72 documents" in figure["layout"]["title"]["text"]
    assert figure["layout"]["dragmode"] == "select"


def test_cluster_labels_are_ranked_by_the_collections_own_model(sample_map):
    at = sample_map
    page = texts_on_page(at)
    assert "ranked by the collection's model (use-multilingual/" in page
    cluster_lines = [t.value for t in at.text if " — " in t.value and "documents" in t.value]
    assert cluster_lines and not any(line.startswith("cluster ") for line in cluster_lines)
    # The labels drawn on the map are the table's labels.
    drawn = {a["text"] for a in charts(at)[0]["layout"]["annotations"]}
    assert drawn and all(any(line.startswith(d) for line in cluster_lines) for d in drawn)


def test_tsne_with_kmeans_makes_k_labelled_groups(sample_map):
    at = sample_map
    at.radio(key="map_method").set_value("tsne")
    at.radio(key="map_clusters").set_value("kmeans")
    at.number_input(key="map_k").set_value(8).run(timeout=LAYOUT_TIMEOUT_S)
    assert_ok(at)
    figure = charts(at)[0]
    assert "t-SNE map" in figure["layout"]["title"]["text"]
    assert len(figure["data"]) == 8 and len(figure["layout"]["annotations"]) == 8
    assert (
        sum(int(n.rsplit("(", 1)[1].rstrip(")")) for n in (t["name"] for t in figure["data"])) == 72
    )


def test_umap_lays_out_the_sample(sample_map):
    pytest.importorskip("umap")
    at = sample_map
    # The first UMAP in a process waits for numba to compile (slow on a busy machine).
    at.radio(key="map_method").set_value("umap").run(timeout=LAYOUT_TIMEOUT_S)
    assert_ok(at)
    figure = charts(at)[0]
    assert "UMAP map of 72 documents" in figure["layout"]["title"]["text"]


def test_colour_by_topic_and_filter_to_one_topic(sample_map):
    at = sample_map
    at.selectbox(key="map_colour").set_value("topic").run()
    assert_ok(at)
    figure = charts(at)[0]
    assert sorted(t["name"] for t in figure["data"]) == sorted(
        ["cooking", "astronomy", "finance", "sports", "health", "programming", "travel", "music"]
    )
    at.multiselect(key="map_filter_topic").set_value(["finance"]).run()
    assert_ok(at)
    figure = charts(at)[0]
    assert [t["name"] for t in figure["data"]] == ["finance"] and points_drawn(figure) == 9
    at.multiselect(key="map_filter_topic").set_value([]).run()


def test_search_within_a_selection_only_returns_selected_documents(sample_map):
    at = sample_map
    chosen = np.arange(18, 27)  # finance: rows 18..26 in the sample
    at.session_state["map_selection"] = chosen
    at.run()
    assert "Selection: 9 documents" in [s.value for s in at.subheader]
    table = at.dataframe[-1].value  # the selection table is the last table on the page
    assert list(table["row"]) == list(chosen) and set(table["topic"]) == {"finance"}
    at.text_input[0].set_value("how do I bake bread")
    at.checkbox(key="map_within").check()
    at.button[0].click().run()  # the form's Search button
    assert_ok(at)
    hits = at.dataframe[0].value  # the results come first
    assert len(hits) == 5
    texts = set(hits["text"])
    finance = {at.session_state["collection"].texts[i] for i in chosen}
    assert texts <= finance
    assert "searched 9 documents" in "\n".join(t.value for t in at.text)
    at.selectbox(key="map_colour").set_value("score against the query").run()
    assert_ok(at)
    assert "colorbar" in charts(at)[0]["data"][0]["marker"]


def test_a_metadata_filter_narrows_the_search_and_the_selection_downloads(sample_map):
    at = sample_map
    at.session_state["map_selection"] = None
    at.checkbox(key="map_within").uncheck()
    at.multiselect(key="map_filter_topic").set_value(["finance"]).run()
    at.text_input[0].set_value("how do I bake bread")
    at.button[0].click().run()
    assert_ok(at)
    assert "searched 9 documents" in "\n".join(t.value for t in at.text)
    finance = at.session_state["collection"].metadata["topic"] == "finance"
    finance_texts = set(np.asarray(at.session_state["collection"].texts)[finance.to_numpy()])
    assert set(at.dataframe[0].value["text"]) <= finance_texts
    at.session_state["map_selection"] = np.arange(18, 21)
    at.run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download the selection (CSV)", "Download as a collection (Parquet)"]
    at.multiselect(key="map_filter_topic").set_value([]).run()


def test_the_selection_becomes_the_collection(sample_map):
    at = sample_map
    at.session_state["map_selection"] = np.arange(18, 27)
    at.run()
    at.button(key="map_adopt").click().run()
    assert_ok(at)
    assert len(at.session_state["collection"]) == 9
    assert "The 9 selected documents are now the collection." in texts_on_page(at)


CSV = (
    "answer,team\n"
    + "".join(f"The striker scored a goal in match {i},sport\n" for i in range(6))
    + "".join(f"The band played a new song at concert {i},music\n" for i in range(6))
).encode("utf-8")


def test_an_uploaded_csv_is_coloured_by_its_own_column(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = open_page(new_app(), "upload")
    at.file_uploader(key="up_files").set_value([("teams.csv", CSV, "text/csv")])
    at.run()
    at.selectbox(key="up_column").set_value("answer").run()
    at.button(key="up_embed").click().run()
    assert_ok(at)
    open_page(at, "map")
    assert "team" in at.selectbox(key="map_colour").options
    at.selectbox(key="map_colour").set_value("team").run()
    assert_ok(at)
    figure = charts(at)[0]
    assert sorted(t["name"] for t in figure["data"]) == ["music", "sport"]
    assert points_drawn(figure) == 12
    at.multiselect(key="map_filter_team").set_value(["music"]).run()
    assert points_drawn(charts(at)[0]) == 6
    at.multiselect(key="map_filter_team").set_value([]).run()
    # Select the music rows (as a box would) and search inside them.
    collection = at.session_state["collection"]
    music = np.flatnonzero(collection.metadata["team"].to_numpy() == "music")
    at.session_state["map_selection"] = music
    at.run()
    assert "Selection: 6 documents" in [s.value for s in at.subheader]
    at.text_input[0].set_value("a football goal")
    at.checkbox(key="map_within").check()
    at.button[0].click().run()
    assert_ok(at)
    hits = at.dataframe[0].value
    assert set(hits["text"]) <= {collection.texts[i] for i in music} and len(hits) == 5
    assert "searched 6 documents" in "\n".join(t.value for t in at.text)
