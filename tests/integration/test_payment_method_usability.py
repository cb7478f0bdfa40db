"""Whether a payment method can be charged is Stripe's word on the PaymentMethod (blocked,
detached), kept current by the `payment_method.*` webhooks, the sync and a refresh after a
relink; the link health of the account it draws on is reported beside it, never folded in."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.payments.usability import refresh_payment_methods
from relink_api.reconcile.service import sync_accounts
from tests.conftest import Seed
from tests.factories import fc_account, payment_method, setup_intent, stripe_error
from tests.factories import tokenized_number as tan
from tests.integration.test_payment_methods import SETI_1, SETUP_INTENTS, started_setup
from tests.stripe_events import deliver, event

PM_URL = "/v1/payment_methods/pm_new"
TAN_DEACTIVATED = "tokenized_account_number_deactivated"


@pytest.fixture
def gateway(app: FastAPI) -> StripeGateway:
    stripe: StripeGateway = app.state.stripe
    return stripe


def blocked(reason: str | None, network_code: str | None = None, **fields: Any) -> dict[str, Any]:
    """pm_new as Stripe shows it blocked: ``us_bank_account.status_details.blocked``."""
    method = payment_method(**fields)
    method["us_bank_account"]["status_details"] = {
        "blocked": {"network_code": network_code, "reason": reason}
    }
    return method


async def set_up(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth: dict[str, str],
    method: dict[str, Any] | None = None,
) -> str:
    """pm_new, set up from fca_new by a new-account relink and recorded from Stripe's copy;
    the relink session's id."""
    session_id = await started_setup(client, stripe_mock, seed, auth)
    stripe_mock.get(SETI_1).respond(
        200, json=setup_intent(status="succeeded", method=method or payment_method())
    )
    response = await client.post(
        f"/v1/relink-sessions/{session_id}/payment-method/complete", headers=auth
    )
    assert response.json()["status"] == "succeeded", response.text
    return session_id


async def listed(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    (method,) = (await client.get("/v1/payment-methods", headers=auth)).json()["data"]
    assert isinstance(method, dict)
    return method


def usability(method: dict[str, Any]) -> tuple[Any, ...]:
    return (method["usable"], method["unusable_reason"], method["blocked"], method["link_health"])


async def account_event(client: httpx.AsyncClient, type: str, account: dict[str, Any]) -> None:
    # Later than the relink's read of the account, as a real change would be.
    response = await deliver(client, event(type, account, created=int(time.time()) + 5))
    assert response.json()["result"] == "applied", response.text


@pytest.mark.parametrize(
    ("type", "account", "health"),
    [
        (
            "financial_connections.account.deactivated",
            fc_account("fca_new", status="inactive", action="relink_required"),
            "relink_required",
        ),
        (
            "financial_connections.account.deactivated",
            fc_account("fca_new", status="inactive", action="none", cause="account_closed"),
            "unrepairable",
        ),
        (
            "financial_connections.account.disconnected",
            fc_account("fca_new", status="disconnected"),
            "disconnected",
        ),
    ],
)
async def test_a_broken_link_leaves_the_payment_method_usable_and_says_so_apart(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    type: str,
    account: dict[str, Any],
    health: str,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)

    await account_event(client, type, account)

    assert usability(await listed(client, auth_a)) == (True, None, None, health)


async def test_a_blocked_payment_method_is_unusable_with_stripes_reason(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await set_up(client, stripe_mock, seed, auth_a, blocked("bank_account_closed", "R02"))

    method = await listed(client, auth_a)

    assert usability(method) == (
        False,
        "blocked",
        {"reason": "bank_account_closed", "network_code": "R02"},
        "ok",
    )
    assert method["detached_at"] is None


async def test_detached_payment_methods_are_unusable_for_good(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(PM_URL).respond(200, json=payment_method(customer=None))

    response = await deliver(
        client, event("payment_method.detached", payment_method(customer=None))
    )

    assert response.json()["result"] == "applied", response.text
    assert read.call_count == 1
    method = await listed(client, auth_a)
    assert (method["usable"], method["unusable_reason"]) == (False, "detached")
    assert method["detached_at"] is not None
    # A later update (reordered, or a redelivered older payload) cannot undo it.
    read.respond(200, json=payment_method(customer=None))
    await deliver(client, event("payment_method.updated", payment_method()))
    assert (await listed(client, auth_a))["unusable_reason"] == "detached"


async def test_a_lifted_block_makes_the_payment_method_usable_again(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await set_up(client, stripe_mock, seed, auth_a, blocked(TAN_DEACTIVATED))
    assert (await listed(client, auth_a))["unusable_reason"] == "blocked"
    # Events arrive in any order: the payload still says blocked, Stripe's copy does not.
    read = stripe_mock.get(PM_URL).respond(200, json=payment_method())

    response = await deliver(
        client, event("payment_method.automatically_updated", blocked(TAN_DEACTIVATED))
    )

    assert response.json()["result"] == "applied", response.text
    assert read.call_count == 1
    assert usability(await listed(client, auth_a)) == (True, None, None, "ok")


async def test_a_block_stripe_reports_by_event_makes_it_unusable(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    stripe_mock.get(PM_URL).respond(200, json=blocked("debit_not_authorized", "R10"))

    response = await deliver(client, event("payment_method.updated", payment_method()))

    assert response.json()["result"] == "applied", response.text
    assert usability(await listed(client, auth_a)) == (
        False,
        "blocked",
        {"reason": "debit_not_authorized", "network_code": "R10"},
        "ok",
    )


@pytest.mark.parametrize(
    "type",
    ["payment_method.updated", "payment_method.automatically_updated", "payment_method.detached"],
)
async def test_payment_methods_relink_api_did_not_set_up_are_ignored(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    type: str,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    ours = stripe_mock.get(PM_URL).respond(200, json=payment_method())
    elsewhere = stripe_mock.get("/v1/payment_methods/pm_elsewhere").respond(200, json={})

    foreign = await deliver(client, event(type, payment_method("pm_elsewhere")))
    held = await deliver(client, event(type, payment_method()))

    assert foreign.status_code == 200, foreign.text
    assert foreign.json()["result"] == "ignored"
    assert not elsewhere.called
    assert held.json()["result"] == "applied", held.text
    assert ours.call_count == 1
    async with db.connection() as conn:
        held_ids = await conn.fetch("SELECT id FROM payment_methods")
    assert [record["id"] for record in held_ids] == ["pm_new"]


async def test_a_payment_method_event_without_a_payment_method_is_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await deliver(client, event("payment_method.updated", {"object": "payment_method"}))

    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/webhook-event-malformed")


async def test_a_payment_method_gone_from_stripe_applies_the_payload(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    stripe_mock.get(PM_URL).respond(404, json=stripe_error(code="resource_missing"))

    response = await deliver(
        client, event("payment_method.detached", payment_method(customer=None))
    )

    assert response.json()["result"] == "applied", response.text
    assert (await listed(client, auth_a))["unusable_reason"] == "detached"


async def test_sync_re_reads_the_payment_methods_of_each_account(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    stripe_mock.get("/v1/financial_connections/accounts/fca_checking").respond(
        200, json=fc_account("fca_checking", status="inactive", action="relink_required")
    )
    stripe_mock.get("/v1/financial_connections/accounts/fca_new").respond(
        200, json=fc_account("fca_new")
    )
    read = stripe_mock.get(PM_URL).respond(200, json=blocked(TAN_DEACTIVATED))

    summary = await sync_accounts(db, gateway.paced(25), stale_after=timedelta(0), concurrency=2)

    assert (summary.checked, summary.failed) == (2, 0)
    assert read.call_count == 1
    assert usability(await listed(client, auth_a)) == (
        False,
        "blocked",
        {"reason": TAN_DEACTIVATED, "network_code": None},
        "ok",
    )


async def test_sync_counts_a_payment_method_stripe_cannot_be_asked_about(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    for account_id in ("fca_checking", "fca_new"):
        stripe_mock.get(f"/v1/financial_connections/accounts/{account_id}").respond(
            200, json=fc_account(account_id)
        )
    stripe_mock.get(PM_URL).respond(500, json=stripe_error(type="api_error"))

    summary = await sync_accounts(
        db,
        gateway.paced(25),
        customer_ids=["cus_A"],
        stale_after=timedelta(0),
        concurrency=1,
    )

    assert (summary.checked, summary.failed) == (2, 1)
    assert (await listed(client, auth_a))["usable"] is True


async def test_a_relink_refreshing_a_tokenized_number_brings_the_same_method_back(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    created = stripe_mock.post(SETUP_INTENTS)
    created_before = created.call_count
    soon = int(time.time()) + 10 * 86400
    # The bank's tokenized number nears expiry: the account asks for a relink, the payment
    # method still works.
    await account_event(
        client,
        "financial_connections.account.upcoming_account_number_expiry",
        fc_account("fca_new", account_numbers=tan(soon)),
    )
    assert usability(await listed(client, auth_a)) == (True, None, None, "expiring")
    # It expires: Stripe blocks the payment method.
    stripe_mock.get(PM_URL).respond(200, json=blocked(TAN_DEACTIVATED))
    await deliver(client, event("payment_method.updated", payment_method()))
    assert (await listed(client, auth_a))["blocked"]["reason"] == TAN_DEACTIVATED
    # A relink refreshes the numbers; relink-api re-reads the account's payment methods.
    later = int(time.time()) + 365 * 86400
    await account_event(
        client,
        "financial_connections.account.account_numbers_updated",
        fc_account("fca_new", account_numbers=tan(later)),
    )
    stripe_mock.get(PM_URL).respond(200, json=payment_method())

    refreshed = await refresh_payment_methods(db, gateway, account_ids=["fca_new"])

    assert (refreshed.payment_method_ids, refreshed.failed) == (["pm_new"], [])
    method = await listed(client, auth_a)
    assert usability(method) == (True, None, None, "ok")
    assert method["id"] == "pm_new"
    assert created.call_count == created_before


async def test_refreshing_skips_detached_methods_and_other_accounts(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    auth_a: dict[str, str],
    db: Database,
    gateway: StripeGateway,
) -> None:
    await set_up(client, stripe_mock, seed, auth_a)
    read = stripe_mock.get(PM_URL).respond(200, json=payment_method(customer=None))

    assert (
        await refresh_payment_methods(db, gateway, account_ids=["fca_other"])
    ).payment_method_ids == []
    assert read.call_count == 0
    await refresh_payment_methods(db, gateway, account_ids=["fca_new"])
    assert (await listed(client, auth_a))["unusable_reason"] == "detached"
    assert (
        await refresh_payment_methods(db, gateway, account_ids=["fca_new"])
    ).payment_method_ids == []
    assert read.call_count == 1
