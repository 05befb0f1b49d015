import pytest
from django.test import RequestFactory

from accounts.network import client_address


def request(remote: str = "10.0.0.1", forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_a_proxy_it_is_the_peer_even_with_a_header(settings):
    settings.KEYHOUSE_BEHIND_PROXY = False
    assert client_address(request("10.0.0.1", "203.0.113.7")) == "10.0.0.1"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (1, "evil, 198.51.100.1 ,203.0.113.7", "203.0.113.7"),
        (2, "198.51.100.1, 203.0.113.7, 10.9.0.1", "203.0.113.7"),
        # A chain shorter than the proxy count was written by the proxies alone.
        (3, "203.0.113.7, 10.9.0.1", "203.0.113.7"),
        (1, "2001:DB8::0001", "2001:db8::1"),
        (1, "::ffff:203.0.113.7", "203.0.113.7"),
        # No usable entry: the peer address.
        (1, "", "10.0.0.1"),
        (1, " , ", "10.0.0.1"),
        (1, "203.0.113.7, not-an-address", "10.0.0.1"),
    ],
)
def test_behind_proxies_it_counts_trusted_hops_from_the_right(settings, count, forwarded, expected):
    settings.KEYHOUSE_BEHIND_PROXY = True
    settings.KEYHOUSE_PROXY_COUNT = count
    assert client_address(request("10.0.0.1", forwarded)) == expected


def test_behind_a_proxy_without_the_header_it_is_the_peer(settings):
    settings.KEYHOUSE_BEHIND_PROXY = True
    assert client_address(request("10.0.0.1")) == "10.0.0.1"


def test_an_unknown_peer_is_none(settings):
    assert client_address(request("")) is None
