"""The project's OpenAI-compatible server, exercised with the real ``openai`` client over HTTP."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import openai
import pytest
from numpy.testing import assert_allclose

from core.embedding._tokens import count_tokens
from core.embedding.providers._openai import OPENAI_MODEL_DIMENSIONS
from core.server._server import (
    MODEL_DIMENSIONS,
    Fault,
    OpenAICompatibleServer,
    reference_embedding,
)
from tests.fixtures_openai import *  # noqa: F403
from tests.fixtures_openai import TEST_API_KEY

SMALL = "text-embedding-3-small"
PAGE = "hello " * 1300  # within the 8,191-token input limit whether counted exactly or as bytes
EXACT = 1e-6  # float32 round trip through JSON or base64


def client(server, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("api_key", server.api_key)
    return openai.OpenAI(base_url=server.base_url, max_retries=0, **kwargs)


def post(server, body: dict, key: str | None = None):
    """Raw POST /v1/embeddings; returns (status, headers, JSON body)."""
    request = urllib.request.Request(
        server.base_url + "/embeddings",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key or server.api_key}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read())


def test_models_table_matches_the_provider():
    assert MODEL_DIMENSIONS == OPENAI_MODEL_DIMENSIONS


@pytest.mark.parametrize("model", sorted(MODEL_DIMENSIONS))
@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_vectors_are_deterministic_unit_norm_and_sized_per_model(
    openai_server, model, encoding_format
):
    texts = ["hello world", "你好，世界", "hello world"]
    response = client(openai_server).embeddings.create(
        input=texts, model=model, encoding_format=encoding_format
    )
    assert response.object == "list" and response.model == model
    assert [item.index for item in response.data] == [0, 1, 2]
    if encoding_format == "base64":
        got = np.stack([np.frombuffer(base64.b64decode(d.embedding), "<f4") for d in response.data])
    else:
        got = np.array([d.embedding for d in response.data], dtype=np.float32)
    assert got.shape == (3, MODEL_DIMENSIONS[model])
    assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=EXACT)
    assert_allclose(got, np.stack([reference_embedding(t, model) for t in texts]), atol=EXACT)
    assert_allclose(got[0], got[2], atol=0)
    assert response.usage.prompt_tokens == sum(count_tokens(t) for t in texts)
    assert response.usage.total_tokens == response.usage.prompt_tokens


def test_single_string_input_and_dimensions_shorten_and_renormalise(openai_server):
    response = client(openai_server).embeddings.create(
        input="one text", model=SMALL, dimensions=5, encoding_format="float"
    )
    (item,) = response.data
    full = reference_embedding("one text", SMALL)
    assert_allclose(item.embedding, full[:5] / np.linalg.norm(full[:5]), atol=EXACT)


def test_default_client_decodes_base64_itself(openai_server):
    # The openai client asks for base64 when no format is given and decodes it to floats.
    response = client(openai_server).embeddings.create(input=["abc"], model=SMALL, dimensions=4)
    assert_allclose(response.data[0].embedding, reference_embedding("abc", SMALL, 4), atol=EXACT)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"model": SMALL, "input": ["ok", ""]}, "1 empty"),
        ({"model": SMALL, "input": ["x"] * 2049}, "got 2049 inputs"),
        ({"model": SMALL, "input": []}, "got 0 inputs"),
        ({"model": SMALL, "input": [1, 2]}, "array of strings"),
        ({"model": "text-embedding-ada-002", "input": ["x"], "dimensions": 8}, "does not support"),
        ({"model": SMALL, "input": ["x"], "dimensions": 1537}, "from 1 to 1536"),
        ({"model": SMALL, "input": ["x"], "encoding_format": "int8"}, "encoding_format"),
        ({"model": SMALL, "input": ["hello " * 8200]}, "maximum context length"),
        ({"model": SMALL, "input": [PAGE] * (300_000 // count_tokens(PAGE) + 1)}, "max 300000"),
    ],
)
def test_bad_requests_get_400_with_openai_error_shape(openai_server, body, match):
    status, _, payload = post(openai_server, body)
    assert status == 400
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert payload["error"]["type"] == "invalid_request_error"
    assert match in payload["error"]["message"]


def test_wrong_or_missing_key_is_401(openai_server):
    with pytest.raises(openai.AuthenticationError, match="Incorrect API key") as caught:
        client(openai_server, api_key="sk-wrong-key-9999").embeddings.create(input="x", model=SMALL)
    assert caught.value.code == "invalid_api_key"
    assert "...9999" in caught.value.message and TEST_API_KEY not in caught.value.message
    status, _, payload = post(openai_server, {"model": SMALL, "input": "x"}, key="-")
    assert status == 401 and payload["error"]["code"] == "invalid_api_key"


def test_unknown_or_unavailable_model_is_404():
    with OpenAICompatibleServer(models=[SMALL]) as server:
        for model in ("text-embedding-4-huge", "text-embedding-3-large"):
            with pytest.raises(openai.NotFoundError, match="does not exist") as caught:
                client(server).embeddings.create(input="x", model=model)
            assert caught.value.code == "model_not_found"
        assert [m.id for m in client(server).models.list().data] == [SMALL]


def test_models_endpoint_lists_all_models(openai_server):
    assert {m.id for m in client(openai_server).models.list().data} == set(MODEL_DIMENSIONS)


@pytest.mark.parametrize(
    ("fault", "header", "value"),
    [
        (Fault.rate_limit(), None, None),
        (Fault.rate_limit(2), "retry-after", "2"),
        (Fault.rate_limit(0.25, as_ms=True), "retry-after-ms", "250"),
    ],
)
def test_injected_429_with_and_without_retry_after(openai_server, fault, header, value):
    openai_server.inject(fault)
    with pytest.raises(openai.RateLimitError) as caught:
        client(openai_server).embeddings.create(input="x", model=SMALL)
    headers = caught.value.response.headers
    assert "retry-after" not in headers if header is None else headers[header] == value
    # The fault was used up: the next request succeeds.
    assert client(openai_server).embeddings.create(input="x", model=SMALL).data
    assert [r.status for r in openai_server.log] == [429, 200]


@pytest.mark.parametrize("status", [500, 503])
def test_injected_server_errors(openai_server, status):
    openai_server.inject(Fault.server_error(status))
    with pytest.raises(openai.InternalServerError) as caught:
        client(openai_server).embeddings.create(input="x", model=SMALL)
    assert caught.value.status_code == status


def test_quota_fault_and_unauthorized_fault(openai_server):
    openai_server.inject(Fault.quota_exceeded(), Fault.unauthorized())
    with pytest.raises(openai.RateLimitError) as caught:
        client(openai_server).embeddings.create(input="x", model=SMALL)
    assert caught.value.code == "insufficient_quota"
    with pytest.raises(openai.AuthenticationError):
        client(openai_server).embeddings.create(input="x", model=SMALL)


def test_timeout_fault_hangs_past_the_client_timeout(openai_server):
    openai_server.inject(Fault.timeout(hang_s=10))
    with pytest.raises(openai.APITimeoutError):
        client(openai_server, timeout=0.3).embeddings.create(input="x", model=SMALL)
    (record,) = openai_server.log
    assert record.fault == "timeout" and record.status == 0


def test_shuffled_and_wrong_count_faults(openai_server):
    texts = ["a", "b", "c", "d"]
    openai_server.inject(Fault.shuffled(), Fault.wrong_count())
    shuffled = client(openai_server).embeddings.create(input=texts, model=SMALL, dimensions=4)
    order = [item.index for item in shuffled.data]
    assert sorted(order) == [0, 1, 2, 3] and order != [0, 1, 2, 3]
    for item in shuffled.data:
        assert_allclose(
            item.embedding, reference_embedding(texts[item.index], SMALL, 4), atol=EXACT
        )
    short = client(openai_server).embeddings.create(input=texts, model=SMALL, dimensions=4)
    assert len(short.data) == 3


def test_tokens_per_minute_limit_answers_429_with_retry_after():
    t = count_tokens("hello")  # 1 with tiktoken, 5 as UTF-8 bytes
    with OpenAICompatibleServer(tokens_per_minute=100 * t) as server:
        c = client(server)
        c.embeddings.create(input=["hello"] * 60, model=SMALL)
        with pytest.raises(openai.RateLimitError, match="tokens per min") as caught:
            c.embeddings.create(input=["hello"] * 50, model=SMALL)
        retry_after_ms = float(caught.value.response.headers["retry-after-ms"])
        assert 59_000 < retry_after_ms <= 60_000  # the first 60 leave the window in ~60 s
        c.embeddings.create(input=["hello"] * 40, model=SMALL)  # still fits: 100 in the window
        with pytest.raises(openai.RateLimitError, match="Request too large"):
            c.embeddings.create(input=["hello"] * 101, model=SMALL)
        assert [r.status for r in server.log] == [200, 429, 200, 429]
        assert [r.tokens for r in server.log] == [60 * t, 50 * t, 40 * t, 101 * t]


def test_latency_in_flight_count_and_log(openai_server):
    openai_server.latency_ms = 200
    c = client(openai_server)
    threads = [
        threading.Thread(target=c.embeddings.create, kwargs={"input": [f"t{i}"], "model": SMALL})
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log = openai_server.log
    assert sorted(r.inputs for r in log) == [("t0",), ("t1",), ("t2",)]
    assert all(r.status == 200 and r.t_end - r.t_start >= 0.2 for r in log)
    assert 2 <= openai_server.max_in_flight <= 3
    stats = openai_server.stats()
    assert stats == {
        "requests": 3,
        "by_status": {"200": 3},
        "inputs_accepted": 3,
        "tokens_accepted": sum(r.tokens for r in log),
        "max_in_flight": openai_server.max_in_flight,
    }
    request = urllib.request.Request(
        openai_server.base_url.removesuffix("/v1") + "/_workbench/stats",
        headers={"Authorization": f"Bearer {openai_server.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read()) == stats
    openai_server.reset_log()
    assert openai_server.log == [] and openai_server.max_in_flight == 0


def test_command_line_server_serves_until_stopped():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.server",
            "--port",
            "0",
            "--api-key",
            "sk-cli-key-1234",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        base_url = proc.stdout.readline().strip().removeprefix("OPENAI_BASE_URL=")
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        c = openai.OpenAI(api_key="sk-cli-key-1234", base_url=base_url, max_retries=0)
        response = c.embeddings.create(input="demo", model=SMALL, dimensions=3)
        assert_allclose(
            response.data[0].embedding, reference_embedding("demo", SMALL, 3), atol=EXACT
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
