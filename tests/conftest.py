"""Test-wide set-up: no test may reach beyond this machine.

Every socket connection to a non-loopback address, and every DNS lookup of a name other than
localhost, raises at once — so a code path that would call OpenAI, Hugging Face or tiktoken's
download server fails loudly instead of hanging or silently passing.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import numpy as np
import pytest

pytest_plugins = ["tests.fixtures_openai"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class NetworkBlockedError(RuntimeError):
    """A test tried to leave the machine."""


def _is_loopback(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _checked(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise NetworkBlockedError(f"test tried to connect to {address!r}; tests run offline")


def _guarded_connect(self, address):
    _checked(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _checked(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host.decode() if isinstance(host, bytes) else host):
        raise NetworkBlockedError(f"test tried to resolve {host!r}; tests run offline")
    return _real_getaddrinfo(host, *args, **kwargs)


def _install_guard() -> None:
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo


def pytest_configure(config):
    _install_guard()


@pytest.fixture(autouse=True)
def _network_guard():
    """Re-install the guard before every test: pytest-socket (pulled in by langchain-tests)
    restores the original ``socket.socket.connect`` after each test, which would lift it."""
    _install_guard()


@pytest.fixture
def rng():
    """A seeded generator: every random test input is reproducible."""
    return np.random.default_rng(20261125)


@pytest.fixture(autouse=True)
def library_surface():
    """Messages name a Python caller's arguments unless a test runs the app or the CLI (which
    set their own surface): one test's surface never leaks into the next."""
    from core.surface import set_surface

    set_surface("library")
    yield
    set_surface("library")
