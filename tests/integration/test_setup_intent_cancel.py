"""A SetupIntent superseded here is canceled at Stripe too, after the local change commits:
never one that succeeded (its payment method is recorded instead), and a failure at Stripe
loses nothing (the sweep tries again)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from fastapi import FastAPI

from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.reconcile.service import SETTLE_AFTER, settle_unfinished
from tests.conftest import Seed
from tests.factories import payment_method, setup_intent, stripe_error
from tests.integration.test_payment_methods import (
    SETI_1,
    SETUP_INTENTS,
    mock_existing_methods,
    new_account_session,
    start,
    started_setup,
)
from tests.stripe_events import deliver, event

SETI_2 = f"{SETUP_INTENTS}/seti_2"


@pytest.fixture
def gateway(app: FastAPI) -> StripeGateway:
    stripe: StripeGateway = app.state.stripe
    return stripe


async def superseding(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth: dict[str, str],
) -> httpx.Response:
    """seti_1 fails, seti_2 is started in its place, then seti_1 succeeds after all (a mobile
    sheet retried it with its own secret): its webhook, which supersedes seti_2 here."""
    session_id = await started_setup(client, stripe_mock, seed, auth)
    failed = setup_intent(status="requires_payment_method", error_code="bank_account_unusable")
    first = stripe_mock.get(SETI_1)
    first.respond(200, json=failed)
    await deliver(client, event("setup_intent.setup_failed", failed))
    stripe_mock.post(SETUP_INTENTS).respond(200, json=setup_intent("seti_2"))
    assert (await start(client, session_id, auth)).json()["setup_intent_id"] == "seti_2"
    first.respond(200, json=setup_intent(status="succeeded", method=payment_method()))
    return await deliver(client, event("setup_intent.succeeded", setup_intent()))


async def setups(db: Database) -> dict[str, tuple[str, str]]:
    async with db.connection() as conn:
        records = await conn.fetch("SELECT id, status, stripe_status FROM setup_intents")
    return {record["id"]: (record["status"], record["stripe_status"]) for record in records}


def canceled(setup_intent_id: str) -> dict[str, Any]:
    return {
        **setup_intent(setup_intent_id, status="canceled", method=None),
        "cancellation_reason": "duplicate",
    }


async def test_a_superseded_setup_intent_is_canceled_at_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    stripe_mock.get(SETI_2).respond(200, json=setup_intent("seti_2"))
    cancel = stripe_mock.post(f"{SETI_2}/cancel").respond(200, json=canceled("seti_2"))
    never = stripe_mock.post(f"{SETI_1}/cancel").respond(200, json=canceled("seti_1"))

    response = await superseding(client, stripe_mock, seed, auth_a)

    assert response.json()["result"] == "applied", response.text
    assert cancel.call_count == 1
    assert dict(parse_qsl(cancel.calls.last.request.content.decode())) == {
        "cancellation_reason": "duplicate"
    }
    assert not never.called
    assert await setups(db) == {
        "seti_1": ("succeeded", "succeeded"),
        "seti_2": ("canceled", "canceled"),
    }


async def test_a_superseded_setup_intent_that_succeeded_at_stripe_is_kept_not_canceled(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    # The customer confirmed seti_2 as well: Stripe made a second payment method.
    stripe_mock.get(SETI_2).respond(
        200,
        json=setup_intent(
            "seti_2", status="succeeded", method=payment_method("pm_second", created=1_700_000_900)
        ),
    )
    cancel = stripe_mock.post(f"{SETI_2}/cancel").respond(200, json=canceled("seti_2"))

    await superseding(client, stripe_mock, seed, auth_a)

    assert not cancel.called
    assert await setups(db) == {
        "seti_1": ("succeeded", "succeeded"),
        "seti_2": ("succeeded", "succeeded"),
    }
    listed = (await client.get("/v1/payment-methods", headers=auth_a)).json()["data"]
    assert sorted(method["id"] for method in listed) == ["pm_new", "pm_second"]


async def test_one_confirmed_between_the_read_and_the_cancel_is_recorded(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    stripe_mock.get(SETI_2).mock(
        side_effect=[
            httpx.Response(200, json=setup_intent("seti_2")),
            httpx.Response(
                200,
                json=setup_intent("seti_2", status="succeeded", method=payment_method("pm_second")),
            ),
        ]
    )
    cancel = stripe_mock.post(f"{SETI_2}/cancel").respond(
        400,
        json=stripe_error(
            code="setup_intent_unexpected_state",
            message="You cannot cancel this SetupIntent because it has a status of succeeded.",
        ),
    )

    await superseding(client, stripe_mock, seed, auth_a)

    assert cancel.call_count == 1
    assert (await setups(db))["seti_2"] == ("succeeded", "succeeded")


async def test_a_cancel_stripe_fails_loses_nothing_and_the_sweep_retries_it(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    stripe_mock.get(SETI_2).respond(200, json=setup_intent("seti_2"))
    cancel = stripe_mock.post(f"{SETI_2}/cancel")
    cancel.respond(500, json=stripe_error(type="api_error"))

    response = await superseding(client, stripe_mock, seed, auth_a)

    assert response.json()["result"] == "applied", response.text
    assert cancel.called
    assert await setups(db) == {
        "seti_1": ("succeeded", "succeeded"),
        "seti_2": ("canceled", "requires_confirmation"),
    }
    cancel.respond(200, json=canceled("seti_2"))
    now = datetime.now(tz=UTC) + SETTLE_AFTER * 2

    summary = await settle_unfinished(db, gateway.paced(25), now=now)

    assert (summary.canceled, summary.failed) == (1, 0)
    assert (await setups(db))["seti_2"] == ("canceled", "canceled")
    again = await settle_unfinished(db, gateway.paced(25), now=now)
    assert (again.canceled, again.failed) == (0, 0)


async def test_a_setup_intent_that_lost_a_race_is_canceled_at_stripe(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
) -> None:
    session_id = await new_account_session(client, stripe_mock, seed, auth_a)
    mock_existing_methods(stripe_mock)

    async def created_while_another_request_won(request: httpx.Request) -> httpx.Response:
        async with db.connection() as conn:
            await conn.execute(
                "INSERT INTO setup_intents (id, relink_session_id, customer_id, account_id, "
                "status, stripe_status) VALUES ('seti_winner', $1, 'cus_A', 'fca_new', "
                "'pending', 'requires_confirmation')",
                session_id,
            )
        return httpx.Response(200, json=setup_intent("seti_2"))

    stripe_mock.post(SETUP_INTENTS).mock(side_effect=created_while_another_request_won)
    stripe_mock.get(f"{SETUP_INTENTS}/seti_winner").respond(200, json=setup_intent("seti_winner"))
    cancel = stripe_mock.post(f"{SETI_2}/cancel").respond(200, json=canceled("seti_2"))

    response = await start(client, session_id, auth_a)

    assert response.status_code == 201, response.text
    assert response.json()["setup_intent_id"] == "seti_winner"
    assert cancel.call_count == 1
    assert await setups(db) == {"seti_winner": ("pending", "requires_confirmation")}
