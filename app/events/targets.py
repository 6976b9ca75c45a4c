"""Where a webhook may be sent. In production: HTTPS only, and never to a loopback, private,
link-local or otherwise non-public address, checked on the addresses the name resolves to (when
subscribing and again before each delivery, so a name re-pointed since is caught; redirects are
never followed). In development anything HTTP(S) goes, so a test can receive on loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import httpx

from app.errors import DomainError

Resolver = Callable[[str, int], Sequence[str]]


class WebhookTargetRefused(DomainError):
    status = 422
    code = "webhook-target-refused"
    title = "Webhooks cannot be sent there"


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (any family)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in found})


def check_target(url: str, *, public_only: bool, resolver: Resolver = resolve) -> None:
    """Refuse (`WebhookTargetRefused`) a URL webhooks may not be sent to."""
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        # What an HTTP client would refuse at delivery time is refused now (IDN hosts: send
        # their ASCII, `xn--`, form).
        raise WebhookTargetRefused(
            "The URL is plain ASCII, without spaces or control characters.", field="url"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise WebhookTargetRefused("The URL is not well formed.", field="url") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookTargetRefused("Webhooks go to an http:// or https:// URL.", field="url")
    if parts.username is not None or parts.password is not None:
        raise WebhookTargetRefused(
            "The URL may not carry credentials: verify the signature instead.", field="url"
        )
    if parts.fragment:
        raise WebhookTargetRefused("The URL may not have a fragment (#...).", field="url")
    if not public_only:
        return
    if parts.scheme != "https":
        raise WebhookTargetRefused("Webhooks go to https:// URLs only.", field="url")
    host = parts.hostname
    try:
        addresses = resolver(host, port or 443)
    except (OSError, UnicodeError):
        raise WebhookTargetRefused(f"The name {host} does not resolve.", field="url") from None
    if not addresses:
        raise WebhookTargetRefused(f"The name {host} does not resolve.", field="url")
    for address in addresses:
        if not _public(address):
            # Which address is not said: the refusal is no way to learn what a name inside
            # the network resolves to.
            raise WebhookTargetRefused(
                f"{host} resolves to a loopback, private or link-local address: never a "
                "webhook's target.",
                field="url",
            )


# Not globally reachable, from IANA's special-purpose address registries (IPv4 and IPv6),
# spelt out: `ipaddress.is_global` on Python 3.11 lets some through (192.0.0.8, ::ffff:0:0:0/96).
_SPECIAL_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)  # fmt: skip
_SPECIAL_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::1/128", "::/128", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7",
        "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
# IPv6 prefixes whose last 32 bits are an IPv4 address a translator or tunnel may deliver to:
# IPv4-mapped and -translated (RFC 4291, RFC 2765), NAT64's well-known and local-use prefixes
# (RFC 6052, RFC 8215) and the deprecated IPv4-compatible form (RFC 4291).
_EMBEDDING_V4 = tuple(
    ipaddress.IPv6Network(n)
    for n in ("::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "::/96")
)


def _public(address: str) -> bool:
    """A globally reachable unicast address, and so is every IPv4 address it carries
    (IPv4-mapped or -translated, NAT64, 6to4, Teredo, IPv4-compatible)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is no part of it
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.is_global and not any(ip in network for network in _SPECIAL_V4)
    if any(ip in network for network in _EMBEDDING_V4):
        return _public(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    if ip.sixtofour is not None:
        return _public(str(ip.sixtofour))
    return ip.is_global and not any(ip in network for network in _SPECIAL_V6)
