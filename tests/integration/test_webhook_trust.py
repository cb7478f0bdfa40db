"""What a validly signed event may not do on its own word: apply an event of the other
Stripe mode, or move an account to another customer without Stripe's current copy."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import fc_account, stripe_error
from tests.stripe_events import deliver, event

ACCOUNT_URL = "/v1/financial_connections/accounts/fca_checking"
DEACTIVATED = "financial_connections.account.deactivated"


async def owner_and_status(db: Database, account_id: str = "fca_checking") -> tuple[str, str]:
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT customer_id, status FROM accounts WHERE id = $1", account_id
        )
    assert row is not None
    return row["customer_id"], row["status"]


async def logged_result(db: Database, event_id: str) -> str | None:
    async with db.connection() as conn:
        result: str | None = await conn.fetchval(
            "SELECT result FROM webhook_events WHERE id = $1", event_id
        )
    return result


async def test_a_live_mode_event_on_a_test_mode_server_is_recorded_but_not_applied(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed()
    live = event(DEACTIVATED, fc_account(status="inactive", action="relink_required"))
    live["livemode"] = True

    with caplog.at_level(logging.WARNING, logger="relink_api.webhooks.service"):
        first = await deliver(client, live)
    again = await deliver(client, live)

    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "event_id": live["id"], "result": "refused"}
    assert again.json()["result"] == "duplicate"
    assert await owner_and_status(db) == ("cus_A", "active")
    assert await logged_result(db, live["id"]) == "refused"
    assert any("livemode=true on a test-mode server" in r.getMessage() for r in caplog.records)
    assert not stripe_mock.calls


async def test_a_test_mode_event_on_a_test_mode_server_is_applied(
    client: httpx.AsyncClient, seed: Seed, db: Database
) -> None:
    await seed()
    test_mode = event(DEACTIVATED, fc_account(status="inactive", action="relink_required"))

    response = await deliver(client, test_mode)

    assert response.json()["result"] == "applied"
    assert await owner_and_status(db) == ("cus_A", "inactive")


async def test_an_event_moving_an_account_to_another_customer_is_checked_with_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    db: Database,
    auth_a: dict[str, str],
    auth_b: dict[str, str],
) -> None:
    await seed()
    # Stripe's copy: still cus_A's, and now inactive.
    reread = stripe_mock.get(ACCOUNT_URL).respond(
        200, json=fc_account(status="inactive", action="relink_required")
    )
    moved = event(
        DEACTIVATED, fc_account(customer="cus_B", status="inactive", action="relink_required")
    )

    response = await deliver(client, moved)

    assert response.json()["result"] == "applied"
    assert reread.call_count == 1
    assert await owner_and_status(db) == ("cus_A", "inactive")
    assert (await client.get("/v1/accounts/fca_checking", headers=auth_a)).status_code == 200
    assert (await client.get("/v1/accounts/fca_checking", headers=auth_b)).status_code == 404


async def test_an_owner_change_stripe_confirms_is_applied(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, db: Database
) -> None:
    await seed()
    stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account(customer="cus_B"))

    response = await deliver(client, event(DEACTIVATED, fc_account(customer="cus_B")))

    assert response.json()["result"] == "applied"
    assert await owner_and_status(db) == ("cus_B", "active")


async def test_an_event_for_an_account_stripe_no_longer_knows_keeps_the_stored_owner(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, db: Database
) -> None:
    await seed()
    stripe_mock.get(ACCOUNT_URL).respond(404, json=stripe_error(code="resource_missing"))
    moved = event(
        DEACTIVATED, fc_account(customer="cus_B", status="inactive", action="relink_required")
    )

    response = await deliver(client, moved)

    assert response.json()["result"] == "applied"
    # The payload's state is the last word Stripe gave; its account holder is not trusted.
    assert await owner_and_status(db) == ("cus_A", "inactive")


async def test_an_event_that_keeps_the_owner_needs_no_read(
    client: httpx.AsyncClient, stripe_mock: respx.MockRouter, seed: Seed, db: Database
) -> None:
    await seed()

    response = await deliver(
        client, event(DEACTIVATED, fc_account(status="inactive", action="relink_required"))
    )

    assert response.json()["result"] == "applied"
    assert not stripe_mock.calls
