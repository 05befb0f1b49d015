"""Where a request comes from."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The address of the client that sent ``request``, normalised (``None`` if unknown).

    Without ``KEYHOUSE_BEHIND_PROXY`` it is the connection's peer, ``REMOTE_ADDR``. Behind
    ``KEYHOUSE_PROXY_COUNT`` proxies that each append their peer's address to
    ``X-Forwarded-For``, the client is the entry that many places from the right: the first
    proxy wrote it, and everything left of it is whatever the client chose to send, so a forged
    header never picks another client's address. A header that is absent, or whose entry is
    not an IP address, leaves ``REMOTE_ADDR``; a chain shorter than the proxy count (a proxy
    that replaces the header instead of appending) counts from its left-most entry.
    """
    remote = _normalised(request.META.get("REMOTE_ADDR", ""))
    if not settings.KEYHOUSE_BEHIND_PROXY:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if not hops:
        return remote
    return _normalised(hops[-min(settings.KEYHOUSE_PROXY_COUNT, len(hops))]) or remote


def _normalised(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # One client, one spelling: "::ffff:192.0.2.1" is 192.0.2.1 over an IPv6 socket.
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def public_base_url(request: HttpRequest) -> str:
    """Where people reach this server, for links sent by e-mail: ``KEYHOUSE_PUBLIC_URL``, or
    else the address this request came to."""
    return settings.KEYHOUSE_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")
