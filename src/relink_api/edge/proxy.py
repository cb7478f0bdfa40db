"""Which reverse proxies are believed when they say who the client is and that it used https."""

from __future__ import annotations

import ipaddress


class InvalidProxyEntry(ValueError):
    pass


def normalize_proxy_entries(texts: list[str]) -> list[str]:
    """``10.0.0.0/8``, ``127.0.0.1`` (or ``*``) as the list uvicorn's ``forwarded_allow_ips``
    takes."""
    entries: list[str] = []
    for text in texts:
        if text == "*":
            entries.append(text)
            continue
        try:
            entries.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise InvalidProxyEntry(
                f"{text!r} is neither an IP address, a network (10.0.0.0/8) nor *."
            ) from None
    # uvicorn trusts everyone only when ``*`` stands alone.
    return ["*"] if "*" in entries else entries
