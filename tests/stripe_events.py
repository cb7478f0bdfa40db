"""Signed Stripe event deliveries, built the way Stripe builds them (docs/stripe.md §4-5)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx

from relink_api.settings import DEFAULT_STRIPE_API_VERSION
from relink_api.webhooks.signature import sign
from tests.conftest import WEBHOOK_SECRET

WEBHOOK_PATH = "/v1/webhooks/stripe"
_ids = itertools.count(1)


def event(
    type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
    api_version: str | None = DEFAULT_STRIPE_API_VERSION,
) -> dict[str, Any]:
    """An event envelope around ``obj`` (a full resource, as Stripe sends it)."""
    return {
        "id": event_id or f"evt_test{next(_ids):06d}",
        "object": "event",
        "api_version": api_version,
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj, "previous_attributes": None},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def signature_header(
    payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    at = int(time.time()) if timestamp is None else timestamp
    return f"t={at},v1={sign(payload, secret, at)}"


async def deliver(
    client: httpx.AsyncClient,
    document: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    """POST the event with a valid signature, as Stripe would."""
    payload = encode(document)
    return await client.post(
        WEBHOOK_PATH,
        content=payload,
        headers={
            "Stripe-Signature": signature_header(payload, secret=secret, timestamp=timestamp),
            "Content-Type": "application/json; charset=utf-8",
        },
    )
