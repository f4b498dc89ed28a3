"""Provider registry: what is listed, which provider is the default, and the factory's errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import core.embedding.providers as providers
from core.embedding._types import BatchEmbedder, EmbedderSpec
from core.embedding.providers import (
    ProviderInfo,
    available_providers,
    default_provider,
    get_embedder,
    is_english_only,
    provider_info,
)
from core.embedding.providers._local import SentenceTransformerEmbedder, UseMultilingualEmbedder
from core.embedding.providers._openai import OpenAIEmbedder


@pytest.fixture
def no_key(tmp_path, monkeypatch):
    """No OpenAI key anywhere: not in the environment, and no .env above the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return tmp_path


@pytest.fixture
def without_sentence_transformers(monkeypatch):
    """Make sentence_transformers unimportable, as on a machine without requirements-st.txt."""
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)


def test_available_providers_lists_all_three_with_their_facts():
    infos = {p.name: p for p in available_providers()}
    assert list(infos) == ["openai", "use-multilingual", "sentence-transformers"]
    assert infos["openai"].needs_key and infos["openai"].remote
    assert infos["openai"].default_model == "text-embedding-3-small"
    assert "text-embedding-3-large" in infos["openai"].models
    use = infos["use-multilingual"]
    assert (use.remote, use.needs_key, use.languages) == (False, False, "multilingual")
    assert use.native_dimensions == {"universal-sentence-encoder-multilingual-3": 512}
    assert infos["sentence-transformers"].languages == "en"


def test_sentence_transformers_is_hidden_when_not_importable(without_sentence_transformers):
    assert [p.name for p in available_providers()] == ["openai", "use-multilingual"]
    with pytest.raises(ValueError, match=r"pip install -r requirements-st\.txt"):
        get_embedder("sentence-transformers")


def test_listing_providers_imports_no_torch():
    code = (
        "import sys, core.embedding.providers as p; p.available_providers(); p.get_embedder("
        "'use-multilingual'); print('torch' in sys.modules)"
    )
    root = Path(providers.__file__).parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_default_provider_without_key_is_use_multilingual(no_key):
    assert default_provider() == "use-multilingual"
    assert isinstance(get_embedder(), UseMultilingualEmbedder)


def test_default_provider_with_key_in_env_or_argument_or_dotenv(no_key, monkeypatch):
    assert default_provider(api_key="sk-explicit") == "openai"
    (no_key / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\n", encoding="utf-8")
    assert default_provider() == "openai"
    (no_key / ".env").unlink()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert default_provider() == "openai"
    embedder = get_embedder()
    assert isinstance(embedder, OpenAIEmbedder)
    assert isinstance(embedder, BatchEmbedder)
    assert embedder.spec == EmbedderSpec("openai", "text-embedding-3-small", None)


def test_naming_an_openai_model_without_key_says_how_to_set_one(no_key):
    with pytest.raises(
        ValueError, match=r"'text-embedding-3-small' needs an API key.*OPENAI_API_KEY"
    ):
        get_embedder(model="text-embedding-3-small")


def test_model_name_picks_its_provider(no_key):
    assert isinstance(get_embedder(model="text-embedding-3-large", api_key="sk-x"), OpenAIEmbedder)
    use = get_embedder(model="universal-sentence-encoder-multilingual-3")
    assert isinstance(use, UseMultilingualEmbedder)
    st = get_embedder(model="all-MiniLM-L6-v2")  # resolved offline, not loaded yet
    assert isinstance(st, SentenceTransformerEmbedder)
    assert st.spec == EmbedderSpec("sentence-transformers", "all-MiniLM-L6-v2", None)


def test_openai_dimensions_reach_the_spec(no_key):
    embedder = get_embedder("openai", "text-embedding-3-small", 256, api_key="sk-x")
    assert embedder.spec.dimensions == 256
    assert embedder.dimension == 256


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"provider": "cohere"}, r"unknown provider 'cohere'; choose one of: openai, use-multi"),
        ({"model": "gpt-4o"}, r"unknown model 'gpt-4o'; choose one of: text-embedding-3-small"),
        ({"provider": "use-multilingual", "model": "x"}, r"choose: universal-sentence-encoder"),
        ({"provider": "use-multilingual", "dimensions": 128}, r"fixed dimension.*unset"),
        ({"provider": "use-multilingual", "timeout": 3}, r"timeout do not apply.*accepted: none"),
        ({"provider": "sentence-transformers", "model": "no-such-st"}, r"not available offline"),
        ({"provider": "openai", "model": "text-embedding-4", "api_key": "k"}, r"choose one of"),
        (
            {"provider": "openai", "model": "text-embedding-ada-002", "dimensions": 8},
            r"only supported by the text-embedding-3 models",
        ),
    ],
)
def test_bad_choices_list_the_valid_values(no_key, kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_embedder(**kwargs)


def test_local_providers_accept_their_native_dimension(no_key):
    assert isinstance(get_embedder("use-multilingual", dimensions=512), UseMultilingualEmbedder)


def test_provider_info_and_is_english_only():
    assert isinstance(provider_info("openai"), ProviderInfo)
    with pytest.raises(ValueError, match=r"unknown provider 'x'"):
        provider_info("x")
    assert is_english_only(EmbedderSpec("sentence-transformers", "all-MiniLM-L6-v2"))
    multi = EmbedderSpec("sentence-transformers", "paraphrase-multilingual-MiniLM-L12-v2")
    assert not is_english_only(multi)
    assert not is_english_only(EmbedderSpec("use-multilingual", "x"))
    assert not is_english_only(EmbedderSpec("openai", "text-embedding-3-small"))
