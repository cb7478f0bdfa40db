"""Expected deactivation dates in the sandbox (issue 14, the sandbox): the events Stripe's
2026-07-29 changelog describes, for accounts and their authorizations, on the sandbox's clock
(docs/sandbox.md, "Events")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from tests.sandbox_server import RunningSandbox

ACCOUNT = "financial_connections.account."
AUTHORIZATION = "financial_connections.authorization."


@pytest.fixture
async def demo(sandbox: RunningSandbox) -> dict[str, Any]:
    created = await sandbox.client.post("/sandbox/control/demo-customers")
    assert created.status_code == 200, created.text
    body: dict[str, Any] = created.json()
    return body


async def events_since(
    sandbox: RunningSandbox, seen: set[str], about: set[str] | None = None
) -> list[tuple[str, str]]:
    """(type, object id) of the events queued since ``seen`` was taken, oldest first, about
    the objects in ``about`` (other demo customers' accounts expire too)."""
    listed = (await sandbox.client.get("/sandbox/control/outbox")).json()["data"]
    fresh = [event for event in reversed(listed) if event["id"] not in seen]
    seen.update(event["id"] for event in fresh)
    return [
        (event["type"], event["object_id"])
        for event in fresh
        if about is None or event["object_id"] in about
    ]


async def set_date(sandbox: RunningSandbox, account_id: str, days: int) -> int:
    when = datetime.now(tz=UTC).date() + timedelta(days=days)
    response = await sandbox.client.post(
        f"/sandbox/control/accounts/{account_id}/expected-deactivation",
        json={"date": when.isoformat()},
    )
    assert response.status_code == 200, response.text
    return int(datetime(when.year, when.month, when.day, tzinfo=UTC).timestamp())


async def advance(sandbox: RunningSandbox, days: int) -> None:
    response = await sandbox.client.post("/sandbox/control/clock/advance", json={"days": days})
    assert response.status_code == 200, response.text


async def authorization_of(sdk: stripe.StripeClient, account_id: str) -> dict[str, Any]:
    account = await sdk.v1.financial_connections.accounts.retrieve_async(account_id)
    authorization = await sdk.v1.financial_connections.authorizations.retrieve_async(
        account.to_dict()["authorization"]
    )
    raw: dict[str, Any] = authorization.to_dict()
    return raw


async def test_a_date_within_30_days_is_announced_set_and_upcoming_at_once(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    healthy = demo["accounts"]["healthy"]
    authorization = await authorization_of(sdk, healthy)
    assert authorization["status_details"] == {}
    seen: set[str] = set()
    await events_since(sandbox, seen)

    auth_id = authorization["id"]
    about = {healthy, auth_id}
    date = await set_date(sandbox, healthy, 20)

    assert await events_since(sandbox, seen, about) == [
        (ACCOUNT + "expected_deactivation_date_updated", healthy),
        (AUTHORIZATION + "expected_deactivation_date_updated", auth_id),
        (ACCOUNT + "upcoming_deactivation", healthy),
        (AUTHORIZATION + "upcoming_deactivation", auth_id),
    ]
    authorization = await authorization_of(sdk, healthy)
    assert authorization["status_details"]["active"] == {
        "action": "relink_required",
        "expected_deactivation_date": date,
    }

    # The same date again changes nothing; a new one is announced, and warned of anew.
    await set_date(sandbox, healthy, 20)
    assert await events_since(sandbox, seen, about) == []
    await set_date(sandbox, healthy, 25)
    assert await events_since(sandbox, seen, about) == [
        (ACCOUNT + "expected_deactivation_date_updated", healthy),
        (AUTHORIZATION + "expected_deactivation_date_updated", auth_id),
        (ACCOUNT + "upcoming_deactivation", healthy),
        (AUTHORIZATION + "upcoming_deactivation", auth_id),
    ]


async def test_a_later_date_is_warned_of_30_days_before_on_the_sandboxs_clock(
    sandbox: RunningSandbox, sdk: stripe.StripeClient, demo: dict[str, Any]
) -> None:
    healthy = demo["accounts"]["healthy"]
    auth_id = (await authorization_of(sdk, healthy))["id"]
    seen: set[str] = set()
    await events_since(sandbox, seen)
    about = {healthy, auth_id}

    await set_date(sandbox, healthy, 60)
    assert await events_since(sandbox, seen, about) == [
        (ACCOUNT + "expected_deactivation_date_updated", healthy),
        (AUTHORIZATION + "expected_deactivation_date_updated", auth_id),
    ]

    await advance(sandbox, 20)  # 40 days left
    assert await events_since(sandbox, seen, about) == []
    await advance(sandbox, 11)  # 29 days left
    assert await events_since(sandbox, seen, about) == [
        (ACCOUNT + "upcoming_deactivation", healthy),
        (AUTHORIZATION + "upcoming_deactivation", auth_id),
    ]
    await advance(sandbox, 1)
    assert await events_since(sandbox, seen, about) == []

    # The date passes: the account deactivates, and the app hears of it.
    await advance(sandbox, 30)
    assert await events_since(sandbox, seen, about) == [(ACCOUNT + "deactivated", healthy)]
    account = await sdk.v1.financial_connections.accounts.retrieve_async(healthy)
    assert account.status == "inactive"
    assert account.to_dict()["status_details"]["inactive"] == {
        "action": "relink_required",
        "cause": "access_expired",
    }
    assert (await authorization_of(sdk, healthy))["status"] == "inactive"
    flushed = await sandbox.client.post("/sandbox/control/outbox/flush")
    assert flushed.json()["pending"] == 0, flushed.text
    seen_by_app = await sandbox.client.get(
        f"/v1/accounts/{healthy}", headers={"Authorization": f"Bearer {demo['token']}"}
    )
    assert seen_by_app.json()["link_health"] == "relink_required"


async def test_the_clock_moves_only_forward(sandbox: RunningSandbox) -> None:
    for days in (0, -1):
        response = await sandbox.client.post("/sandbox/control/clock/advance", json={"days": days})
        assert response.status_code == 422, response.text
