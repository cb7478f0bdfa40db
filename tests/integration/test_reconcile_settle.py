"""The sweep that settles relinks and payment setups nobody finished: a hosted page closed
before /relink/return, an app killed before `complete`, webhooks that never arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from fastapi import FastAPI

from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.reconcile.service import SETTLE_AFTER, settle_unfinished
from tests.conftest import Seed
from tests.factories import fc_account, fc_session, payment_method, setup_intent, stripe_error
from tests.integration.test_payment_methods import SETI_1, started_setup, stored_rows
from tests.integration.test_relink_complete import SESSION_1, relink_result, start_session
from tests.stripe_events import deliver, event


@pytest.fixture
def gateway(app: FastAPI) -> StripeGateway:
    stripe: StripeGateway = app.state.stripe
    return stripe


async def settle(
    db: Database,
    gateway: StripeGateway,
    *,
    at: datetime | None = None,
    customer_ids: list[str] | None = None,
) -> tuple[int, int, int]:
    """(sessions completed, setups settled, failures) of one sweep as if run at ``at``; by
    default just past the settle delay from now (computed per call: a module-level time
    goes stale in a long run)."""
    moment = at or datetime.now(tz=UTC) + SETTLE_AFTER + timedelta(minutes=1)
    summary = await settle_unfinished(db, gateway.paced(25), customer_ids=customer_ids, now=moment)
    return summary.sessions, summary.setups, summary.failed


def relinked(stripe_mock: respx.MockRouter) -> respx.Route:
    return stripe_mock.get(SESSION_1).respond(
        200,
        json=fc_session(
            status="succeeded",
            accounts=[fc_account("fca_checking")],
            relink_result=relink_result(account="fca_checking", authorization="fcauth_1"),
        ),
    )


async def test_an_abandoned_session_that_succeeded_at_stripe_is_completed(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a)
    read = relinked(stripe_mock)

    assert await settle(db, gateway, at=datetime.now(tz=UTC)) == (0, 0, 0)
    assert not read.called  # still in the customer's hands

    assert await settle(db, gateway) == (1, 0, 0)
    session = (await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)).json()
    assert session["outcome"] == "relinked"
    account = (await client.get("/v1/accounts/fca_checking", headers=auth_a)).json()
    assert account["link_health"] == "ok"

    assert await settle(db, gateway) == (0, 0, 0)
    assert read.call_count == 1


async def test_pending_sessions_stay_open_and_old_ones_are_left_alone(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    session_id = await start_session(client, stripe_mock, auth_a)
    read = stripe_mock.get(SESSION_1).respond(200, json=fc_session())

    assert await settle(db, gateway) == (0, 0, 0)
    assert read.call_count == 1
    session = (await client.get(f"/v1/relink-sessions/{session_id}", headers=auth_a)).json()
    assert session["status"] == "open"

    # A week on, Stripe's session has long expired: not worth a read.
    beyond = datetime.now(tz=UTC) + timedelta(days=7, minutes=1)
    assert await settle(db, gateway, at=beyond) == (0, 0, 0)
    assert read.call_count == 1


async def test_only_the_named_customers_are_settled(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await seed("fca_checking", status="inactive", action="relink_required")
    await start_session(client, stripe_mock, auth_a)
    read = relinked(stripe_mock)

    assert await settle(db, gateway, customer_ids=["cus_B"]) == (0, 0, 0)
    assert not read.called
    assert await settle(db, gateway, customer_ids=["cus_A"]) == (1, 0, 0)


async def test_a_stripe_failure_is_counted_and_the_rest_go_on(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    session_id = await started_setup(client, stripe_mock, seed, auth_a)
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=payment_method())
    )

    # The relink itself is completed already; only the payment setup is unfinished.
    assert await settle(db, gateway) == (0, 1, 0)
    state = (
        await client.get(f"/v1/relink-sessions/{session_id}/payment-method", headers=auth_a)
    ).json()
    assert state["status"] == "succeeded"
    assert state["payment_method"]["id"] == "pm_new"

    # A second relink, whose session Stripe cannot be asked about right now.
    await seed("fca_other", status="inactive", action="relink_required", authorization="fcauth_2")
    stripe_mock.post("/v1/financial_connections/sessions").respond(
        200, json=fc_session("fcsess_2", account="fca_other", authorization="fcauth_2")
    )
    created = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_other"}, headers=auth_a
    )
    assert created.status_code == 201, created.text
    failing = stripe_mock.get("/v1/financial_connections/sessions/fcsess_2").respond(
        500, json=stripe_error(type="api_error")
    )
    assert await settle(db, gateway) == (0, 0, 1)
    assert failing.call_count == 1


async def test_a_setup_still_pending_at_stripe_is_read_but_not_counted(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await started_setup(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(SETI_1).respond(200, json=setup_intent())

    assert await settle(db, gateway) == (0, 0, 0)

    assert read.call_count == 1
    setups, methods = await stored_rows(db)
    assert [setup["status"] for setup in setups] == ["pending"]
    assert methods == []


async def test_a_setup_already_settled_by_its_webhook_is_not_read_again(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await started_setup(client, stripe_mock, seed, auth_a)
    failed = setup_intent(
        status="requires_payment_method", method=None, error_code="bank_account_unusable"
    )
    read = stripe_mock.get(SETI_1).respond(200, json=failed)
    response = await deliver(client, event("setup_intent.setup_failed", failed))
    assert response.json()["result"] == "applied"

    assert await settle(db, gateway) == (0, 0, 0)

    assert read.call_count == 1  # the webhook's own read


async def test_only_the_named_customers_setups_are_settled(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await started_setup(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=payment_method())
    )

    assert await settle(db, gateway, customer_ids=["cus_B"]) == (0, 0, 0)
    assert not read.called
    assert await settle(db, gateway, customer_ids=["cus_A"]) == (0, 1, 0)


async def test_a_setup_stripe_cannot_be_asked_about_is_counted_as_failed(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await started_setup(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(SETI_1).respond(500, json=stripe_error(type="api_error"))

    assert await settle(db, gateway) == (0, 0, 1)

    assert read.call_count == 1
    setups, _methods = await stored_rows(db)
    assert [setup["status"] for setup in setups] == ["pending"]
