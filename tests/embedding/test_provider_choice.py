"""The provider choice is said once, with the reason: by the library through logging, by the
CLI on stderr."""

from __future__ import annotations

import logging

import pytest

from core import BatchEmbeddingProcessor, cli
from tests.fixtures_openai import TEST_API_KEY

LOGGER = "core.embedding.providers"


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file can be picked up


def choices(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_processor_without_a_key_says_offline_model_and_why_once(no_key, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    BatchEmbeddingProcessor()
    assert choices(caplog) == [
        "Embedding with use-multilingual, model universal-sentence-encoder-multilingual-3: "
        "no OpenAI API key was found (argument, OPENAI_API_KEY or .env), so the offline "
        "model; set a key to use OpenAI."
    ]


def test_processor_with_a_key_says_openai_and_why(no_key, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    caplog.set_level(logging.INFO, logger=LOGGER)
    BatchEmbeddingProcessor()
    assert choices(caplog) == [
        "Embedding with openai, model text-embedding-3-small: an OpenAI API key was found "
        "(argument, OPENAI_API_KEY or .env)."
    ]


def test_cli_says_the_choice_on_stderr_once(no_key, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("one line\nanother line\n", encoding="utf-8")
    assert cli.main(["embed", "notes.txt", "--out", "c", "--no-cache", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert err.count("Embedding with use-multilingual") == 1
    assert "no OpenAI API key was found" in err
