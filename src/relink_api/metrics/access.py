"""Who may scrape ``/metrics``: a caller on this machine, or an operator with an admin key.

Behind a reverse proxy on the same host every connection comes from loopback, so a request
that carries ``Forwarded`` or ``X-Forwarded-For`` is never taken for a local one, whatever
its address: it came through a proxy, from anywhere. (When uvicorn trusts the proxy, it has
already put the real client's address in the scope.)
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Request, Security

from relink_api.web.deps import ADMIN_KEY_SCHEME, authenticate_operator

_FORWARDING_HEADERS = frozenset({b"forwarded", b"x-forwarded-for"})


def from_loopback(request: Request) -> bool:
    """Whether the request came straight from this machine (127.0.0.0/8 or ::1)."""
    if request.client is None:
        return False
    if any(name in _FORWARDING_HEADERS for name, _ in request.scope["headers"]):
        return False
    try:
        address = ipaddress.ip_address(request.client.host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


async def scraper(request: Request, key: Annotated[str | None, Security(ADMIN_KEY_SCHEME)]) -> None:
    """Let loopback callers through; anyone else needs an admin key, checked (and each
    failed guess throttled) exactly as on the operator API."""
    if from_loopback(request):
        return
    await authenticate_operator(request, key)
