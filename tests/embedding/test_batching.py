"""The batch engine over real HTTP to the project's OpenAI-compatible server."""

from __future__ import annotations

import dataclasses
import itertools
import random
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from core.embedding._batching import embed_texts
from core.embedding._planning import Gate, TokenPacer, backoff_delay, split_to_token_limit
from core.embedding.providers._openai import OPENAI_LIMITS, OpenAIRequestError
from core.errors import EmbeddingJobError, ProviderResponseError, RetriesExhaustedError
from core.server._server import Fault, reference_embedding
from tests.fixtures_openai import *  # noqa: F403
from tests.fixtures_openai import TEST_DIMENSIONS

SMALL = "text-embedding-3-small"
EXACT = 1e-6
FAST_BACKOFF = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}


class StopJob(Exception):
    """Raised from a progress callback to cancel."""


def reference(texts, dims=TEST_DIMENSIONS):
    return np.stack([reference_embedding(t, SMALL, dims) for t in texts])


def sent_texts(server) -> list[str]:
    """Every text the server answered with vectors."""
    return [t for r in server.embedding_requests if r.status == 200 for t in r.inputs]


def with_limits(embedder, **changes):
    embedder.limits = dataclasses.replace(OPENAI_LIMITS, **changes)
    return embedder


# --- planning -------------------------------------------------------------------------------
def test_more_than_2048_inputs_go_in_several_requests_in_order(make_embedder, openai_server):
    texts = [f"doc {i}" for i in range(2500)]
    result = embed_texts(texts, make_embedder(), cache=None)
    assert sorted(r.n_inputs for r in openai_server.log) == [452, 2048]
    assert result.vectors.shape == (2500, TEST_DIMENSIONS) and result.vectors.dtype == np.float32
    assert_allclose(result.vectors, reference(texts), atol=EXACT)
    assert result.n_requests == 2 and result.tokens_used == sum(r.tokens for r in openai_server.log)


def test_batch_size_and_token_caps_shape_the_requests(make_embedder, openai_server):
    texts = [f"word{i} " * (1 + i % 5) for i in range(40)]
    embedder = make_embedder()
    cap = 2 * max(embedder.count_tokens(t) for t in texts)
    with_limits(embedder, max_tokens_per_request=cap)
    result = embed_texts(texts, embedder, batch_size=7, cache=None, concurrency=2)
    log = openai_server.log
    assert all(r.n_inputs <= 7 and r.tokens <= cap for r in log)
    assert len(log) > 6  # the token cap, not only batch_size, cut requests
    assert sum(r.n_inputs for r in log) == 40 and result.n_split == 0
    assert_allclose(result.vectors, reference(texts), atol=EXACT)
    with pytest.raises(ValueError, match="batch_size must be from 1 to 2048"):
        embed_texts(texts, make_embedder(), batch_size=2049)


def test_text_over_the_request_token_cap_is_split_to_fit(make_embedder, openai_server):
    embedder = with_limits(make_embedder(), max_tokens_per_request=20)
    long_text = " ".join(f"w{i}" for i in range(40))
    result = embed_texts([long_text], embedder, cache=None, concurrency=1)
    assert result.n_split == 1
    assert all(r.tokens <= 20 for r in openai_server.log)
    assert "".join(sent_texts(openai_server)) == long_text


def test_empty_texts_are_never_sent_and_get_zero_rows(make_embedder, openai_server):
    texts = ["", "real text", "   ", "\n\t", "another", "real text"]
    result = embed_texts(texts, make_embedder(), cache=None)
    assert [r.inputs for r in openai_server.log] == [("real text", "another")]  # no duplicates
    assert result.n_empty == 3
    assert not result.vectors[[0, 2, 3]].any()
    assert_allclose(result.vectors[[1, 4, 5]], reference(["real text", "another", "real text"]))


def test_only_empty_texts_send_nothing(make_embedder, openai_server):
    calls = []
    result = embed_texts(["", " "], make_embedder(), cache=None, progress=calls.append)
    assert openai_server.log == [] and result.vectors.shape == (2, TEST_DIMENSIONS)
    assert [(c.n_batches, c.texts_done, c.fraction) for c in calls] == [(0, 2, 1.0)]


# --- long texts -----------------------------------------------------------------------------
def test_long_text_is_split_and_averaged_by_tokens(make_embedder, openai_server):
    embedder = with_limits(make_embedder(), max_tokens_per_input=20)
    long_text = " ".join(f"token{i}" for i in range(60))
    result = embed_texts(["short", long_text], embedder, cache=None)
    pieces = [t for t in sent_texts(openai_server) if t != "short"]
    assert len(pieces) >= 3 and "".join(pieces) == long_text
    assert all(embedder.count_tokens(p) <= 20 for p in pieces)
    weights = np.array([embedder.count_tokens(p) for p in pieces], dtype=np.float64)
    expected = weights @ reference(pieces).astype(np.float64)
    assert_allclose(result.vectors[1], expected / np.linalg.norm(expected), atol=EXACT)
    assert (result.n_split, result.n_truncated, result.long_text_policy) == (1, 0, "split")


def test_long_text_truncate_embeds_only_the_first_piece(make_embedder, openai_server):
    embedder = with_limits(make_embedder(), max_tokens_per_input=20)
    long_text = " ".join(f"token{i}" for i in range(60))
    result = embed_texts([long_text], embedder, cache=None, long_text_policy="truncate")
    ((piece,),) = [r.inputs for r in openai_server.log]
    assert long_text.startswith(piece) and embedder.count_tokens(piece) <= 20
    assert_allclose(result.vectors[0], reference([piece])[0], atol=EXACT)
    assert (result.n_split, result.n_truncated, result.long_text_policy) == (0, 1, "truncate")
    with pytest.raises(ValueError, match="long_text_policy must be one of"):
        embed_texts([long_text], embedder, long_text_policy="drop")


@pytest.mark.parametrize("short_first", [True, False])
def test_piece_shared_by_a_long_text_and_a_short_one_is_sent_once(
    make_embedder, openai_server, short_first
):
    embedder = with_limits(make_embedder(), max_tokens_per_input=20)
    long_text = " ".join(f"token{i}" for i in range(60))
    pieces = split_to_token_limit(long_text, embedder.count_tokens, 20)
    texts = [pieces[0], long_text] if short_first else [long_text, pieces[0]]
    result = embed_texts(texts, embedder, cache=None, concurrency=1)
    assert sorted(sent_texts(openai_server)) == sorted(pieces)  # each piece once
    short_row = 0 if short_first else 1
    assert_allclose(result.vectors[short_row], reference(pieces[:1])[0], atol=EXACT)
    weights = np.array([embedder.count_tokens(p) for p in pieces], dtype=np.float64)
    expected = weights @ reference(pieces).astype(np.float64)
    assert_allclose(result.vectors[1 - short_row], expected / np.linalg.norm(expected), atol=EXACT)


def test_text_over_the_real_8191_token_limit_is_accepted_after_splitting(make_embedder):
    text = "hello " * 9000  # ~9,000 tokens: the server would answer 400 to it whole
    result = embed_texts([text], make_embedder(), cache=None)
    assert result.n_split == 1 and result.n_requests == 1
    assert_allclose(np.linalg.norm(result.vectors[0]), 1.0, atol=EXACT)


def test_split_to_token_limit_with_a_byte_counter():
    def count(text):
        return len(text.encode())

    text = "日本語のテキスト " * 50
    pieces = split_to_token_limit(text, count, 40)
    assert "".join(pieces) == text and all(count(p) <= 40 for p in pieces)
    assert split_to_token_limit("   ", count, 40) == []
    with pytest.raises(ValueError, match="alone is over 2 tokens"):
        split_to_token_limit("日日日", count, 2)


@settings(max_examples=80, deadline=None)
@given(text=st.text(min_size=1, max_size=400), limit=st.integers(4, 60))
def test_split_pieces_cover_the_text_within_the_limit(text, limit):
    pieces = split_to_token_limit(text, lambda t: len(t.encode()), limit)
    assert all(len(p.encode()) <= limit and p.strip() for p in pieces)
    # Pieces are consecutive slices of the text; only whitespace-only ones are dropped.
    position = 0
    for piece in pieces:
        found = text.index(piece, position)
        assert not text[position:found].strip()
        position = found + len(piece)
    assert not text[position:].strip()


def test_backoff_delay_is_full_jitter_within_the_cap():
    rng = random.Random(0)
    delays = [backoff_delay(attempt, 0.5, 4.0, rng) for attempt in range(1, 9) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)
    first = [backoff_delay(1, 0.5, 4.0, rng) for _ in range(200)]
    assert max(first) <= 0.5 and min(first) < 0.1  # uniform over [0, base], not a fixed wait


# --- retries and failures -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "wait_s"),
    [(Fault.rate_limit(1), 1.0), (Fault.rate_limit(0.3, as_ms=True), 0.3)],
)
def test_429_retry_waits_exactly_as_long_as_retry_after(
    make_embedder, openai_server, fault, wait_s
):
    openai_server.inject(fault)
    result = embed_texts(["a", "b"], make_embedder(), cache=None)
    first, second = openai_server.log
    assert (first.status, second.status) == (429, 200)
    assert second.t_start - first.t_end >= wait_s  # server clock: the wait really happened
    assert result.n_retries == 1 and result.n_requests == 1
    assert_allclose(result.vectors, reference(["a", "b"]), atol=EXACT)


def test_429_without_retry_after_backs_off_and_retries(make_embedder, openai_server):
    openai_server.inject(Fault.rate_limit(), Fault.rate_limit(), Fault.rate_limit())
    result = embed_texts(["a"], make_embedder(), cache=None, **FAST_BACKOFF)
    assert [r.status for r in openai_server.log] == [429, 429, 429, 200]
    assert result.n_retries == 3


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(make_embedder, openai_server, status):
    openai_server.inject(Fault.server_error(status))
    result = embed_texts(["a", "b"], make_embedder(), cache=None, **FAST_BACKOFF)
    assert [r.status for r in openai_server.log] == [status, 200]
    assert_allclose(result.vectors, reference(["a", "b"]), atol=EXACT)


def test_timeout_is_retried(make_embedder, openai_server):
    openai_server.inject(Fault.timeout(hang_s=10))
    result = embed_texts(["a"], make_embedder(timeout=0.4), cache=None, **FAST_BACKOFF)
    assert [r.fault for r in openai_server.log] == ["timeout", None]
    assert result.n_retries == 1
    assert_allclose(result.vectors, reference(["a"]), atol=EXACT)


def test_shuffled_response_keeps_input_order(make_embedder, openai_server):
    texts = [f"t{i}" for i in range(30)]
    openai_server.inject(Fault.shuffled(), Fault.shuffled(), Fault.shuffled())
    result = embed_texts(texts, make_embedder(), batch_size=10, cache=None)
    assert_allclose(result.vectors, reference(texts), atol=EXACT)


def test_wrong_number_of_vectors_stops_the_job(make_embedder, openai_server):
    openai_server.inject(Fault.wrong_count())
    with pytest.raises(EmbeddingJobError, match="returned 1 vectors for 2 inputs") as caught:
        embed_texts(["a", "b"], make_embedder(), cache=None)
    assert isinstance(caught.value.__cause__, ProviderResponseError)
    assert len(openai_server.log) == 1


def test_401_stops_at_once_without_retries(make_embedder, openai_server):
    with pytest.raises(EmbeddingJobError, match="API key was rejected"):
        embed_texts(["a"], make_embedder(api_key="sk-wrong-000000000"), cache=None)
    assert len(openai_server.log) == 1


def test_exhausted_quota_stops_at_once(make_embedder, openai_server):
    openai_server.inject(Fault.quota_exceeded())
    with pytest.raises(EmbeddingJobError, match="quota exhausted") as caught:
        embed_texts(["a"], make_embedder(), cache=None, **FAST_BACKOFF)
    assert isinstance(caught.value.__cause__, OpenAIRequestError)
    assert len(openai_server.log) == 1


# --- resume: nothing paid for is lost -------------------------------------------------------
def test_401_on_third_request_then_rerun_sends_only_the_rest(
    make_embedder, openai_server, tmp_cache
):
    texts = [f"sentence {i}" for i in range(50)]
    embedder = make_embedder()
    openai_server.inject(None, None, Fault.unauthorized())
    with pytest.raises(
        EmbeddingJobError,
        match=(
            "20 of 50 texts are embedded and kept in the cache; "
            "rerunning sends only the remaining 30"
        ),
    ) as caught:
        embed_texts(texts, embedder, batch_size=10, concurrency=1, cache=tmp_cache)
    assert (caught.value.n_done, caught.value.n_total) == (20, 50)
    first_run = sent_texts(openai_server)
    assert first_run == texts[:20]
    openai_server.reset_log()
    result = embed_texts(texts, embedder, batch_size=10, concurrency=1, cache=tmp_cache)
    assert sent_texts(openai_server) == texts[20:]  # only what was missing
    assert result.n_cached == 20 and result.n_requests == 3
    assert_allclose(result.vectors, reference(texts), atol=EXACT)


def test_retries_exhausted_midway_then_rerun_sends_only_the_rest(
    make_embedder, openai_server, tmp_cache
):
    texts = [f"line {i}" for i in range(40)]
    embedder = make_embedder()
    openai_server.inject(None, Fault.rate_limit(), Fault.rate_limit(), Fault.rate_limit())
    with pytest.raises(EmbeddingJobError, match="gave up after 2 retries") as caught:
        embed_texts(
            texts, embedder, batch_size=10, concurrency=1, cache=tmp_cache, max_retries=2,
            **FAST_BACKOFF,
        )  # fmt: skip
    assert isinstance(caught.value.__cause__, RetriesExhaustedError)
    assert [r.status for r in openai_server.log] == [200, 429, 429, 429]
    openai_server.reset_log()
    result = embed_texts(texts, embedder, batch_size=10, cache=tmp_cache)
    assert sorted(sent_texts(openai_server)) == sorted(texts[10:])
    assert_allclose(result.vectors, reference(texts), atol=EXACT)
    assert tmp_cache.count(embedder.cache_key) == 40


def test_cache_is_keyed_by_model_and_dimension(make_embedder, openai_server, tmp_cache):
    embed_texts(["same text"], make_embedder(dimensions=8), cache=tmp_cache)
    embed_texts(["same text"], make_embedder(dimensions=16), cache=tmp_cache)
    embed_texts(["same text"], make_embedder(dimensions=8), cache=tmp_cache)
    assert len(openai_server.log) == 2


# --- concurrency, progress, cancel ----------------------------------------------------------
def test_requests_overlap_up_to_the_concurrency_limit(make_embedder, openai_server):
    openai_server.latency_ms = 150
    texts = [f"c{i}" for i in range(16)]
    embed_texts(texts, make_embedder(), batch_size=2, concurrency=4, cache=None)
    assert 2 <= openai_server.max_in_flight <= 4
    openai_server.reset_log()
    embed_texts(
        [f"d{i}" for i in range(6)], make_embedder(), batch_size=2, concurrency=1, cache=None
    )
    assert openai_server.max_in_flight == 1


def test_progress_reports_every_request(make_embedder, openai_server, tmp_cache):
    texts = [f"p{i}" for i in range(25)] + [""]
    embed_texts(texts[:5], make_embedder(), cache=tmp_cache)  # 5 cached already
    calls = []
    embed_texts(
        texts, make_embedder(), batch_size=5, concurrency=3, cache=tmp_cache, progress=calls.append
    )
    assert [c.batch_index for c in calls] == [1, 2, 3, 4]
    assert {c.n_batches for c in calls} == {4} and {c.texts_total for c in calls} == {26}
    assert [c.texts_done for c in calls] == [11, 16, 21, 26]  # 5 cached + 1 empty first
    assert calls[-1].fraction == 1.0 and calls[-1].eta_s == 0.0
    assert all(a.tokens < b.tokens for a, b in itertools.pairwise(calls))


def test_big_job_is_planned_while_sending_and_progress_converges(make_embedder, openai_server):
    texts = [f"row {i}" for i in range(3000)]  # more than one planning chunk
    calls = []
    result = embed_texts(
        texts, make_embedder(), batch_size=100, concurrency=1, cache=None, progress=calls.append
    )
    assert result.n_requests == 30 == len(openai_server.log)
    assert [c.batch_index for c in calls] == list(range(1, 31))
    assert all(30 <= c.n_batches <= 31 for c in calls) and calls[-1].n_batches == 30
    assert [c.texts_done for c in calls] == list(range(100, 3001, 100))
    assert_allclose(result.vectors, reference(texts), atol=EXACT)


def test_exception_in_progress_cancels_and_keeps_finished_work(
    make_embedder, openai_server, tmp_cache
):
    texts = [f"k{i}" for i in range(50)]
    embedder = make_embedder()

    def stop_after_two(progress):
        if progress.batch_index == 2:
            raise StopJob

    with pytest.raises(StopJob):
        embed_texts(
            texts, embedder, batch_size=10, concurrency=1, cache=tmp_cache, progress=stop_after_two
        )
    assert len(openai_server.log) == 2
    openai_server.reset_log()
    embed_texts(texts, embedder, batch_size=10, cache=tmp_cache)
    assert sorted(sent_texts(openai_server)) == sorted(texts[20:])


def test_cancel_with_requests_in_flight_caches_every_answered_request(
    make_embedder, openai_server, tmp_cache
):
    openai_server.latency_ms = 100
    texts = [f"q{i}" for i in range(100)]
    embedder = make_embedder()

    def stop_at_once(progress):
        raise StopJob

    with pytest.raises(StopJob):
        embed_texts(
            texts, embedder, batch_size=5, concurrency=4, cache=tmp_cache, progress=stop_at_once
        )
    answered = sent_texts(openai_server)
    assert 5 <= len(answered) < 100  # queued requests were dropped
    assert tmp_cache.count(embedder.cache_key) == len(answered)  # nothing answered was lost


def test_bad_texts_are_refused_with_their_position(make_embedder):
    with pytest.raises(TypeError, match="not one string"):
        embed_texts("just one", make_embedder())
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        embed_texts(["ok", 3], make_embedder())


# --- pacing ---------------------------------------------------------------------------------
def test_token_pacer_never_exceeds_the_minute_budget():
    now = [0.0]
    pacer = TokenPacer(60_000, burst=1_000, safety=1.0, clock=lambda: now[0])
    assert pacer.rate == pytest.approx(59_000 / 60)
    sent = []  # (time, tokens) actually sent
    for _ in range(200):
        wait = pacer.reserve(1_000)
        sent.append((now[0] + wait, 1_000))
        now[0] += wait
    times = np.array([t for t, _ in sent])
    for start in times:
        in_window = sum(tokens for t, tokens in sent if start <= t < start + 60)
        assert in_window <= 60_000
    assert times[-1] == pytest.approx((200 - 1) * 1_000 / pacer.rate)  # and runs at the rate
    with pytest.raises(ValueError, match="leaves no room"):
        TokenPacer(1_000, burst=1_000)


def test_tokens_per_minute_too_small_for_one_request_is_refused(make_embedder):
    with pytest.raises(ValueError, match="tokens_per_minute=10 leaves no room"):
        text = "a sentence long enough to need more than ten tokens, surely"
        embed_texts([text], make_embedder(), tokens_per_minute=10, cache=None)


def test_gate_holds_every_waiter_until_it_opens():
    gate, cancel = Gate(), threading.Event()
    assert gate.wait(cancel)
    gate.hold(30)
    cancel.set()
    assert gate.wait(cancel) is False  # cancellation wakes a held waiter at once
