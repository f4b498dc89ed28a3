"""Evaluate: which model, memory mode and metric retrieve these documents best? Metrics with
bootstrap intervals, cost and speed, a paired test and the queries where two configurations
disagree; the sample corpus ships labelled queries, so one click compares the offline models."""

import streamlit as st

from core.embedding.providers import sentence_transformers_installed
from core.errors import EmbeddingJobError, InvalidInputError
from core.eval import EvalCorpus, compare, parse_labels, sample_labels
from core.search import MODES
from ui import cache, state
from ui.evaluate import build_configs, cost_lines, embedder_for, model_choices, show_results
from ui.frame import page_frame

SAMPLE = "The sample corpus (72 documents, 32 labelled queries)"
MINE = "This session's collection, with my labelled queries"

page_frame()
st.title("Evaluate")
st.write(
    "Compare embedding models, memory modes and similarity metrics on labelled queries — "
    "questions whose right documents you know — with recall, precision, hit rate, MRR, nDCG "
    "and MAP at k, confidence intervals, speed, memory and cost."
)
source = st.radio("Documents and labelled queries", [SAMPLE, MINE], key="eval_source")
corpus = labels = None
if source == SAMPLE:
    corpus, labels = EvalCorpus.sample(), sample_labels()
else:
    collection = state.collection()
    if collection is None:
        st.info("No collection yet: embed files on **Upload & embed**, or use the sample corpus.")
    else:
        meta = collection.metadata
        extra = [c for c in meta.columns if c not in ("source", "location", "chunk")]
        id_column = st.selectbox(
            "Document id column (for ids in the label file)", ["(none)", *extra], key="eval_id"
        )
        st.caption(
            "Label file: a CSV with columns **query** and **relevant** (document ids, or "
            "file#row, separated by ;) — or **relevant_text** with a document's exact text; "
            "optional **grade**. JSONL works too, one object per line."
        )
        upload = st.file_uploader("Labelled queries", type=["csv", "jsonl"], key="eval_labels")
        corpus = EvalCorpus.from_frame(
            list(collection.texts),
            meta,
            id_column=None if id_column == "(none)" else id_column,
            name="this session's collection",
        )
        if upload is not None:
            try:
                labels = parse_labels(upload.name, upload.getvalue(), corpus)
            except InvalidInputError as exc:
                st.error(f"The label file cannot be used: {exc}")
            else:
                st.success(f"{len(labels)} labelled queries read from {upload.name}.")

choices, default = model_choices()
models = st.multiselect("Models", choices, default=default, key="eval_models")
if not sentence_transformers_installed():
    st.info(
        "MiniLM (sentence-transformers) is not installed on this server, so it is not offered; "
        "the comparison uses the models that are available."
    )
left, middle, right = st.columns(3)
modes = left.multiselect(
    "Memory modes", MODES, default=["float32", "int8", "binary"], key="eval_modes"
)
metric = middle.radio("Similarity", ["cosine", "dot", "euclidean"], horizontal=True, key="eval_m")
k = right.slider("k (cut-off)", 1, 20, 10, key="eval_k")
dimensions = None
if any(m.startswith("openai:") for m in models):
    dimensions = st.number_input(
        "Also try a shorter dimension (text-embedding-3, Matryoshka)", 0, 3072, 256, 64,
        key="eval_dim",
    ) or None  # fmt: skip
configs = build_configs(models, modes, metric, dimensions)

ready = corpus is not None and labels is not None and bool(configs)
if ready:
    try:
        for line in cost_lines(corpus, labels, configs):
            st.caption(line)
    except InvalidInputError as exc:
        st.error(str(exc))
        ready = False
elif not configs:
    st.warning("Choose at least one model and one memory mode.")

if st.button("Compare", type="primary", disabled=not ready, key="eval_run"):
    try:
        with st.spinner(f"Embedding and searching with {len(configs)} configuration(s)…"):
            result = compare(
                corpus, labels, configs, k=int(k), cache=cache.session_store(),
                embedder_for=embedder_for,
            )  # fmt: skip
    except (InvalidInputError, EmbeddingJobError) as exc:
        st.error(f"The comparison stopped: {exc}")
    else:
        state.put(state.EVAL_RESULT, result)

result = state.get(state.EVAL_RESULT)
if result is not None:
    show_results(result)
