"""A delivery with nothing to remove is stored from the bytes Stripe signed: the event log
and the account's snapshot hold what Stripe wrote, and no JSON is encoded again for them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from relink_api.db import Database
from tests.factories import fc_account
from tests.stripe_events import WEBHOOK_PATH, encode, event, signature_header


async def post(client: httpx.AsyncClient, body: bytes) -> str:
    response = await client.post(
        WEBHOOK_PATH, content=body, headers={"Stripe-Signature": signature_header(body)}
    )
    assert response.status_code == 200, response.text
    result: str = response.json()["result"]
    return result


def with_decimal(document: dict[str, Any]) -> bytes:
    """``document`` written with a number whose text json.loads and json.dumps would change
    (``1.50`` read back as ``1.5``), in the event and in its account."""
    body = encode(document).replace(b'"pending_webhooks":1', b'"pending_webhooks":1.50')
    return body.replace(
        b'"object":"financial_connections.account"',
        b'"object":"financial_connections.account","weight":1.50',
    )


async def test_a_new_account_event_is_stored_as_stripe_wrote_it(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = event("financial_connections.account.created", fc_account("fca_as_sent"))
    body = with_decimal(document)
    encoded: list[object] = []
    dumps = json.dumps

    def counted(value: object, **kwargs: Any) -> str:
        encoded.append(value)
        return dumps(value, **kwargs)

    monkeypatch.setattr(json, "dumps", counted)
    assert await post(client, body) == "applied"
    monkeypatch.undo()
    # Only the account holder, a parameter of its own, is encoded; never the event.
    assert [value for value in encoded if "data" in str(value)] == []
    assert encoded
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT e.payload ->> 'pending_webhooks' AS event_number,"
            " a.snapshot ->> 'weight' AS snapshot_number"
            " FROM webhook_events e JOIN accounts a ON a.id = e.object_id WHERE e.id = $1",
            document["id"],
        )
    assert row is not None
    assert (row["event_number"], row["snapshot_number"]) == ("1.50", "1.50")


async def test_an_ignored_event_is_stored_as_stripe_wrote_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    document = event("customer.created", {"id": "cus_as_sent", "object": "customer"})
    assert await post(client, with_decimal(document)) == "ignored"
    async with db.connection() as conn:
        stored = await conn.fetchval(
            "SELECT payload ->> 'pending_webhooks' FROM webhook_events WHERE id = $1",
            document["id"],
        )
    assert stored == "1.50"
