"""Hostile clients against the local OpenAI-compatible server (issue 9, finding 11): raw HTTP
over real sockets, so malformed framing reaches the handler exactly as sent."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import pytest

from tests.fixtures_openai import TEST_API_KEY

SMALL = "text-embedding-3-small"


def raw_request(server, head: str, body: bytes = b"", timeout: float = 10.0) -> bytes:
    """Send ``head`` (request line + headers) and ``body`` as-is; the whole reply (or b"")."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)  # no more data: a server waiting for more sees EOF
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def headers(length: str, extra: str = "") -> str:
    return (
        "POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TEST_API_KEY}\r\nContent-Length: {length}\r\n{extra}"
    )


def status_and_error(reply: bytes) -> tuple[int, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)["error"]


@pytest.mark.parametrize("dims", [True, False, 1.5, "8", [8]])
def test_a_dimensions_that_is_not_an_integer_is_a_400(openai_server, dims):
    body = json.dumps({"model": SMALL, "input": ["a"], "dimensions": dims}).encode()
    status, error = status_and_error(raw_request(openai_server, headers(str(len(body))), body))
    assert status == 400
    assert error["message"] == "dimensions must be an integer from 1 to 1536."


@pytest.mark.parametrize(
    ("length", "status", "message"),
    [
        ("abc", 400, "Invalid Content-Length header: 'abc'."),
        ("-1", 400, "Invalid Content-Length header: '-1'."),
        ("99999999999", 413, "Request body of 99999999999 bytes is over the 67108864-byte limit."),
    ],
)
def test_a_bad_content_length_is_answered_not_dropped_or_hung(
    openai_server, length, status, message
):
    reply = raw_request(openai_server, headers(length), b'{"model": "x"}')
    code, error = status_and_error(reply)
    assert (code, error["message"]) == (status, message)
    assert openai_server.log[-1].status == status


def test_a_burst_of_60_clients_resets_no_connection(openai_server):
    """60 threads connect at the same instant (a barrier) and each sends one request: every
    one is answered (the default listen backlog of 5 reset a quarter of them)."""
    body = json.dumps({"model": SMALL, "input": ["burst"], "dimensions": 8})
    barrier = threading.Barrier(60)
    outcomes: list[object] = []
    lock = threading.Lock()

    def one():
        barrier.wait()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", openai_server.port, timeout=60)
            conn.request("POST", "/v1/embeddings", body,
                         {"Authorization": f"Bearer {TEST_API_KEY}",
                          "Content-Type": "application/json"})  # fmt: skip
            result: object = conn.getresponse().status
            conn.close()
        except OSError as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [200] * 60
