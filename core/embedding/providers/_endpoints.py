"""Which OpenAI-compatible endpoints a visitor of a shared app may make the server call.

A base URL typed by a visitor makes the *server* send HTTP requests. Two things follow:

- the operator's key (secrets or environment) never goes with it: a visitor-chosen endpoint is
  used only with a key that visitor typed (the dashboard enforces that in ``ui.secrets``);
- the address is checked before any request (:func:`check_visitor_endpoint`): only ``http`` or
  ``https``, no user info in the URL, and by default only hosts whose every address is public, so
  a visitor cannot reach the host's loopback, private network or cloud metadata service (SSRF).

The operator chooses the policy with ``WORKBENCH_CUSTOM_ENDPOINTS`` (environment or
``.streamlit/secrets.toml``): ``public`` (the default), ``any`` (also loopback and private
addresses: for an app you run on your own machine next to a local server), or ``off``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpcore
import httpx

from core.errors import EndpointRefusedError

POLICY_NAME = "WORKBENCH_CUSTOM_ENDPOINTS"
POLICIES = ("public", "any", "off")
DEFAULT_POLICY = "public"


def parse_policy(value: str | None) -> str:
    """The endpoint policy named by ``value`` (None or "" means the default)."""
    policy = (value or "").strip().lower() or DEFAULT_POLICY
    if policy not in POLICIES:
        raise EndpointRefusedError(
            f"{POLICY_NAME}={value!r} is not a policy; use one of: {', '.join(POLICIES)}"
        )
    return policy


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _internal_addresses(host: str, port: int) -> tuple[list[str], list[str]]:
    """(all addresses of ``host``, those that are not public); raises EndpointRefusedError."""
    try:
        literal = str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        pass  # a name: resolve it
    else:
        return [literal], [] if _is_public(literal) else [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EndpointRefusedError(
            f"the host {host!r} in the Base URL could not be found ({exc}): check the address"
        ) from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    return addresses, [a for a in addresses if not _is_public(a)]


def _internal_message(host: str, internal: list[str]) -> str:
    return (
        f"the Base URL's host {host!r} is an internal address ({', '.join(internal)}): this "
        "shared app only calls servers on the public internet. To use a server on your own "
        f"machine or network, run the app yourself with {POLICY_NAME}=any"
    )


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Connects only to public addresses, checked on the address actually dialled.

    Checking the URL once is not enough: DNS can answer differently at connect time
    (rebinding). Here the name is resolved once, every address checked, and the socket opened
    to a checked address; TLS still verifies the certificate against the host name.
    """

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses, internal = _internal_addresses(host, port)
        if internal:
            raise httpcore.ConnectError(_internal_message(host, internal))
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


def public_only_http_client(timeout: float) -> httpx.Client:
    """An HTTP client for visitor endpoints: public addresses only, no redirects, no env proxy.

    Redirects are not followed (a public server could otherwise send the request on to an
    internal one); proxies from the environment are ignored so the address check applies to
    the server itself.
    """
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its pool without a way to pass a network backend; this is the pool it would
    # build, with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_PublicOnlyBackend()
    )
    return httpx.Client(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )


def check_visitor_endpoint(base_url: str, policy: str = DEFAULT_POLICY) -> str:
    """Validate a base URL typed by a visitor; returns it normalised (no trailing slash).

    Parameters
    ----------
    base_url : str
        What the visitor typed, e.g. ``https://my-server.example/v1``.
    policy : {"public", "any", "off"}
        ``public``: every address the host resolves to must be a public one.

    Raises
    ------
    EndpointRefusedError
        Not http(s), credentials in the URL, no host, a host that does not resolve, or (policy
        ``public``) a host with a loopback, private, link-local or otherwise internal address.
    """
    policy = parse_policy(policy)
    text = base_url.strip()
    if policy == "off":
        raise EndpointRefusedError(
            "custom endpoints are switched off on this server: clear the Base URL box to use "
            "OpenAI or the offline model"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise EndpointRefusedError(f"the Base URL {text!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise EndpointRefusedError(
            f"the Base URL must start with http:// or https:// (got {text!r}), "
            "for example https://my-server.example/v1"
        )
    if parts.username is not None or parts.password is not None:
        raise EndpointRefusedError(
            "the Base URL must not contain a user name or password: paste the key in the "
            "API key box instead"
        )
    host = parts.hostname
    if not host:
        raise EndpointRefusedError(f"the Base URL {text!r} has no host name")
    if policy == "public":
        _, internal = _internal_addresses(host, port or (443 if parts.scheme == "https" else 80))
        if internal:
            raise EndpointRefusedError(_internal_message(host, internal))
    return text.rstrip("/")
