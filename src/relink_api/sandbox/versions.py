"""Stripe's API versions: which exist, which one a request or a webhook is answered at, and
what an object looks like at each (docs/stripe.md §8)."""

from __future__ import annotations

from typing import Any, get_args

from stripe.params import WebhookEndpointCreateParams

from relink_api.settings import DEFAULT_STRIPE_API_VERSION

# Every release Stripe has made, as the SDK lists them for a webhook endpoint's version.
RELEASES: frozenset[str] = frozenset(
    get_args(get_args(WebhookEndpointCreateParams.__annotations__["api_version"])[0])
)
# The previews the SDK's preview releases were pinned to (docs/stripe.md §8).
PREVIEWS = frozenset(
    f"{day}.preview"
    for day in (
        "2026-01-28",
        "2026-02-25",
        "2026-03-25",
        "2026-04-22",
        "2026-05-27",
        "2026-06-24",
        "2026-07-29",
        "2026-08-26",
        "2026-09-30",
    )
)
KNOWN = RELEASES | PREVIEWS | {DEFAULT_STRIPE_API_VERSION}
# What a request without Stripe-Version is answered at: the account's default, which on
# Stripe is a release (a preview is only ever asked for by name). The newest release.
ACCOUNT_DEFAULT = "2026-09-30.endive"

# Fields Stripe renders only from some version on, by object: (first preview, first
# release or None when no release has it yet). The relink fields are preview-only.
_SINCE: dict[str, dict[str, tuple[str, str | None]]] = {
    "financial_connections.account": {
        "authorization": ("2026-01-28", None),
        "status_details": ("2026-01-28", None),
        "account_numbers": ("2026-01-28", "2025-11-17"),
    },
    "financial_connections.session": {
        "relink_options": ("2026-01-28", None),
        "relink_result": ("2026-01-28", None),
        "hosted": ("2026-03-25", None),
        "ui_mode": ("2026-03-25", None),
        "url": ("2026-03-25", None),
    },
}
# `status_details.active` (an upcoming deactivation) on accounts and authorizations.
_ACTIVE_DETAILS_SINCE = "2026-06-24"
_WITH_STATUS_DETAILS = ("financial_connections.account", "financial_connections.authorization")


def answered_at(header: str | None) -> str:
    """The version a request is answered at: the one it names, if Stripe knows it, else the
    account's default."""
    return header if header in KNOWN else ACCOUNT_DEFAULT


def is_preview(version: str) -> bool:
    return version.endswith(".preview")


def _has(since: tuple[str, str | None], version: str) -> bool:
    preview, release = since
    first = preview if is_preview(version) else release
    return first is not None and version[:10] >= first


def render(value: Any, version: str) -> Any:
    """``value`` (an object, a list, an event) as Stripe renders it at ``version``: without
    the fields that version does not have, and never the sandbox's own bookkeeping
    (``_``-prefixed keys)."""
    if isinstance(value, list):
        return [render(item, version) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("object")
    since = _SINCE.get(kind, {}) if isinstance(kind, str) else {}
    rendered = {
        key: render(item, version)
        for key, item in value.items()
        if not key.startswith("_") and (key not in since or _has(since[key], version))
    }
    details = rendered.get("status_details")
    if (
        kind in _WITH_STATUS_DETAILS
        and isinstance(details, dict)
        and not _has((_ACTIVE_DETAILS_SINCE, None), version)
    ):
        rendered["status_details"] = {k: v for k, v in details.items() if k != "active"}
    return rendered
