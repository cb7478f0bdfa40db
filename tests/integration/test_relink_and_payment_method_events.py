"""The host application hears of a completed relink and of payment method changes through
the outbox: ``relink.completed``, ``payment_method.blocked`` and ``payment_method.replaced``,
each written once, in the transaction that records the change, with no secret in it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

from relink_api.db import Database
from relink_api.web.event_catalogue import validate_event
from tests.conftest import Seed
from tests.factories import payment_method
from tests.integration.test_payment_method_usability import PM_URL, blocked, set_up
from tests.integration.test_relink_complete import (
    mock_account_scope_success,
    seed_broken_pair,
    start_session,
)
from tests.stripe_events import deliver, event


async def outbox(db: Database, type: str) -> list[dict[str, Any]]:
    """The events of ``type`` in the outbox, oldest first, as they will be delivered."""
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT payload, account_id, customer_id FROM outbound_events "
            "WHERE type = $1 ORDER BY created_at, id",
            type,
        )
    for row in rows:
        assert row["payload"]["type"] == type
        # What is sent is what the OpenAPI document's `webhooks` describe.
        validate_event(row["payload"])
        assert row["account_id"] == row["payload"]["data"]["account_id"]
        assert row["customer_id"] == row["payload"]["data"]["customer_id"]
    return [dict(row["payload"]) for row in rows]


async def test_a_completed_relink_is_announced_once_as_its_customer_reads_it(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await seed_broken_pair(seed)
    session_id = await start_session(client, stripe_mock, auth_a)
    mock_account_scope_success(stripe_mock)
    assert await outbox(db, "relink.completed") == []

    first = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)
    again = await client.post(f"/v1/relink-sessions/{session_id}/complete", headers=auth_a)

    assert first.status_code == again.status_code == 200, first.text
    (announced,) = await outbox(db, "relink.completed")
    read = (await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)).json()
    assert announced["id"].startswith("evt_")
    assert announced["timestamp"] == read["completed_at"].replace("+00:00", "Z")
    assert announced["data"] == {
        "relink_session": read,
        "customer_id": "cus_A",
        "account_id": "fca_checking",
        "outcome": "relinked",
        "next_step": "none",
    }
    assert "secret" not in json.dumps(announced)


async def test_a_payment_method_set_up_after_a_new_account_is_announced_as_replacing(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await set_up(client, stripe_mock, seed, auth_a)
    # Completing again (a client retrying) records nothing new.
    again = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth_a
    )
    assert again.json()["status"] == "succeeded", again.text

    (announced,) = await outbox(db, "payment_method.replaced")
    (listed,) = (await client.get("/v1/payment-methods", headers=auth_a)).json()["data"]
    assert announced["data"] == {
        "payment_method": listed,
        "customer_id": "cus_A",
        "account_id": "fca_new",
        "replaces_payment_method_id": "pm_old_newest",
    }
    assert await outbox(db, "payment_method.blocked") == []


async def test_a_block_is_announced_once_per_block(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(PM_URL)

    # Blocked, then the same block read again, lifted, and blocked anew: two events.
    for stripes_copy in (
        blocked("debit_not_authorized", "R10"),
        blocked("debit_not_authorized", "R10"),
        payment_method(),
        blocked("bank_account_closed", "R02"),
    ):
        read.respond(200, json=stripes_copy)
        response = await deliver(client, event("payment_method.updated", payment_method()))
        assert response.json()["result"] == "applied", response.text

    announced = await outbox(db, "payment_method.blocked")
    assert [event["data"]["payment_method"]["blocked"] for event in announced] == [
        {"reason": "debit_not_authorized", "network_code": "R10"},
        {"reason": "bank_account_closed", "network_code": "R02"},
    ]
    assert {event["data"]["payment_method"]["id"] for event in announced} == {"pm_new"}
    assert all(event["data"]["payment_method"]["usable"] is False for event in announced)


async def test_a_payment_method_set_up_blocked_is_announced_blocked(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a, blocked("bank_account_closed", "R02"))

    assert len(await outbox(db, "payment_method.replaced")) == 1
    (announced,) = await outbox(db, "payment_method.blocked")
    assert announced["data"]["payment_method"]["unusable_reason"] == "blocked"


async def test_a_payment_method_relink_api_does_not_hold_is_never_announced(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, db: Database
) -> None:
    stripe_mock.get(PM_URL).respond(200, json=blocked("debit_not_authorized", "R10"))

    await deliver(client, event("payment_method.updated", payment_method()))

    assert await outbox(db, "payment_method.blocked") == []
