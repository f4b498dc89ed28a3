"""Home: what the app does, what is active, and a one-click sample corpus."""

import streamlit as st

from core.data import SAMPLE_DOCUMENTS, SAMPLE_QUERIES
from core.embedding.providers import provider_info
from core.errors import BudgetExceededError, EmbeddingJobError
from ui import cache, state
from ui.frame import page_frame
from ui.sample import load_sample
from ui.text import md

page_frame()
st.title("Embedding Workbench")
st.write(
    "Turn documents into vectors in batches, then explore them with NumPy: exact cosine, "
    "euclidean and dot-product search, a 2-D map of the corpus, live benchmarks of the "
    "techniques that make search fast, and similarity heatmaps. It works offline with a "
    "multilingual model (中文 + English); add an OpenAI key in the sidebar to use OpenAI."
)

spec = cache.current_spec()
info = provider_info(spec.provider)
collection = state.collection()
cols = st.columns([3, 4, 2])
model = spec.model if spec.dimensions is None else f"{spec.model} ({spec.dimensions} dimensions)"
status = {
    "Provider": info.label,
    "Model": model,
    "Collection": "none yet" if collection is None else f"{len(collection):,} documents",
}
for column, (label, value) in zip(cols, status.items(), strict=True):
    column.container(border=True).markdown(f"**{label}**  \n{value}")

st.subheader("Try it in a minute")
st.write(
    f"The built-in sample has {len(SAMPLE_DOCUMENTS)} short documents in Chinese and English on "
    "eight topics, with questions whose best answer is known — many of them cross-lingual."
)
state.show_flash()
if st.button("Load the sample corpus", type="primary", key="load_sample", icon=":material/bolt:"):
    try:
        with st.spinner("Embedding the sample corpus…"):
            loaded = load_sample(spec)
    except cache.MissingKeyError as exc:
        st.error(md(exc))
    except (EmbeddingJobError, BudgetExceededError) as exc:
        st.error(f"Embedding the sample failed: {md(exc)}")
    else:
        m = loaded.manifest
        text = f"Loaded the sample: {m.count} documents × {m.dimension} dimensions ({md(m.model)})."
        state.flash("success", text)
        st.rerun()  # redraw the sidebar and the metrics above with the new collection

if collection is not None:
    st.page_link("pages/search.py", label="Search the collection", icon=":material/search:")
    with st.expander("Questions to try", expanded=False):
        for query in SAMPLE_QUERIES[:6]:
            st.markdown(f"- {md(query.text)}")
    with st.expander("Documents in the collection"):
        st.dataframe(collection.documents().head(200), hide_index=True, width="stretch")

st.subheader("Pages")
st.markdown(
    "- **Upload & embed** — .txt, .md, .csv, .jsonl, .json, .parquet and .pdf files (encodings "
    "detected); chunking; cost estimate; progress per batch with Stop; add to the collection; "
    "keep it on the server for a day or download it, and load it back.\n"
    "- **Search** — many queries at once; cosine / euclidean / dot; memory modes with measured "
    "recall; a clickable 2-D map of the corpus.\n"
    "- **Map** — the collection laid out with PCA, UMAP or t-SNE, clustered and labelled; select "
    "with box or lasso, search inside the selection, save it as a collection.\n"
    "- **Benchmark** — vectorised vs loops, float64 vs float32, argsort vs argpartition, "
    "scaling curves, memory modes.\n"
    "- **Similarity matrix** — heatmaps (queries × documents, documents × documents ordered by "
    "similarity), top-5 per query, near-duplicate pairs.\n"
    "- **Evaluate** — compare models, memory modes and metrics on labelled queries: recall, "
    "MRR, nDCG with confidence intervals."
)
