"""Where a webhook may be sent. In production: HTTPS only, and never to a loopback, private,
link-local or otherwise non-public address, checked on the addresses the name resolves to (when
subscribing and again before each delivery, so a name re-pointed since is caught; redirects are
never followed). In development anything HTTP(S) goes, so a test can receive on loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

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
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
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
            raise WebhookTargetRefused(
                f"{host} resolves to {address}: a loopback, private or link-local address "
                "is never a webhook's target.",
                field="url",
            )


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is no part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
