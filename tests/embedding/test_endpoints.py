"""Visitor endpoints: the address policy, checked on the URL and again on every connection."""

from __future__ import annotations

import httpx
import pytest

from core.embedding.providers._endpoints import (
    EndpointRefusedError,
    check_visitor_endpoint,
    parse_policy,
    public_only_http_client,
)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/v1", r"internal address \(127\.0\.0\.1\)"),
        ("http://127.1.2.3/v1", r"internal address"),
        ("http://localhost:11434/v1", r"'localhost' is an internal address"),
        ("http://[::1]:8000/v1", r"internal address \(::1\)"),
        ("http://[::ffff:127.0.0.1]/v1", r"internal address"),
        ("http://169.254.169.254/latest/meta-data", r"internal address"),
        ("http://10.0.0.7/v1", r"internal address"),
        ("http://192.168.1.2/v1", r"internal address"),
        ("http://100.64.0.1/v1", r"internal address"),
        ("http://0.0.0.0:80/v1", r"internal address"),
        ("ftp://example.com/v1", r"must start with http:// or https://"),
        ("file:///etc/passwd", r"must start with http:// or https://"),
        ("http://user:pw@example.com/v1", r"must not contain a user name or password"),
        ("http:///v1", r"has no host name"),
        ("http://example.com:99999/v1", r"is not a valid URL"),
    ],
)
def test_internal_and_malformed_urls_are_refused(url, reason):
    with pytest.raises(EndpointRefusedError, match=reason):
        check_visitor_endpoint(url)


def test_public_literal_is_accepted_and_normalised():
    assert check_visitor_endpoint(" https://93.184.215.14/v1/ ") == "https://93.184.215.14/v1"


def test_policy_any_accepts_loopback_and_off_refuses_all():
    assert check_visitor_endpoint("http://127.0.0.1:8000/v1/", "any") == "http://127.0.0.1:8000/v1"
    with pytest.raises(EndpointRefusedError, match="switched off on this server"):
        check_visitor_endpoint("https://93.184.215.14/v1", "off")


def test_unknown_policy_names_the_valid_ones():
    assert parse_policy(None) == "public"
    assert parse_policy(" ANY ") == "any"
    with pytest.raises(EndpointRefusedError, match="use one of: public, any, off"):
        parse_policy("loose")


def test_connection_to_an_internal_address_is_refused_at_connect_time(openai_server):
    """The URL check can be fooled by DNS that changes its answer; the dialled address cannot."""
    client = public_only_http_client(5.0)
    assert client.follow_redirects is False
    with pytest.raises(httpx.ConnectError, match=r"internal address \(127\.0\.0\.1\)"):
        client.post(f"{openai_server.base_url}/embeddings", json={"input": ["x"]})
    assert openai_server.log == []  # nothing reached the server
