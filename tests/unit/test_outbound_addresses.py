"""Which endpoint URLs and which resolved addresses outbound deliveries may go to (SSRF)."""

from __future__ import annotations

import ipaddress

import pytest

from relink_api.outbound.addresses import check_endpoint_url, forbidden_reason, vetted_address
from relink_api.outbound.errors import AddressRefused, EndpointUrlInvalid


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback (an IPv6 form of 127.0.0.1)"),
        ("::ffff:169.254.169.254", "link-local (an IPv6 form of 169.254.169.254)"),
        ("2002:0a00:0001::1", "private (an IPv6 form of 10.0.0.1)"),
        ("64:ff9b::a00:1", "private (an IPv6 form of 10.0.0.1)"),
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("::ffff:93.184.216.34", None),
    ],
)
def test_forbidden_reason(address: str, reason: str | None) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "https://u:p@hooks.example.com/x",
        "https://u@hooks.example.com/x",
        "https://hooks.example.com/x#f",
        "https://10.0.0.1/x",
        "https://[fe80::1]/x",
        "https://169.254.169.254/x",
        "https://localhost/x",
        "https://hooks.example.com:99999/x",
        "https:///x",
        "file:///etc/passwd",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/" + "a" * 2048,
    ],
)
def test_registration_refuses(url: str) -> None:
    with pytest.raises(EndpointUrlInvalid):
        check_endpoint_url(url, allow_private=False)


def test_registration_accepts_public_https() -> None:
    check_endpoint_url("https://hooks.example.com:8443/relink?x=1", allow_private=False)
    check_endpoint_url("https://93.184.216.34/relink", allow_private=False)


def test_development_allows_http_only_to_loopback() -> None:
    for url in ("http://127.0.0.1:9000/x", "http://localhost:9000/x", "http://[::1]/x"):
        check_endpoint_url(url, allow_private=True)
        with pytest.raises(EndpointUrlInvalid):
            check_endpoint_url(url, allow_private=False)
    check_endpoint_url("https://10.0.0.1/x", allow_private=True)
    for url in ("http://10.0.0.1/x", "http://hooks.example.com/x", "https://u@127.0.0.1/x"):
        with pytest.raises(EndpointUrlInvalid):
            check_endpoint_url(url, allow_private=True)


async def test_a_literal_address_is_vetted_without_resolving() -> None:
    with pytest.raises(AddressRefused, match="link-local"):
        await vetted_address("169.254.169.254", 443, allow_private=False)
    assert await vetted_address("127.0.0.1", 80, allow_private=True) == ipaddress.ip_address(
        "127.0.0.1"
    )
