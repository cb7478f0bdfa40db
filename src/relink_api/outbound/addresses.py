"""Where deliveries may go (SSRF): endpoint URLs are checked when they are registered, and
the addresses their host resolves to are checked again before every delivery, since a name
can point anywhere by then."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from relink_api.outbound.errors import AddressRefused, EndpointUrlInvalid
from relink_api.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
# NAT64's well-known prefix (RFC 6052): the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def allows_private(settings: Settings) -> bool:
    """Development: the setting, or the sandbox, lets deliveries reach loopback and private
    addresses (and http:// loopback URLs)."""
    return settings.outbound_allow_private_addresses or settings.sandbox


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo client, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a delivery may not go to ``address`` (``None``: a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = forbidden_reason(embedded)
            return f"{reason} (an IPv6 form of {embedded})" if reason else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        # Shared address space (100.64.0.0/10), documentation ranges and the like.
        ("non-public", not address.is_global),
    )
    return next((name for name, applies in checks if applies), None)


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one (``[…]`` and an IPv6 zone allowed)."""
    try:
        return ipaddress.ip_address(host.strip("[]").partition("%")[0])
    except ValueError:
        return None


def _is_loopback_host(host: str) -> bool:
    address = literal_address(host)
    if address is None:
        return host.lower().rstrip(".") in _LOOPBACK_NAMES
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _split(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise EndpointUrlInvalid(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise EndpointUrlInvalid("The URL may not contain spaces or control characters.")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise EndpointUrlInvalid("The URL's port is not a number from 1 to 65535.") from None
    return parts


def check_endpoint_url(url: str, *, allow_private: bool) -> None:
    """Refuse (``EndpointUrlInvalid``) a URL deliveries may not go to: anything but https
    (http only for a loopback host, and only with ``allow_private``), user names and
    passwords, fragments, and literal addresses that are not public (unless
    ``allow_private``)."""
    parts = _split(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise EndpointUrlInvalid("The URL must be an absolute https:// URL with a host.")
    if "@" in parts.netloc:
        raise EndpointUrlInvalid("The URL may not carry a user name or password.")
    if "#" in url:
        raise EndpointUrlInvalid("The URL may not have a fragment (#…).")
    host = parts.hostname
    if parts.scheme == "http" and not (allow_private and _is_loopback_host(host)):
        raise EndpointUrlInvalid(
            "The URL must use https; http:// is accepted only for a loopback host in "
            "development (RELINK_OUTBOUND_ALLOW_PRIVATE_ADDRESSES)."
        )
    if allow_private:
        return
    address = literal_address(host)
    reason = forbidden_reason(address) if address is not None else None
    if reason is not None:
        raise EndpointUrlInvalid(f"The URL's host is a {reason} address, not a public one.")
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        raise EndpointUrlInvalid("The URL's host is a loopback name, not a public one.")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in found:
            found.append(address)
    return found


async def vetted_address(host: str, port: int, *, allow_private: bool) -> IPAddress:
    """The address to connect to for ``host``: refused (``AddressRefused``) when the name
    does not resolve, or when ANY address it resolves to is not public (unless
    ``allow_private``). The caller connects to this address, never resolving again."""
    address = literal_address(host)
    if address is not None:
        candidates = [address]
    else:
        try:
            candidates = await resolve(host, port)
        except OSError as exc:
            raise AddressRefused(f"{host} does not resolve ({exc})") from None
        if not candidates:
            raise AddressRefused(f"{host} resolves to no address")
    if not allow_private:
        for candidate in candidates:
            reason = forbidden_reason(candidate)
            if reason is not None:
                raise AddressRefused(
                    f"{host} resolves to {candidate}, a {reason} address; refused "
                    "(RELINK_OUTBOUND_ALLOW_PRIVATE_ADDRESSES is off)"
                )
    return candidates[0]
