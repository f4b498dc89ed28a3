"""Self-hosted OpenAI-compatible servers through the Python API, against the project's server in
each mode (Ollama, vLLM, TEI, Infinity, LM Studio shapes) over real HTTP on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.data._collection import Collection
from core.embedding._batching import EmbeddingJobError, embed_texts
from core.embedding._pricing import PRICING_LOCAL, PRICING_PAID, PRICING_UNKNOWN, estimate_cost
from core.embedding.providers import (
    default_prefixes,
    embedder_for_collection,
    get_embedder,
    resolve_prefixes,
)
from core.embedding.providers._openai import COMPATIBLE_LIMITS, parse_reset
from core.errors import MissingAPIKeyError
from core.server import SERVER_MODES, Fault, OpenAICompatibleServer, reference_embedding
from core.tutorial import BatchEmbeddingProcessor

NOMIC = "nomic-embed-text"
EXACT = 1e-6
COMPATIBLE_MODES = [m for m in SERVER_MODES if m != "openai"]
DOCS = [
    "The cat sleeps in the warm sun.",
    "我明天要坐火车去上海。",
    "",
    "Stock markets fell sharply today.",
    "The cat sleeps in the warm sun.",
    *[f"document number {i} about topic {i % 3}" for i in range(15)],
]


@pytest.fixture(autouse=True)
def no_openai_env(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)


def expected(texts, model=NOMIC, prefix="search_document: ", dims=None):
    rows = []
    for t in texts:
        if t.strip():
            rows.append(reference_embedding(prefix + t, model, dims))
        else:
            rows.append(np.zeros_like(reference_embedding("x", model, dims)))
    return np.stack(rows)


@pytest.fixture(params=COMPATIBLE_MODES)
def server(request):
    with OpenAICompatibleServer(api_key="sk-local", mode=request.param) as srv:
        yield srv


def test_every_mode_embeds_saves_reloads_and_searches_with_only_url_and_model(server, tmp_path):
    # No key, no dimension, no limits: the base URL and the model name are all there is.
    embedder = get_embedder(model=NOMIC, base_url=server.base_url, api_key="sk-local")
    assert embedder.spec.provider == "openai" and not embedder.dimension_known
    result = embed_texts(DOCS, embedder, cache=None)
    assert embedder.dimension == 768 and embedder.dimension_source == "server"
    assert_allclose(result.vectors, expected(DOCS), atol=EXACT)
    if not SERVER_MODES[server.mode].usage:
        assert result.tokens_used > 0  # counted here when the server reports no usage

    collection = Collection.create(DOCS, result.vectors, embedder.spec)
    collection.save(tmp_path / "coll")
    loaded = Collection.load(tmp_path / "coll")
    m = loaded.manifest
    assert (m.dimension, m.model, m.query_prefix, m.document_prefix) == (
        768, NOMIC, "search_query: ", "search_document: ",
    )  # fmt: skip

    requests_before = len(server.embedding_requests)
    queries = embedder_for_collection(m, base_url=server.base_url, api_key="sk-local")
    assert queries.dimension_known  # stated from the manifest: no probe request
    vec = embed_texts(["warm cat"], queries, role="query", cache=None).vectors
    assert_allclose(vec, expected(["warm cat"], prefix="search_query: "), atol=EXACT)
    assert len(server.embedding_requests) == requests_before + 1
    ids, _ = loaded.search(vec, 3)
    assert ids.shape == (1, 3)


def test_vllm_refuses_base64_so_float_is_used_and_remembered():
    with OpenAICompatibleServer(mode="vllm") as server:
        embedder = get_embedder(model=NOMIC, base_url=server.base_url, dimension=768)
        embed_texts(DOCS, embedder, cache=None, batch_size=5, concurrency=1)
        statuses = [r.status for r in server.embedding_requests]
    assert embedder.encoding == "float" and embedder.encoding_learnt
    assert statuses[0] == 400 and statuses[1:] == [200] * (len(statuses) - 1)  # asked once


def test_tei_batch_limit_is_halved_to_and_remembered():
    with OpenAICompatibleServer(mode="tei", max_batch=5) as server:
        embedder = get_embedder(model=NOMIC, base_url=server.base_url, dimension=768)
        result = embed_texts(DOCS, embedder, cache=None, batch_size=16, concurrency=1)
        log = server.embedding_requests
    assert_allclose(result.vectors, expected(DOCS), atol=EXACT)
    assert embedder.working_batch == 4  # 16 -> 8 -> 4 fit under 5
    assert [r.status for r in log].count(413) == 2  # learnt once, then never too large again
    assert all(r.n_inputs <= 5 for r in log if r.status == 200)


def test_base_url_with_or_without_v1_both_work():
    with (
        OpenAICompatibleServer(mode="infinity") as infinity,
        OpenAICompatibleServer(mode="ollama") as ollama,
    ):
        assert not infinity.base_url.endswith("/v1")
        wrong = [infinity.base_url + "/v1", ollama.base_url.removesuffix("/v1")]
        for url, srv in zip(wrong, (infinity, ollama), strict=True):
            embedder = get_embedder(model=NOMIC, base_url=url)
            out = embed_texts(DOCS[:4], embedder, cache=None)
            assert_allclose(out.vectors, expected(DOCS[:4]), atol=EXACT)
            assert embedder.base_url == srv.base_url


def test_a_path_that_is_wrong_either_way_says_so():
    with OpenAICompatibleServer(mode="ollama") as server:
        url = server.base_url.removesuffix("/v1") + "/api"
        embedder = get_embedder(model=NOMIC, base_url=url, dimension=768)
        with pytest.raises(EmbeddingJobError, match=r"neither .*/api/embeddings nor"):
            embed_texts(["a"], embedder, cache=None)


def test_server_ignoring_dimensions_gets_vectors_cut_and_renormalised():
    with OpenAICompatibleServer(mode="ollama") as server:
        embedder = get_embedder(model=NOMIC, dimensions=64, base_url=server.base_url)
        out = embed_texts(DOCS[:2], embedder, cache=None).vectors
    full = expected(DOCS[:2])[:, :64]
    assert_allclose(out, full / np.linalg.norm(full, axis=1, keepdims=True), atol=EXACT)
    assert embedder.dimension == 64


def test_dimension_change_mid_job_is_a_clear_error_and_done_work_is_kept(tmp_cache):
    with OpenAICompatibleServer(mode="lmstudio") as server:
        server.inject(None, None, Fault.dimension_change(100))
        embedder = get_embedder(model=NOMIC, base_url=server.base_url)
        with pytest.raises(
            EmbeddingJobError,
            match=r"returned 100-dimensional vectors.*768.*"
            r"changed model or dimension mid-job.*kept in the cache",
        ) as caught:
            embed_texts(DOCS, embedder, cache=tmp_cache, batch_size=4, concurrency=1)
        assert caught.value.n_done >= 4
        rerun = embed_texts(DOCS, embedder, cache=tmp_cache, batch_size=4, concurrency=1)
    assert rerun.n_cached >= 4
    assert_allclose(rerun.vectors, expected(DOCS), atol=EXACT)


def test_a_stated_dimension_the_server_contradicts_is_refused():
    with OpenAICompatibleServer(mode="ollama") as server:
        embedder = get_embedder(model=NOMIC, base_url=server.base_url, dimension=384)
        with pytest.raises(EmbeddingJobError, match=r"returned 768-dimensional.*stated dimension"):
            embed_texts(["a"], embedder, cache=None)


def test_vectors_without_index_must_match_the_input_count():
    with OpenAICompatibleServer(mode="lmstudio") as server:
        server.inject(Fault.wrong_count())
        embedder = get_embedder(model=NOMIC, base_url=server.base_url, dimension=768)
        with pytest.raises(EmbeddingJobError, match="without indices for 2 inputs"):
            embed_texts(["a", "b"], embedder, cache=None)


def test_limits_default_safe_for_unknown_servers_and_are_settable():
    embedder = get_embedder(model="my-model", base_url="http://127.0.0.1:9/v1")
    assert embedder.limits == COMPATIBLE_LIMITS and embedder.limits_source == "safe defaults"
    assert not embedder.token_counter.exact and "estimate" in embedder.token_counter.reason
    tuned = get_embedder(
        model="my-model", base_url="http://127.0.0.1:9/v1", max_inputs_per_request=4,
        max_tokens_per_input=64, max_tokens_per_request=200,
    )  # fmt: skip
    assert (tuned.limits.max_inputs_per_request, tuned.limits.max_tokens_per_input) == (4, 64)
    assert tuned.limits.max_tokens_per_request == 200 and tuned.limits_source == "stated"
    with pytest.raises(ValueError, match="max_inputs_per_request must be a positive integer"):
        get_embedder(model="m", base_url="http://127.0.0.1:9/v1", max_inputs_per_request=0)


def test_over_long_texts_follow_the_split_policy_under_the_stated_limit():
    long_text = " ".join(f"word{i}" for i in range(200))
    with OpenAICompatibleServer(mode="tei") as server:
        embedder = get_embedder(
            model=NOMIC, base_url=server.base_url, dimension=768, max_tokens_per_input=50,
            document_prefix="",
        )  # fmt: skip
        split = embed_texts([long_text], embedder, cache=None)
        cut = embed_texts([long_text], embedder, cache=None, long_text_policy="truncate")
        sent = [r.inputs for r in server.embedding_requests]
    assert split.n_split == 1 and cut.n_truncated == 1
    assert all(embedder.count_tokens(t) <= 50 for inputs in sent for t in inputs)
    assert_allclose(np.linalg.norm(split.vectors, axis=1), 1.0, atol=1e-5)


def test_unknown_model_without_base_url_says_to_set_one():
    with pytest.raises(ValueError, match=r"unknown model 'nomic-embed-text'.*set a base URL"):
        get_embedder(model=NOMIC)
    with pytest.raises(ValueError, match=r"unknown OpenAI embedding model.*set a base URL"):
        get_embedder(provider="openai", model=NOMIC)


def test_base_url_from_the_environment_is_enough_for_the_tutorial_api(monkeypatch):
    with OpenAICompatibleServer(mode="ollama") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        processor = BatchEmbeddingProcessor(model=NOMIC, cache=None)
        vectors = processor.generate_embeddings(DOCS[:4], batch_size=2)
    assert processor.dimension == 768
    assert_allclose(vectors, expected(DOCS[:4]), atol=EXACT)


@pytest.mark.parametrize(
    ("model", "query", "document"),
    [
        ("nomic-embed-text:v1.5", "search_query: ", "search_document: "),
        ("intfloat/multilingual-e5-small", "query: ", "passage: "),
        ("e5-base-v2", "query: ", "passage: "),
        ("BAAI/bge-small-en-v1.5", "Represent this sentence for searching relevant passages: ", ""),
        ("all-MiniLM-L6-v2", "", ""),
        ("text-embedding-3-small", "", ""),
    ],
)
def test_known_families_get_their_prefixes(model, query, document):
    p = default_prefixes(model)
    assert (p.query, p.document) == (query, document)


def test_explicit_prefixes_override_the_family_and_empty_means_none():
    assert resolve_prefixes(NOMIC, "", "").query == ""
    p = resolve_prefixes("my-model", "Q: ", "D: ")
    assert (p.query, p.document, p.family) == ("Q: ", "D: ", "custom")


def test_local_model_takes_prefixes_too(monkeypatch):
    embedder = get_embedder("use-multilingual", query_prefix="query: ", document_prefix="")
    assert embedder.spec.query_prefix == "query: " and embedder.spec.document_prefix == ""


def test_pricing_is_only_for_known_paid_models():
    texts = ["one text", "two texts"]
    local = get_embedder(model=NOMIC, base_url="http://127.0.0.1:9/v1", dimension=768)
    remote = get_embedder(model=NOMIC, base_url="http://192.0.2.10/v1", dimension=768)
    paid = get_embedder(model="text-embedding-3-small", api_key="sk-x")
    est_local, est_remote = estimate_cost(texts, local), estimate_cost(texts, remote)
    assert (est_local.pricing, est_local.price_text) == (PRICING_LOCAL, "local, free")
    assert est_remote.pricing == PRICING_UNKNOWN and est_remote.usd is None
    assert est_remote.price_text.startswith("price unknown")
    assert not est_remote.exact  # another tokenizer: counts are an estimate
    est_paid = estimate_cost(texts, paid)
    assert est_paid.pricing == PRICING_PAID and est_paid.usd > 0
    half = estimate_cost(texts, paid, batch_api=True)
    assert half.usd == pytest.approx(est_paid.usd / 2) and "Batch API" in half.price_text


def test_estimate_needs_no_key_but_sending_does():
    embedder = get_embedder(provider="openai", require_key=False)
    assert estimate_cost(["a text"], embedder).usd > 0
    with pytest.raises(EmbeddingJobError, match="needs an API key to embed"):
        embed_texts(["a text"], embedder, cache=None)
    with pytest.raises(MissingAPIKeyError, match="needs an API key"):
        get_embedder(provider="openai")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.25", 0.25),
     ("soon", None)],
)  # fmt: skip
def test_reset_headers_parse(value, seconds):
    assert parse_reset(value) == (pytest.approx(seconds) if seconds is not None else None)


def test_rpm_and_tpm_are_learnt_from_headers():
    with OpenAICompatibleServer(
        requests_per_minute=6000, tokens_per_minute=5_000_000, rate_limit_headers=True
    ) as server:
        embedder = get_embedder(model="text-embedding-3-small", base_url=server.base_url,
                                api_key=server.api_key, dimensions=8)  # fmt: skip
        result = embed_texts(DOCS, embedder, cache=None, batch_size=4)
    assert result.learnt_limits == {"requests_per_minute": 6000, "tokens_per_minute": 5_000_000}
    assert embedder.last_rate_limits.limit_requests == 6000


def test_an_exhausted_token_budget_holds_every_worker_until_the_reset():
    # 60 tokens per 0.4 s window; each request carries about 20: without the headers' reset
    # time the job would run into 429s.
    texts = [f"budget text number {i} with several words" for i in range(24)]
    with OpenAICompatibleServer(
        tokens_per_minute=60, window_s=0.4, rate_limit_headers=True
    ) as server:
        embedder = get_embedder(model="text-embedding-3-small", base_url=server.base_url,
                                api_key=server.api_key, dimensions=8)  # fmt: skip
        # A stated (loose) TPM, so no pacer is learnt from the header's "60 per minute": the
        # server's window is 0.4 s, and what is under test is the hold until its reset.
        result = embed_texts(
            texts, embedder, cache=None, batch_size=2, concurrency=1, tokens_per_minute=10**9
        )
        stats = server.stats()
    assert stats["by_status"] == {"200": result.n_requests}
    assert result.n_retries == 0


def test_rpm_setting_paces_requests_under_the_servers_limit():
    # The server allows 10 requests per 3 s window (200 a minute, scaled down); the client is
    # told 120 a minute, so any 3 s hold at most 6 request starts: 4 requests of margin for a
    # busy machine's jitter, and never a 429. Unpaced, 4 in flight would overrun the window.
    texts = [f"paced text {i}" for i in range(12)]
    with OpenAICompatibleServer(requests_per_minute=10, window_s=3.0) as server:
        embedder = get_embedder(model="text-embedding-3-small", base_url=server.base_url,
                                api_key=server.api_key, dimensions=8,
                                requests_per_minute=120)  # fmt: skip
        result = embed_texts(texts, embedder, cache=None, batch_size=1, concurrency=4)
        stats = server.stats()
    assert stats["by_status"] == {"200": 12} and result.n_retries == 0


@pytest.mark.skipif(
    not __import__("core.embedding.providers", fromlist=["x"]).sentence_transformers_installed(),
    reason="needs torch and sentence-transformers (requirements-st.txt)",
)
@pytest.mark.parametrize("mode", ["tei", "lmstudio"])
def test_a_server_serving_the_bundled_minilm_matches_the_local_provider(mode):
    local = get_embedder("sentence-transformers", "all-MiniLM-L6-v2")
    local.embed_batch(["warm-up"])  # load the weights before the server answers anything

    def serve(texts, model):
        return local.embed_batch(texts).vectors

    texts = [t for t in DOCS if t.strip()]
    with OpenAICompatibleServer(mode=mode, embed_fn=serve) as server:
        remote = get_embedder("openai", "all-MiniLM-L6-v2", base_url=server.base_url)
        over_http = embed_texts(texts, remote, cache=None, batch_size=3).vectors
    here = embed_texts(texts, local, cache=None).vectors
    assert remote.dimension == 384
    assert_allclose(over_http, here, atol=1e-6)
