"""Stripe's parameters: read, refused by name when unknown, and the checks several
endpoints share."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from relink_api.sandbox.wire import check_known, form_params, invalid

# ``account_holder`` as sessions take it and account lists filter by it.
ACCOUNT_HOLDER = {"type": True, "customer": True, "customer_account": True, "account": True}
# Schemes that would run code, or read local files, when the hosted page sends the customer
# back; Stripe refuses them as return URLs.
_UNSAFE_SCHEMES = {"javascript", "data", "vbscript", "file", "blob"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# Printable ASCII, no spaces: the URL goes out verbatim in a Location header.
_URL_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")
# Stripe's metadata limits.
_METADATA_KEYS = 50
_METADATA_KEY_LENGTH = 40
_METADATA_VALUE_LENGTH = 500


async def read_params(request: Request, allowed: dict[str, Any]) -> dict[str, Any]:
    """The request's params, refused as Stripe refuses them when ``allowed`` lacks one."""
    params = await form_params(request)
    check_known(params, allowed)
    return params


def expand(params: dict[str, Any]) -> list[str]:
    """``expand[]``: the fields to return whole rather than as ids."""
    raw = params.get("expand")
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return raw
    raise invalid("expand must be an array of strings.", param="expand")


async def retrieve_params(request: Request) -> list[str]:
    """Retrieve endpoints take only `expand` (returned); Stripe refuses anything else by name."""
    return expand(await read_params(request, {"expand": True}))


def required(value: Any, param: str, message: str) -> Any:
    """``value``, unless it is missing or empty: then Stripe's ``parameter_missing``."""
    if not value:
        raise invalid(message, param=param, code="parameter_missing")
    return value


def page_limit(params: dict[str, Any]) -> int:
    """A list's ``limit``: 1 to 100, 10 when not given."""
    raw_limit = params.get("limit", "10")
    if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= 100:
        raise invalid("limit must be an integer between 1 and 100.", param="limit")
    return int(raw_limit)


def metadata(raw: Any) -> dict[str, str]:
    """Stripe's metadata: a hash of strings within Stripe's limits; an empty value unsets."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, list):
        # Keys 0…n-1 arrive looking like an array; to Stripe they are still keys.
        raw = {str(index): value for index, value in enumerate(raw)}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise invalid("metadata must be a hash of strings.", param="metadata")
    if len(raw) > _METADATA_KEYS:
        raise invalid(f"metadata can have at most {_METADATA_KEYS} keys.", param="metadata")
    for key, value in raw.items():
        if len(key) > _METADATA_KEY_LENGTH or len(value) > _METADATA_VALUE_LENGTH:
            raise invalid(
                f"metadata keys are at most {_METADATA_KEY_LENGTH} characters and values at "
                f"most {_METADATA_VALUE_LENGTH}.",
                param=f"metadata[{key}]",
            )
    return {key: value for key, value in raw.items() if value != ""}


def check_return_url(value: Any) -> str:
    """A ``return_url`` Stripe would take: an absolute URL that cannot run code."""
    if not isinstance(value, str) or not value:
        raise invalid("return_url must be a URL.", param="return_url")
    scheme = _SCHEME.match(value)
    try:
        netloc = urlsplit(value).netloc
    except ValueError:  # an unbalanced IPv6 bracket, say
        netloc = ""
        scheme = None
    if (
        len(value) > 2048
        or not _URL_CHARACTERS.match(value)
        or scheme is None
        or scheme.group(1).lower() in _UNSAFE_SCHEMES
        or (scheme.group(1).lower() in ("http", "https") and not netloc)
    ):
        raise invalid(f"Not a valid URL: {value[:200]}", param="return_url")
    return value
