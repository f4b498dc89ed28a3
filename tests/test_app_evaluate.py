"""Evaluate page: one click compares the offline multilingual model and MiniLM on the sample
(float32, int8 and binary), with the table, the chart with error bars, downloads, the paired test
and the queries where the two disagree; label-file upload errors; MiniLM missing."""

from __future__ import annotations

import pytest

from core.eval import EvalCorpus, compare, sample_labels
from tests.app_support import assert_ok, charts, new_app, open_page, texts_on_page, trace_names
from ui import state

USE = "use-multilingual"
MINILM = "sentence-transformers:all-MiniLM-L6-v2"
EXPECTED = [
    USE,
    f"{USE},mode=int8",
    f"{USE},mode=binary",
    MINILM,
    f"{MINILM},mode=int8",
    f"{MINILM},mode=binary",
]


@pytest.fixture(autouse=True)
def no_openai_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="module")
def compared():
    at = open_page(new_app(), "evaluate")
    at.button(key="eval_run").click().run()
    assert_ok(at)
    return at


def test_one_click_compares_both_models_in_three_memory_modes(compared):
    result = compared.session_state[state.EVAL_RESULT]
    assert result.labels == EXPECTED
    table = compared.dataframe[0].value
    assert list(table["config"]) == EXPECTED
    # The numbers shown are the measured ones: recompute one configuration independently.
    again = compare(EvalCorpus.sample(), sample_labels(), [MINILM], k=10, cache=None)
    mean, low, high = again.results[0].means["ndcg@k"], *again.results[0].ci["ndcg@k"]
    assert table.loc[3, "nDCG@10"] == f"{mean:.3f} [{low:.3f}, {high:.3f}]"
    (figure,) = charts(compared)
    assert trace_names(figure) == EXPECTED
    assert all(t["error_y"]["type"] == "data" for t in figure["data"])
    assert "32 labelled queries on 72 documents" in texts_on_page(compared)
    groups = compared.dataframe[1].value.set_index("config")
    assert groups.loc[USE, "cross-lingual"] > groups.loc[MINILM, "cross-lingual"]


def test_paired_test_and_disagreements_are_shown_as_text(compared):
    assert compared.selectbox(key="eval_a").value == USE
    assert compared.selectbox(key="eval_b").value == MINILM
    verdict = compared.text[0].value
    assert verdict.startswith("nDCG@10: A ") and "significant at 0.05" in verdict
    table = compared.dataframe[2].value
    assert set(table["winner"]) <= {USE, MINILM} and len(table) > 0
    assert table.iloc[0][f"first by {USE}"].startswith(table.iloc[0]["relevant"])


def test_own_collection_waits_for_a_label_file():
    from tests.app_support import load_sample

    at = open_page(load_sample(new_app()), "evaluate")
    at.radio(key="eval_source").set_value(
        "This session's collection, with my labelled queries"
    ).run()
    assert_ok(at)
    assert at.button(key="eval_run").disabled
    assert at.selectbox(key="eval_id").options == ["(none)", "id", "lang", "topic"]


def test_without_sentence_transformers_the_page_says_so(monkeypatch):
    monkeypatch.setattr("ui.evaluate.sentence_transformers_installed", lambda: False)
    monkeypatch.setattr("core.embedding.providers.sentence_transformers_installed", lambda: False)
    at = open_page(new_app(), "evaluate")
    assert at.multiselect(key="eval_models").value == [USE]
    assert "MiniLM (sentence-transformers) is not installed" in texts_on_page(at)


def test_openai_cost_is_shown_before_anything_is_sent_and_paid_once(openai_server, monkeypatch):
    from tests.fixtures_openai import TEST_API_KEY

    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    at = open_page(new_app(), "evaluate")
    assert "openai:text-embedding-3-small" in at.multiselect(key="eval_models").options
    at.multiselect(key="eval_models").set_value([USE, "openai:text-embedding-3-small"]).run()
    at.multiselect(key="eval_modes").set_value(["float32"]).run()
    at.number_input(key="eval_dim").set_value(64).run()
    assert_ok(at)
    estimate = next(c.value for c in at.caption if c.value.startswith("text-embedding-3-small:"))
    assert estimate.startswith("text-embedding-3-small: 104 texts to send,")
    assert "tokens, about $" in estimate
    assert openai_server.embedding_requests == []  # nothing sent before the click

    at.button(key="eval_run").click().run()
    assert_ok(at)
    labels = at.session_state[state.EVAL_RESULT].labels
    assert labels == [USE, "openai:text-embedding-3-small", "openai:text-embedding-3-small,dim=64"]
    assert sum(r.n_inputs for r in openai_server.embedding_requests) == 104  # once for both dims
    table = at.dataframe[0].value
    assert list(table["dimension"]) == [512, 1536, 64]
    assert list(table["$ per 1M tokens"]) == [0.0, 0.02, 0.02]

    openai_server.reset_log()
    at.button(key="eval_run").click().run()
    assert_ok(at)
    assert openai_server.embedding_requests == []  # this session's store already holds them
