"""Map: the corpus laid out with PCA, UMAP or t-SNE, clustered and labelled; colour, filter,
select with box or lasso, search inside the selection, save it as a collection."""

import streamlit as st

from core.errors import WorkbenchError
from core.services import neighbours, parse_queries
from core.viz._map_figure import WEBGL_MAX_POINTS, cluster_centres, map_figure
from ui import cache, state
from ui import map as ui_map
from ui.display import show_figure
from ui.frame import page_frame
from ui.jobs import embed_queries
from ui.tables import neighbours_table, score_config

page_frame()
st.title("Map")
state.show_flash()
collection = state.collection()
if collection is None:
    st.info("No collection yet. Load the sample corpus on **Home** or embed files first.")
    st.page_link("pages/home.py", label="Go to Home", icon=":material/home:")
    st.stop()

layout, clusters = ui_map.render_controls(len(collection))
result = ui_map.corpus_map(collection, layout, clusters)
lay = result.layout
if lay.note:
    st.info(lay.note, icon=":material/info:")
rows = ui_map.render_filters(collection)

search = state.get(ui_map.SEARCH)
colour_choices = [ui_map.CLUSTER, *ui_map.filter_columns(collection.metadata), ui_map.SCORE]
colour = st.selectbox("Colour by", colour_choices, key="map_colour")

with st.form("map_search_form"):
    cols = st.columns([5, 1, 2])
    query_text = cols[0].text_input("Search on the map (one query; several: one per line)")
    k = cols[1].number_input("k", 1, 100, 5, key="map_search_k")
    within = cols[2].checkbox("Search only within the selection", key="map_within")
    asked = st.form_submit_button("Search", type="primary")

selection_before = state.get(ui_map.SELECTION)
if asked:
    queries = parse_queries(query_text)
    scope = ui_map.scope_rows(rows, selection_before if within else None)
    if not queries:
        st.error("Type a query first.")
    elif within and not len(scope):
        st.error("Select documents on the map first (box or lasso), then search within them.")
    else:
        try:
            vectors = embed_queries(queries, cache.embedder_for(collection.spec)).vectors
        except (cache.MissingKeyError, WorkbenchError) as exc:
            st.error(f"Could not embed the query: {exc}")
        else:
            ids, scores = ui_map.search_rows(collection, vectors, int(k), scope)
            search = {"queries": queries, "vectors": vectors, "ids": ids, "scores": scores}
            search["n_scope"] = len(scope)
            state.put(ui_map.SEARCH, search)

categories = order = noise = values = None
if colour == ui_map.SCORE and search is None:
    st.info("Search on the map first to colour it by the score against the query.")
if colour == ui_map.SCORE and search is not None:
    values = ui_map.query_scores(collection, search["vectors"][0])
else:
    colour = ui_map.CLUSTER if colour == ui_map.SCORE else colour
    categories, order, noise = ui_map.colour_values(collection, result, colour)

event_before = st.session_state.get("map_chart")
selected, clicked = ui_map.update_selection(event_before, lay.xy, rows)
near_ids = []
if clicked is not None:
    near_ids, near_scores = neighbours(collection, clicked, 5, "cosine")
fig = map_figure(
    lay.xy,
    collection.texts,
    drawn=rows,
    categories=categories,
    category_order=order,
    noise_category=noise,
    values=values,
    value_name="cosine with Q1",
    cluster_labels=cluster_centres(lay.xy, result.clusters, result.labels(), rows=rows)
    if colour == ui_map.CLUSTER
    else (),
    query_xy=None if search is None else lay.transform(search["vectors"], collection.embeddings),
    query_texts=[] if search is None else search["queries"],
    hit_ids=[] if search is None else sorted({int(i) for i in search["ids"].ravel()}),
    selected=clicked,
    neighbour_ids=list(map(int, near_ids)),
    highlighted=selected,
    axis_titles=lay.axis_titles,
    title=f"{ui_map.METHOD_NAMES[lay.used_method]} map of {len(rows):,} documents",
)
show_figure(fig, key="map_chart", selectable=True, modes=("points", "box", "lasso"))
view = "density view + a sample of points" if len(rows) > WEBGL_MAX_POINTS else "every point"
st.caption(
    f"{len(rows):,} of {len(collection):,} documents ({view}); laid out in {lay.seconds:.1f} s. "
    "Drag to select a box (lasso in the toolbar); click a point for its neighbours."
)

if search is not None:
    st.subheader("Search results")
    for q, text in enumerate(search["queries"]):
        st.text(f"Q{q + 1}: {text}  (searched {search['n_scope']:,} documents)")
        st.dataframe(
            neighbours_table(collection, search["ids"][q], search["scores"][q], "cosine"),
            hide_index=True,
            width="stretch",
            column_config=score_config("cosine"),
            key=f"map_hits_{q}",
        )

if clicked is not None:
    st.subheader(f"Nearest neighbours of #{clicked}")
    st.text(collection.texts[clicked])
    st.dataframe(
        neighbours_table(collection, near_ids, near_scores, "cosine"),
        hide_index=True,
        width="stretch",
        column_config=score_config("cosine"),
        key="map_neighbours_table",
    )

ui_map.render_selection(collection, selected, result)
ui_map.render_clusters(collection, result)
