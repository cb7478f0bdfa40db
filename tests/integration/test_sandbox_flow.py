"""The sandbox end to end over HTTP: demo customers, controls and their webhooks, the bank's
side of a relink, and the app verifying the outcome with the sandbox's Stripe
(docs/sandbox.md; issue 4, "Sandbox Stripe")."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from relink_api.sandbox.setup import SECRETS_FILE
from tests.sandbox_server import RunningSandbox, running_sandbox

ROLES = {
    "relink_required",
    "relink_required_savings",
    "credit_card",
    "unrepairable",
    "expiring",
    "healthy",
    "tokenized",
}
EXPECTED_HEALTH = {
    "relink_required": "relink_required",
    "relink_required_savings": "relink_required",
    "credit_card": "relink_required",
    "unrepairable": "unrepairable",
    "expiring": "expiring",
    "healthy": "ok",
    "tokenized": "ok",
}
BROKEN_TRIO = ("relink_required", "relink_required_savings", "credit_card")


class Demo:
    """A demo customer made through the control API, as the app knows them."""

    def __init__(self, sandbox: RunningSandbox, body: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.body = body
        self.customer_id: str = body["customer_id"]
        self.token: str = body["token"]
        self.accounts: dict[str, str] = body["accounts"]
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def __getitem__(self, role: str) -> str:
        return self.accounts[role]

    async def account(self, role_or_id: str) -> dict[str, Any]:
        account_id = self.accounts.get(role_or_id, role_or_id)
        response = await self.sandbox.client.get(f"/v1/accounts/{account_id}", headers=self.auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def health(self, role: str) -> str:
        return str((await self.account(role))["link_health"])


async def flush(sandbox: RunningSandbox) -> dict[str, int]:
    response = await sandbox.client.post("/sandbox/control/outbox/flush")
    assert response.status_code == 200, response.text
    counts: dict[str, int] = response.json()
    assert counts["pending"] == 0, counts
    return counts


async def make_demo(sandbox: RunningSandbox) -> Demo:
    response = await sandbox.client.post("/sandbox/control/demo-customers")
    assert response.status_code == 200, response.text
    demo = Demo(sandbox, response.json())
    await flush(sandbox)  # the app hears of the accounts through account.created
    return demo


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> Demo:
    return await make_demo(sandbox)


async def outbox_events(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    response = await sandbox.client.get("/sandbox/control/outbox")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return events


def delivered(
    events: list[dict[str, Any]], event_type: str, object_id: str
) -> list[dict[str, Any]]:
    return [
        event
        for event in events
        if event["type"] == event_type
        and event["object_id"] == object_id
        and event["delivered_at"] is not None
        and event["last_error"] is None
    ]


def today_utc() -> date:
    # The sandbox reads a date as midnight UTC.
    return datetime.now(tz=UTC).date()


def publishable(sandbox: RunningSandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.publishable_key}"}


async def start_relink(demo: Demo, role: str, scope: str) -> dict[str, Any]:
    response = await demo.sandbox.client.post(
        "/v1/relink-sessions", json={"account_id": demo[role], "scope": scope}, headers=demo.auth
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def bank_session(sandbox: RunningSandbox, client_secret: str) -> httpx.Response:
    return await sandbox.client.post(
        "/sandbox/bank/session", json={"client_secret": client_secret}, headers=publishable(sandbox)
    )


async def bank_complete(
    sandbox: RunningSandbox, client_secret: str, outcome: str, account_id: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"client_secret": client_secret, "outcome": outcome}
    if account_id is not None:
        body["account_id"] = account_id
    return await sandbox.client.post(
        "/sandbox/bank/session/complete", json=body, headers=publishable(sandbox)
    )


async def app_complete(demo: Demo, relink_id: str, browser_result: Any) -> dict[str, Any]:
    response = await demo.sandbox.client.post(
        f"/v1/relink-sessions/{relink_id}/complete", json=browser_result, headers=demo.auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_no_client_secret(response: httpx.Response, client_secret: str) -> None:
    assert client_secret not in response.text
    assert "_secret_" not in response.text
    assert "client_secret" not in response.text


def assert_stripe_error(response: httpx.Response, status: int, **fields: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["type"] == "invalid_request_error"
    assert isinstance(error["message"], str)
    assert error["message"]
    for key, value in fields.items():
        assert error.get(key) == value, (key, error)
    return error


# --- demo customers ---------------------------------------------------------------------------


async def test_demo_customer_is_listed_by_the_app_with_each_link_health(
    sandbox: RunningSandbox,
) -> None:
    response = await sandbox.client.post("/sandbox/control/demo-customers")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"].startswith("cus_")
    assert set(body["accounts"]) == ROLES
    assert all(account_id.startswith("fca_") for account_id in body["accounts"].values())
    assert len(set(body["accounts"].values())) == 7
    assert body["page_url"] == f"{sandbox.base_url}/#token={body['token']}"
    assert "?" not in body["page_url"]

    await flush(sandbox)
    auth = {"Authorization": f"Bearer {body['token']}"}
    listed = await sandbox.client.get("/v1/accounts", params={"limit": 50}, headers=auth)
    assert listed.status_code == 200, listed.text
    accounts = {account["id"]: account for account in listed.json()["data"]}
    assert set(accounts) == set(body["accounts"].values())
    health = {role: accounts[body["accounts"][role]]["link_health"] for role in ROLES}
    assert health == EXPECTED_HEALTH

    checking = accounts[body["accounts"]["relink_required"]]
    assert checking["status"] == "inactive"
    assert checking["cause"] == "access_expired"
    assert checking["institution_name"] == "Sandbox Bank"
    card = accounts[body["accounts"]["credit_card"]]
    assert card["subcategory"] == "credit_card"
    assert card["authorization_id"] == checking["authorization_id"]
    assert accounts[body["accounts"]["unrepairable"]]["cause"] == "account_closed"
    expiring = accounts[body["accounts"]["expiring"]]
    expected_at = datetime.fromisoformat(expiring["expected_deactivation_at"])
    now = datetime.now(tz=UTC)
    assert now + timedelta(days=7) < expected_at < now + timedelta(days=30)

    # Only this customer's accounts: the one seeded at start-up is someone else.
    assert all(account["id"] in body["accounts"].values() for account in accounts.values())


async def test_each_demo_customer_is_new(sandbox: RunningSandbox) -> None:
    first = await make_demo(sandbox)
    second = await make_demo(sandbox)
    assert first.customer_id != second.customer_id
    assert not set(first.accounts.values()) & set(second.accounts.values())
    response = await sandbox.client.get(f"/v1/accounts/{second['healthy']}", headers=first.auth)
    assert response.status_code == 404


# --- controls ---------------------------------------------------------------------------------


async def test_deactivate_and_reactivate_an_account(sandbox: RunningSandbox, demo: Demo) -> None:
    healthy = demo["healthy"]
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{healthy}/deactivate",
        json={"cause": "access_expired", "action": "relink_required"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "inactive"
    assert response.json()["status_details"] == {
        "inactive": {"action": "relink_required", "cause": "access_expired"}
    }
    await flush(sandbox)

    account = await demo.account("healthy")
    assert account["link_health"] == "relink_required"
    assert account["status"] == "inactive"
    assert account["cause"] == "access_expired"
    assert account["inactive_since"] is not None
    assert delivered(
        await outbox_events(sandbox), "financial_connections.account.deactivated", healthy
    )

    response = await sandbox.client.post(f"/sandbox/control/accounts/{healthy}/reactivate")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    await flush(sandbox)
    account = await demo.account("healthy")
    assert account["link_health"] == "ok"
    assert account["inactive_since"] is None
    assert delivered(
        await outbox_events(sandbox), "financial_connections.account.reactivated", healthy
    )


async def test_deactivate_with_action_none_is_unrepairable(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{demo['healthy']}/deactivate",
        json={"cause": "account_closed", "action": "none"},
    )
    assert response.status_code == 200, response.text
    await flush(sandbox)
    account = await demo.account("healthy")
    assert (account["link_health"], account["cause"]) == ("unrepairable", "account_closed")


async def test_expected_deactivation_makes_an_account_expiring(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    healthy = demo["healthy"]
    when = today_utc() + timedelta(days=20)
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{healthy}/expected-deactivation",
        json={"date": when.isoformat()},
    )
    assert response.status_code == 200, response.text
    midnight = datetime(when.year, when.month, when.day, tzinfo=UTC)
    assert response.json()["status_details"]["active"]["expected_deactivation_date"] == int(
        midnight.timestamp()
    )
    await flush(sandbox)

    account = await demo.account("healthy")
    assert account["link_health"] == "expiring"
    assert account["status"] == "active"
    assert datetime.fromisoformat(account["expected_deactivation_at"]) == midnight
    assert delivered(
        await outbox_events(sandbox), "financial_connections.account.upcoming_deactivation", healthy
    )

    # A second date is an update, not a new warning.
    later = when + timedelta(days=5)
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{healthy}/expected-deactivation",
        json={"date": later.isoformat()},
    )
    assert response.status_code == 200, response.text
    await flush(sandbox)
    account = await demo.account("healthy")
    assert datetime.fromisoformat(account["expected_deactivation_at"]) == datetime(
        later.year, later.month, later.day, tzinfo=UTC
    )
    assert delivered(
        await outbox_events(sandbox),
        "financial_connections.account.expected_deactivation_date_updated",
        healthy,
    )


async def test_authorization_controls_affect_every_account_on_it(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    authorization_id = (await demo.account("relink_required"))["authorization_id"]
    trio = sorted(demo[role] for role in BROKEN_TRIO)

    response = await sandbox.client.post(
        f"/sandbox/control/authorizations/{authorization_id}/reactivate"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"authorization": authorization_id, "accounts": trio}
    await flush(sandbox)
    for role in BROKEN_TRIO:
        assert await demo.health(role) == "ok", role
    # The others are on other authorizations and did not move.
    assert await demo.health("unrepairable") == "unrepairable"
    assert await demo.health("healthy") == "ok"

    response = await sandbox.client.post(
        f"/sandbox/control/authorizations/{authorization_id}/deactivate",
        json={"cause": "access_denied", "action": "relink_required"},
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["accounts"]) == trio
    await flush(sandbox)
    for role in BROKEN_TRIO:
        account = await demo.account(role)
        assert (account["link_health"], account["cause"]) == ("relink_required", "access_denied")
    assert await demo.health("healthy") == "ok"
    events = await outbox_events(sandbox)
    for role in BROKEN_TRIO:
        assert delivered(events, "financial_connections.account.deactivated", demo[role]), role


async def test_control_errors_are_stripe_shaped(sandbox: RunningSandbox, demo: Demo) -> None:
    yesterday = today_utc() - timedelta(days=1)
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{demo['healthy']}/expected-deactivation",
        json={"date": yesterday.isoformat()},
    )
    assert_stripe_error(response, 400, param="date")
    assert await demo.health("healthy") == "ok"

    for path in (
        "/sandbox/control/accounts/fca_doesnotexist/deactivate",
        "/sandbox/control/accounts/fca_doesnotexist/reactivate",
        "/sandbox/control/authorizations/fcauth_doesnotexist/deactivate",
        "/sandbox/control/authorizations/fcauth_doesnotexist/reactivate",
    ):
        response = await sandbox.client.post(path)
        error = assert_stripe_error(response, 404, code="resource_missing")
        assert "doesnotexist" in error["message"], path

    response = await sandbox.client.post(
        "/sandbox/control/accounts/fca_doesnotexist/expected-deactivation",
        json={"date": (today_utc() + timedelta(days=20)).isoformat()},
    )
    assert_stripe_error(response, 404, code="resource_missing")


# --- the bank's side of a relink, and the app verifying it -----------------------------------


async def test_account_scope_relink_through_the_app_and_the_bank(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    checking = demo["relink_required"]
    authorization_id = (await demo.account("relink_required"))["authorization_id"]
    created = await start_relink(demo, "relink_required", "account")
    secret = created["client_secret"]
    assert created["publishable_key"] == sandbox.publishable_key
    assert created["authorization_id"] == authorization_id

    shown = await bank_session(sandbox, secret)
    assert shown.status_code == 200, shown.text
    assert_no_client_secret(shown, secret)
    assert shown.json()["session"] == {
        "id": created["stripe_session_id"],
        "status": "pending",
        "institution_name": "Sandbox Bank",
        "relink_account": checking,
        "account_limit": None,
    }
    choices = {account["id"]: account for account in shown.json()["accounts"]}
    assert set(choices) == {demo[role] for role in BROKEN_TRIO}
    assert all(choice["selectable"] for choice in choices.values())
    assert choices[demo["credit_card"]]["subcategory"] == "credit_card"
    assert choices[checking]["display_name"] == "Everyday Checking"
    assert choices[checking]["status"] == "inactive"

    # Stripe's webhooks may lag behind the browser: hold them, so that the app's verification
    # is what first sees the siblings active again (the other order is tested below).
    async with sandbox.webhooks_held():
        finished = await bank_complete(sandbox, secret, "link", checking)
        assert finished.status_code == 200, finished.text
        assert_no_client_secret(finished, secret)
        session = finished.json()["financialConnectionsSession"]
        assert set(session) == {
            "id",
            "object",
            "accounts",
            "relink_result",
            "status",
            "filters",
            "permissions",
            "livemode",
            "return_url",
        }
        assert session["id"] == created["stripe_session_id"]
        assert session["object"] == "financial_connections.session"
        assert session["status"] == "succeeded"
        assert session["relink_result"] == {
            "account": checking,
            "authorization": authorization_id,
            "failure_reason": None,
        }
        assert isinstance(session["accounts"], list)
        assert [account["id"] for account in session["accounts"]] == [checking]
        assert session["accounts"][0]["status"] == "active"
        assert session["livemode"] is False

        outcome = await app_complete(demo, created["id"], finished.json())

    assert outcome["status"] == "completed"
    assert outcome["outcome"] == "relinked"
    assert outcome["failure_reason"] is None
    assert outcome["next_step"] == "none"
    assert outcome["linked_account_ids"] == [checking]
    assert outcome["reactivated_account_ids"] == sorted(demo[role] for role in BROKEN_TRIO)

    await flush(sandbox)
    for role in BROKEN_TRIO:
        assert await demo.health(role) == "ok", role
    events = await outbox_events(sandbox)
    for role in BROKEN_TRIO:
        assert delivered(events, "financial_connections.account.reactivated", demo[role]), role

    # The session is spent: the bank refuses it, in Stripe.js's shape.
    again = await bank_complete(sandbox, secret, "link", checking)
    assert_stripe_error(again, 400, code="session_already_completed")
    assert_no_client_secret(again, secret)
    described = await bank_session(sandbox, secret)
    assert_stripe_error(described, 400, code="session_already_completed")


async def test_institution_scope_hides_the_credit_card_and_links_a_new_account(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    authorization_id = (await demo.account("relink_required"))["authorization_id"]
    created = await start_relink(demo, "relink_required", "institution")
    secret = created["client_secret"]

    shown = await bank_session(sandbox, secret)
    assert shown.status_code == 200, shown.text
    assert shown.json()["session"]["relink_account"] is None
    assert shown.json()["session"]["account_limit"] == 1
    selectable = {account["id"]: account["selectable"] for account in shown.json()["accounts"]}
    assert selectable == {
        demo["relink_required"]: True,
        demo["relink_required_savings"]: True,
        demo["credit_card"]: False,
    }

    # The bank will not link what the filters hide.
    refused = await bank_complete(sandbox, secret, "link", demo["credit_card"])
    assert_stripe_error(refused, 400, param="account_id")

    # Held webhooks: the app's verification is the first to hear of the new account.
    async with sandbox.webhooks_held():
        finished = await bank_complete(sandbox, secret, "link_new")
        outcome = await app_complete(demo, created["id"], finished.json())
    assert finished.status_code == 200, finished.text
    assert_no_client_secret(finished, secret)
    session = finished.json()["financialConnectionsSession"]
    assert session["status"] == "succeeded"
    assert len(session["accounts"]) == 1
    new_account = session["accounts"][0]
    assert new_account["id"].startswith("fca_")
    assert new_account["id"] not in demo.accounts.values()
    assert new_account["status"] == "active"
    assert new_account["subcategory"] == "checking"
    assert new_account["authorization"] == authorization_id
    assert session["relink_result"]["authorization"] == authorization_id
    assert session["relink_result"]["account"] is None
    assert session["relink_result"]["failure_reason"] is None
    assert session["filters"]["account_subcategories"] == ["checking", "savings"]

    assert outcome["outcome"] == "new_account"
    assert outcome["next_step"] == "set_up_payment_method"
    assert outcome["linked_account_ids"] == [new_account["id"]]

    await flush(sandbox)
    stored = await demo.account(new_account["id"])
    assert stored["link_health"] == "ok"
    assert stored["needs_new_payment_method"] is True
    assert stored["replaces_account_id"] == demo["relink_required"]
    events = await outbox_events(sandbox)
    assert delivered(events, "financial_connections.account.created", new_account["id"])


async def test_institution_scope_linking_a_known_sibling_relinks(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    authorization_id = (await demo.account("relink_required"))["authorization_id"]
    created = await start_relink(demo, "relink_required", "institution")
    savings = demo["relink_required_savings"]

    finished = await bank_complete(sandbox, created["client_secret"], "link", savings)
    assert finished.status_code == 200, finished.text
    session = finished.json()["financialConnectionsSession"]
    assert session["status"] == "succeeded"
    assert [account["id"] for account in session["accounts"]] == [savings]
    assert session["relink_result"] == {
        "account": None,
        "authorization": authorization_id,
        "failure_reason": None,
    }

    outcome = await app_complete(demo, created["id"], finished.json())
    assert outcome["outcome"] == "relinked"
    assert outcome["linked_account_ids"] == [savings]
    await flush(sandbox)
    for role in BROKEN_TRIO:
        assert await demo.health(role) == "ok", role


@pytest.mark.parametrize(
    ("outcome", "status", "reason", "next_step"),
    [
        ("login_failed", "failed", "no_authorization", "retry"),
        ("cancel", "cancelled", None, "retry"),
        ("link_new", "failed", "no_account", "relink_institution"),
    ],
)
async def test_account_scope_outcomes_that_repair_nothing(
    sandbox: RunningSandbox,
    demo: Demo,
    outcome: str,
    status: str,
    reason: str | None,
    next_step: str,
) -> None:
    created = await start_relink(demo, "relink_required", "account")
    finished = await bank_complete(sandbox, created["client_secret"], outcome)
    assert finished.status_code == 200, finished.text
    assert_no_client_secret(finished, created["client_secret"])
    session = finished.json()["financialConnectionsSession"]
    assert session["status"] == status
    assert session["accounts"] == []
    if reason is None:
        assert session["relink_result"] is None
    else:
        assert session["relink_result"] == {
            "account": None,
            "authorization": None,
            "failure_reason": reason,
        }

    verdict = await app_complete(demo, created["id"], finished.json())
    assert verdict["outcome"] == ("cancelled" if status == "cancelled" else "failed")
    assert verdict["failure_reason"] == reason
    assert verdict["next_step"] == next_step
    assert verdict["reactivated_account_ids"] == []

    # Nothing changed at the bank or in the app.
    await flush(sandbox)
    for role in BROKEN_TRIO:
        assert await demo.health(role) == "relink_required", role


async def test_account_scope_linking_another_account_is_no_account(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    created = await start_relink(demo, "relink_required", "account")
    finished = await bank_complete(
        sandbox, created["client_secret"], "link", demo["relink_required_savings"]
    )
    assert finished.status_code == 200, finished.text
    session = finished.json()["financialConnectionsSession"]
    assert session["status"] == "failed"
    assert session["relink_result"]["failure_reason"] == "no_account"

    verdict = await app_complete(demo, created["id"], finished.json())
    assert (verdict["outcome"], verdict["failure_reason"]) == ("failed", "no_account")
    assert verdict["next_step"] == "relink_institution"
    await flush(sandbox)
    assert await demo.health("relink_required_savings") == "relink_required"


async def test_the_bank_requires_the_publishable_key(sandbox: RunningSandbox, demo: Demo) -> None:
    created = await start_relink(demo, "relink_required", "account")
    secret = created["client_secret"]
    wrong_keys: list[dict[str, str]] = [
        {"Authorization": "Bearer pk_test_sandbox_wrong"},
        {"Authorization": f"Bearer {sandbox.secret_key}"},
        {"Authorization": f"Basic {sandbox.publishable_key}"},
        {},
    ]
    for headers in wrong_keys:
        for path, body in (
            ("/sandbox/bank/session", {"client_secret": secret}),
            ("/sandbox/bank/session/complete", {"client_secret": secret, "outcome": "cancel"}),
        ):
            response = await sandbox.client.post(path, json=body, headers=headers)
            assert_stripe_error(response, 401)
            assert_no_client_secret(response, secret)
    # None of that touched the session.
    shown = await bank_session(sandbox, secret)
    assert shown.status_code == 200, shown.text
    assert shown.json()["session"]["status"] == "pending"


async def test_the_bank_refuses_an_unknown_client_secret(sandbox: RunningSandbox) -> None:
    response = await bank_session(sandbox, "fcsess_nope_secret_nope")
    assert_stripe_error(response, 404, code="resource_missing")


async def test_the_banks_validation_errors_are_stripe_js_shaped(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    # docs/sandbox.md: the bank's errors are {"error": {type, code, message}}; a value
    # refused is a 400 that names its parameter, as Stripe's are.
    created = await start_relink(demo, "relink_required", "account")
    secret = created["client_secret"]
    response = await bank_complete(sandbox, secret, "bogus_outcome")
    error = assert_stripe_error(response, 400, code="parameter_invalid", param="outcome")
    assert "outcome" in error["message"]
    response = await sandbox.client.post(
        "/sandbox/bank/session", content=b"not json", headers=publishable(sandbox)
    )
    # No parameter to name: the body as a whole is refused.
    assert_stripe_error(response, 400, code="parameter_invalid", param="body")
    shown = await bank_session(sandbox, secret)
    assert shown.json()["session"]["status"] == "pending"


# --- webhooks that arrive before the browser reports back --------------------------------------


async def test_siblings_reactivated_by_early_webhooks_are_still_reported(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    # Stripe sends `reactivated` as soon as the relink succeeds; the browser's POST to
    # /complete can come after. The outcome must not depend on which arrives first.
    created = await start_relink(demo, "relink_required", "account")
    finished = await bank_complete(
        sandbox, created["client_secret"], "link", demo["relink_required"]
    )
    assert finished.status_code == 200, finished.text
    await flush(sandbox)  # the webhooks land first
    for role in BROKEN_TRIO:
        assert await demo.health(role) == "ok", role

    outcome = await app_complete(demo, created["id"], finished.json())
    assert outcome["outcome"] == "relinked"
    assert outcome["reactivated_account_ids"] == sorted(demo[role] for role in BROKEN_TRIO)


async def test_a_new_account_announced_by_webhook_first_is_still_a_new_account(
    sandbox: RunningSandbox, demo: Demo
) -> None:
    created = await start_relink(demo, "relink_required", "institution")
    finished = await bank_complete(sandbox, created["client_secret"], "link_new")
    assert finished.status_code == 200, finished.text
    new_id = finished.json()["financialConnectionsSession"]["accounts"][0]["id"]
    await flush(sandbox)  # `account.created` lands before the browser's POST

    outcome = await app_complete(demo, created["id"], finished.json())
    assert outcome["outcome"] == "new_account"
    assert outcome["next_step"] == "set_up_payment_method"
    stored = await demo.account(new_id)
    assert stored["needs_new_payment_method"] is True
    assert stored["replaces_account_id"] == demo["relink_required"]


# --- restarts ---------------------------------------------------------------------------------


async def test_sandbox_state_and_secrets_survive_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    async with running_sandbox(database_url, data_dir) as first:
        demo = await make_demo(first)
        before = (await first.client.get("/v1/accounts", headers=demo.auth)).json()["data"]
        settings = first.settings
        async with first.app.state.database.connection() as conn:
            customers = await conn.fetchval(
                "SELECT count(*) FROM sandbox.objects WHERE type = 'customer'"
            )
        assert customers == 2  # the one seeded on first start, and ours

    secrets_path = data_dir / SECRETS_FILE
    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600
    stored = json.loads(secrets_path.read_text())

    async with running_sandbox(database_url, data_dir) as second:
        assert second.settings.stripe_secret_key is not None
        assert settings.stripe_secret_key is not None
        assert second.secret_key == settings.stripe_secret_key.get_secret_value()
        assert second.secret_key == stored["secret_key"]
        assert second.secret_key.startswith("sk_test_sandbox")
        assert second.publishable_key == settings.stripe_publishable_key
        assert [s.get_secret_value() for s in second.settings.stripe_webhook_secrets] == [
            s.get_secret_value() for s in settings.stripe_webhook_secrets
        ]
        assert second.settings.auth_jwt_secret is not None
        assert settings.auth_jwt_secret is not None
        assert (
            second.settings.auth_jwt_secret.get_secret_value()
            == settings.auth_jwt_secret.get_secret_value()
            == stored["jwt_secret"]
        )

        # A token minted by the first server still works, and sees the same accounts.
        after = await second.client.get("/v1/accounts", headers=demo.auth)
        assert after.status_code == 200, after.text
        assert after.json()["data"] == before
        # The sandbox's Stripe still has them, on the same key.
        response = await second.client.get(
            f"/sandbox/stripe/v1/financial_connections/accounts/{demo['relink_required']}",
            headers={"Authorization": f"Bearer {second.secret_key}"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "inactive"
        async with second.app.state.database.connection() as conn:
            assert (
                await conn.fetchval("SELECT count(*) FROM sandbox.objects WHERE type = 'customer'")
                == 2
            ), "a restart seeded another demo customer"

        # And the restarted server still drives the whole loop: control → webhook → app.
        restarted = Demo(second, demo.body)
        response = await second.client.post(
            f"/sandbox/control/accounts/{demo['healthy']}/deactivate", json={}
        )
        assert response.status_code == 200, response.text
        await flush(second)
        assert await restarted.health("healthy") == "relink_required"
