import socket

import pytest

from tests.conftest import NetworkBlockedError


def test_connecting_outside_the_machine_fails_loudly():
    with (
        pytest.raises(NetworkBlockedError, match="tests run offline"),
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
    ):
        sock.connect(("93.184.216.34", 443))


def test_resolving_a_public_name_fails_loudly():
    with pytest.raises(NetworkBlockedError, match=r"api\.openai\.com"):
        socket.getaddrinfo("api.openai.com", 443)


def test_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5) as client:
            assert client.getpeername() == server.getsockname()


def test_the_guard_is_still_up_after_other_tests():
    # A plugin that restores socket.connect after each test (pytest-socket does) would let this
    # connection through; the first test of this module alone cannot notice that.
    with (
        pytest.raises(NetworkBlockedError, match="tests run offline"),
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
    ):
        sock.connect(("93.184.216.34", 443))
