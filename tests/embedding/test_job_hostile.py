"""Hostile servers against the batch engine: endless Retry-After, garbage headers, malformed
usage; and the exact wording of every message a failed job gives (issue 9, findings 3 and 8)."""

from __future__ import annotations

import threading

import pytest
from numpy.testing import assert_allclose

from core.embedding._batching import embed_texts
from core.embedding._job import job_error_message, wait_note
from core.embedding.providers._openai import _retry_after
from core.errors import EmbeddingJobError, OpenAIRequestError
from core.server._server import Fault, reference_embedding
from tests.fixtures_openai import TEST_DIMENSIONS

SMALL = "text-embedding-3-small"
FAST_BACKOFF = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}
KEY_REJECTED = "the API key was rejected"


class StopJob(Exception):
    """Raised from a progress callback, as the dashboard's Stop does."""


def reference(texts):
    import numpy as np

    return np.stack([reference_embedding(t, SMALL, TEST_DIMENSIONS) for t in texts])


# --- Retry-After: capped, shown, interruptible -----------------------------------------------
def test_wait_notes_say_what_the_server_asked_and_what_is_done():
    assert wait_note(60.0, 3600.0, 1, 6) == "waiting 60 s: the server asked for 3600 s"
    assert wait_note(60.0, float("inf"), 1, 6) == (
        "waiting 60 s: the server asked for an unlimited wait"
    )
    assert wait_note(2.0, 2.0, 1, 6) == "waiting 2.0 s, as the server asked (Retry-After)"
    assert wait_note(0.5, None, 2, 6) == "waiting 0.5 s before retry 2 of 6"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("soon", None), ("inf", float("inf")), ("1e9", 1e9), ("nan", None), ("-5", 0.0),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("Wed, 99 Foo 2015", None), ("", None)],
)  # fmt: skip
def test_retry_after_header_values_never_raise(header, seconds):
    assert _retry_after({"retry-after": header}) == seconds


@pytest.mark.parametrize("header", ["3600", "1e9", "inf", "soon"])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_hostile_retry_after_is_capped_and_the_429_stays_retryable(
    make_embedder, openai_server, header, concurrency
):
    openai_server.inject(Fault.rate_limit(header=header))
    notes: list[str] = []
    result = embed_texts(
        ["a", "b"], make_embedder(), cache=None, concurrency=concurrency, max_retry_wait_s=0.3,
        progress=lambda p: p.note and notes.append(p.note), **FAST_BACKOFF,
    )  # fmt: skip
    assert [r.status for r in openai_server.log] == [429, 200]
    assert result.n_retries == 1
    assert_allclose(result.vectors, reference(["a", "b"]), atol=1e-6)
    if header == "soon":  # unreadable: an ordinary (here very short) backoff, shown as such
        assert all(n.startswith("waiting ") and n.endswith(" s before retry 1 of 6") for n in notes)
    else:
        asked = {"3600": "3600 s", "1e9": "1000000000 s", "inf": "an unlimited wait"}[header]
        assert notes and set(notes) == {f"waiting 0.3 s: the server asked for {asked}"}


@pytest.mark.parametrize("concurrency", [1, 4])
def test_stop_interrupts_a_retry_after_wait(make_embedder, openai_server, concurrency):
    """Retry-After: 3600 (capped at the default 60 s): the first report of the wait raises, as
    Stop does in the dashboard; the job ends without ever retrying."""
    openai_server.inject(Fault.rate_limit(3600))
    notes: list[str] = []
    outcome: list[BaseException] = []

    def stop_on_wait(progress):
        if progress.note:
            notes.append(progress.note)
            raise StopJob

    def run():
        try:
            embed_texts(
                ["a"], make_embedder(), cache=None, concurrency=concurrency,
                progress=stop_on_wait,
            )  # fmt: skip
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=50)  # a guard against hanging only: the cap alone would take 60 s
    assert not worker.is_alive(), "the Retry-After wait could not be stopped"
    assert len(outcome) == 1 and isinstance(outcome[0], StopJob)
    assert notes == ["waiting 60 s: the server asked for 3600 s"]
    assert [r.status for r in openai_server.log] == [429]  # never retried: the wait was cut


# --- what a failed job says ------------------------------------------------------------------
def test_a_failed_one_text_job_says_the_text_was_not_embedded(make_embedder):
    with pytest.raises(EmbeddingJobError) as caught:
        embed_texts(["hello"], make_embedder(api_key="sk-wrong-000000000"), cache=None)
    message = str(caught.value)
    assert KEY_REJECTED in message
    assert message.endswith(
        " — the text was not embedded; nothing is lost — fix the problem and try again."
    )
    assert (caught.value.n_done, caught.value.n_total) == (0, 1)


def test_blank_texts_are_not_counted_as_embedded(make_embedder, tmp_cache):
    texts = ["", "  ", *[f"t{i}" for i in range(10)]]
    with pytest.raises(EmbeddingJobError) as caught:
        embed_texts(texts, make_embedder(api_key="sk-wrong-000000000"), cache=tmp_cache)
    assert str(caught.value).endswith(
        " — none of the 10 texts was embedded (2 blank text(s) need no request); nothing is "
        "lost — fix the problem and try again."
    )


def test_batches_finished_after_the_error_are_counted_and_kept(
    make_embedder, openai_server, tmp_cache
):
    """204 texts, 4 of them blank, in 4 requests of 50 in flight together; the last request to
    arrive is refused while the other three are still being answered: they finish, are cached
    and are counted (the old message said "4 of 204" with 150 cached)."""
    openai_server.latency_ms = 300
    texts = ["", "", "", "", *[f"doc {i}" for i in range(200)]]
    embedder = make_embedder()
    openai_server.inject(None, None, None, Fault.unauthorized())
    with pytest.raises(EmbeddingJobError) as caught:
        embed_texts(texts, embedder, batch_size=50, concurrency=4, cache=tmp_cache)
    assert str(caught.value).endswith(
        " — 150 of 200 texts are embedded and kept in the cache (4 blank text(s) need no "
        "request); rerunning sends only the remaining 50."
    )
    assert (caught.value.n_done, caught.value.n_total) == (150, 200)
    assert tmp_cache.count(embedder.cache_key) == 150
    openai_server.reset_log()
    openai_server.latency_ms = 0
    result = embed_texts(texts, embedder, batch_size=50, cache=tmp_cache)
    assert sum(r.n_inputs for r in openai_server.log) == 50
    assert result.n_cached == 150


def test_without_a_cache_the_message_says_nothing_was_kept(make_embedder, openai_server):
    openai_server.inject(None, Fault.unauthorized())
    texts = [f"s{i}" for i in range(20)]
    with pytest.raises(EmbeddingJobError) as caught:
        embed_texts(texts, make_embedder(), batch_size=10, concurrency=1, cache=None)
    assert str(caught.value).endswith(
        " — 10 of 20 texts were embedded but not kept (cache=None); rerunning sends all 20 again."
    )


def test_every_job_message_wording_is_pinned():
    exc = OpenAIRequestError("boom")
    assert job_error_message(exc, 1, 0, 0, True) == (
        "boom — the text was not embedded; nothing is lost — fix the problem and try again."
    )
    assert job_error_message(exc, 5, 1, 0, False) == (
        "boom — none of the 4 texts was embedded (1 blank text(s) need no request); nothing is "
        "lost — fix the problem and try again."
    )
    assert job_error_message(exc, 2_000, 0, 1_500, True) == (
        "boom — 1,500 of 2,000 texts are embedded and kept in the cache; rerunning sends only "
        "the remaining 500."
    )
    assert job_error_message(exc, 30, 0, 10, False) == (
        "boom — 10 of 30 texts were embedded but not kept (cache=None); rerunning sends all 30 "
        "again."
    )


def test_a_non_dict_usage_keeps_the_paid_vectors(make_embedder, openai_server, tmp_cache):
    texts = [f"paid {i}" for i in range(150)]
    embedder = make_embedder()
    openai_server.inject(None, Fault.malformed_usage(), None)
    result = embed_texts(texts, embedder, batch_size=50, concurrency=1, cache=tmp_cache)
    assert [r.fault for r in openai_server.log] == [None, "bad_usage", None]
    assert_allclose(result.vectors, reference(texts), atol=1e-6)
    assert tmp_cache.count(embedder.cache_key) == 150
    assert result.tokens_used == sum(r.tokens for r in openai_server.log)  # counted instead


@pytest.mark.parametrize("concurrency", [1, 4])
def test_ctrl_c_interrupts_a_retry_after_wait(make_embedder, openai_server, concurrency):
    """A real SIGINT, sent from another thread once the wait is reported, reaches the main
    thread inside the capped 60 s wait: KeyboardInterrupt at once, no retry sent."""
    import os
    import signal

    openai_server.inject(Fault.rate_limit(3600))
    # Python's own Ctrl-C handler, whatever an earlier test (Streamlit, Playwright) installed.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    waiting = threading.Event()
    sender = threading.Thread(
        target=lambda: waiting.wait(30) and os.kill(os.getpid(), signal.SIGINT), daemon=True
    )
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            embed_texts(
                ["a"], make_embedder(), cache=None, concurrency=concurrency,
                progress=lambda p: p.note and waiting.set(),
            )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    sender.join(5)
    assert waiting.is_set()
    assert [r.status for r in openai_server.log] == [429]
