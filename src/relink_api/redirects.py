"""Return URLs: only exact allowlisted origins and app schemes, never an open redirect."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Schemes that run code or read local data when navigated to; never allowed, even listed.
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")


class InvalidAllowlistEntry(ValueError):
    pass


def normalize_allowlist_entry(entry: str) -> str:
    """``https://host[:port]`` (an exact origin) or ``scheme://`` (a mobile app scheme)."""
    value = entry.strip()
    lowered = value.lower()
    if lowered.endswith("://") and _SCHEME.match(lowered[:-3]):
        scheme = lowered[:-3]
        if scheme in _FORBIDDEN_SCHEMES or scheme in ("http", "https"):
            raise InvalidAllowlistEntry(f"{entry!r} is not an allowed app scheme.")
        return lowered
    origin = _origin(value)
    if origin is None or origin != lowered.rstrip("/"):
        raise InvalidAllowlistEntry(
            f"{entry!r} must be an origin such as https://app.example.com (no path) "
            "or an app scheme such as myapp://."
        )
    return origin


def _origin(url: str) -> str | None:
    if _UNSAFE_CHARACTERS.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    # userinfo (https://good.example@evil.example) is a classic allowlist bypass.
    if "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def is_allowed_return_url(url: str, allowlist: list[str]) -> bool:
    """Whether ``url`` may be handed to Stripe as a place to send the customer back to."""
    if not url or len(url) > 2048 or _UNSAFE_CHARACTERS.search(url):
        return False
    origin = _origin(url)
    if origin is not None:
        return origin in allowlist
    scheme, sep, _rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not _SCHEME.match(scheme) or scheme in _FORBIDDEN_SCHEMES:
        return False
    if scheme in ("http", "https"):
        return False
    return f"{scheme}://" in allowlist
