"""POST /v1/webhooks/stripe, past the signature: what each event does to stored state, in
which order events win, when Stripe is re-read, and what happens when the database is gone."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import respx
from fastapi import FastAPI

from relink_api.db import Database
from relink_api.settings import DEFAULT_STRIPE_API_VERSION
from relink_api.webhooks.service import prune_events
from tests.conftest import Seed
from tests.factories import fc_account, fc_authorization
from tests.factories import tokenized_number as tan
from tests.stripe_events import deliver, event
from tests.support import assert_problem, at, parsed

ACCOUNTS = "/v1/financial_connections/accounts"
ACCOUNT_URL = f"{ACCOUNTS}/fca_checking"
DAY = 86_400
# Dates a few days ahead of the run: link health compares them with the database clock.
NOW = int(time.time())
DEACTIVATION = NOW + 20 * DAY
TAN_SOON = NOW + 10 * DAY
TAN_LATER = NOW + 25 * DAY


async def stored(
    client: httpx.AsyncClient, headers: dict[str, str], account_id: str = "fca_checking"
) -> dict[str, Any]:
    response = await client.get(f"/v1/accounts/{account_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def state(body: dict[str, Any]) -> dict[str, Any]:
    """The fields an event sets, with dates as datetimes."""
    return {
        "status": body["status"],
        "action": body["action"],
        "cause": body["cause"],
        "link_health": body["link_health"],
        "expected_deactivation_at": parsed(body["expected_deactivation_at"]),
        "account_number_expires_at": parsed(body["account_number_expires_at"]),
    }


async def history(db: Database, account_id: str = "fca_checking") -> list[dict[str, Any]]:
    async with db.connection() as conn:
        records = await conn.fetch(
            "SELECT from_status, to_status, from_health, to_health, action, cause, source, "
            "event_id FROM account_status_history WHERE account_id = $1 ORDER BY id",
            account_id,
        )
    return [dict(record) for record in records]


async def logged(db: Database, event_id: str | None = None) -> list[dict[str, Any]]:
    """Rows of the event log (one event's, or all), oldest first."""
    async with db.connection() as conn:
        records = await conn.fetch(
            "SELECT id, type, object_id, api_version, result, processed_at FROM webhook_events "
            "WHERE $1::text IS NULL OR id = $1 ORDER BY received_at, id",
            event_id,
        )
    return [dict(record) for record in records]


def ack(response: httpx.Response, document: dict[str, Any], result: str) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "event_id": document["id"], "result": result}


# --- each account event type --------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    type: str
    before: dict[str, Any] | None  # seed() keywords; None: the account was never seen
    after: dict[str, Any]  # fc_account() keywords of the event's account
    expect: dict[str, Any]
    # (from_status, to_status, from_health, to_health) of the one history row; None: no row
    moved: tuple[str | None, str, str | None, str] | None


def expect(
    status: str,
    health: str,
    *,
    action: str | None = None,
    cause: str | None = None,
    deactivation: int | None = None,
    number_expiry: int | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "action": action,
        "cause": cause,
        "link_health": health,
        "expected_deactivation_at": at(deactivation) if deactivation else None,
        "account_number_expires_at": at(number_expiry) if number_expiry else None,
    }


ACCOUNT_CASES = [
    Case(
        "financial_connections.account.deactivated",
        before={
            "status": "active",
            "action": "relink_required",
            "cause": "access_expired",
            "expected_deactivation_date": DEACTIVATION,
        },
        after={"status": "inactive", "action": "relink_required", "cause": "access_expired"},
        expect=expect(
            "inactive", "relink_required", action="relink_required", cause="access_expired"
        ),
        moved=("active", "inactive", "expiring", "relink_required"),
    ),
    Case(
        "financial_connections.account.deactivated",
        before={"status": "active"},
        after={"status": "inactive", "action": "none", "cause": "account_closed"},
        expect=expect("inactive", "unrepairable", action="none", cause="account_closed"),
        moved=("active", "inactive", "ok", "unrepairable"),
    ),
    Case(
        "financial_connections.account.reactivated",
        before={"status": "inactive", "action": "relink_required", "cause": "access_expired"},
        after={"status": "active"},
        expect=expect("active", "ok"),
        moved=("inactive", "active", "relink_required", "ok"),
    ),
    Case(
        "financial_connections.account.disconnected",
        before={"status": "active"},
        after={"status": "disconnected"},
        expect=expect("disconnected", "disconnected"),
        moved=("active", "disconnected", "ok", "disconnected"),
    ),
    Case(
        "financial_connections.account.upcoming_deactivation",
        before={"status": "active"},
        after={
            "status": "active",
            "action": "relink_required",
            "cause": "access_expired",
            "expected_deactivation_date": DEACTIVATION,
        },
        expect=expect(
            "active",
            "expiring",
            action="relink_required",
            cause="access_expired",
            deactivation=DEACTIVATION,
        ),
        moved=("active", "active", "ok", "expiring"),
    ),
    Case(
        "financial_connections.account.expected_deactivation_date_updated",
        before={"status": "active"},
        after={
            "status": "active",
            "action": "relink_required",
            "cause": "institution_requirement",
            "expected_deactivation_date": DEACTIVATION + 3 * DAY,
        },
        expect=expect(
            "active",
            "expiring",
            action="relink_required",
            cause="institution_requirement",
            deactivation=DEACTIVATION + 3 * DAY,
        ),
        moved=("active", "active", "ok", "expiring"),
    ),
    Case(
        "financial_connections.account.account_numbers_updated",
        before={"status": "active"},
        after={"status": "active", "account_numbers": tan(TAN_SOON)},
        expect=expect("active", "expiring", number_expiry=TAN_SOON),
        moved=("active", "active", "ok", "expiring"),
    ),
    Case(
        "financial_connections.account.upcoming_account_number_expiry",
        before={"status": "active", "account_numbers": tan(NOW + 60 * DAY)},
        after={"status": "active", "account_numbers": tan(TAN_LATER)},
        expect=expect("active", "expiring", number_expiry=TAN_LATER),
        moved=("active", "active", "ok", "expiring"),
    ),
    Case(
        "financial_connections.account.created",
        before=None,
        after={"status": "active"},
        expect=expect("active", "ok"),
        moved=(None, "active", None, "ok"),
    ),
    # Nothing moved: the event is applied, but there is no transition to record.
    Case(
        "financial_connections.account.account_numbers_updated",
        before={"status": "active"},
        after={"status": "active"},
        expect=expect("active", "ok"),
        moved=None,
    ),
]


@pytest.mark.parametrize(
    "case",
    ACCOUNT_CASES,
    ids=[
        f"{case.type.rsplit('.', 1)[-1]}-{'moved' if case.moved else 'unchanged'}-{n}"
        for n, case in enumerate(ACCOUNT_CASES)
    ],
)
async def test_each_account_event_sets_the_state_its_snapshot_says(
    case: Case,
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    if case.before is not None:
        await seed(**case.before)
    earlier = await history(db)
    document = event(case.type, fc_account(**case.after))

    response = await deliver(client, document)

    ack(response, document, "applied")
    assert state(await stored(client, auth_a)) == case.expect
    new_rows = (await history(db))[len(earlier) :]
    if case.moved is None:
        assert new_rows == []
    else:
        from_status, to_status, from_health, to_health = case.moved
        assert new_rows == [
            {
                "from_status": from_status,
                "to_status": to_status,
                "from_health": from_health,
                "to_health": to_health,
                "action": case.expect["action"],
                "cause": case.expect["cause"],
                "source": "webhook",
                "event_id": document["id"],
            }
        ]
    [row] = await logged(db, document["id"])
    assert (row["type"], row["object_id"], row["result"]) == (
        case.type,
        "fca_checking",
        "applied",
    )
    assert row["processed_at"] is not None


async def test_a_new_expected_deactivation_date_replaces_the_old_one(
    client: httpx.AsyncClient, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(
        status="active",
        action="relink_required",
        cause="access_expired",
        expected_deactivation_date=DEACTIVATION,
    )
    document = event(
        "financial_connections.account.expected_deactivation_date_updated",
        fc_account(
            status="active",
            action="relink_required",
            cause="access_expired",
            expected_deactivation_date=DEACTIVATION + 7 * DAY,
        ),
    )

    ack(await deliver(client, document), document, "applied")

    body = await stored(client, auth_a)
    assert parsed(body["expected_deactivation_at"]) == at(DEACTIVATION + 7 * DAY)
    assert body["link_health"] == "expiring"


async def test_an_account_never_seen_is_created_for_its_account_holder(
    client: httpx.AsyncClient,
    db: Database,
    auth_a: dict[str, str],
    auth_b: dict[str, str],
) -> None:
    created = int(time.time()) - 120
    document = event(
        "financial_connections.account.deactivated",
        fc_account(
            "fca_unknown",
            customer="cus_B",
            status="inactive",
            action="relink_required",
            cause="access_expired",
        ),
        created=created,
    )

    ack(await deliver(client, document), document, "applied")

    body = await stored(client, auth_b, "fca_unknown")
    assert (body["status"], body["link_health"], body["cause"]) == (
        "inactive",
        "relink_required",
        "access_expired",
    )
    assert parsed(body["inactive_since"]) == at(created)
    other = await client.get("/v1/accounts/fca_unknown", headers=auth_a)
    assert_problem(other, 404, "not-found")
    async with db.connection() as conn:
        owner = await conn.fetchrow(
            "SELECT customer_id, owner_source FROM accounts WHERE id = 'fca_unknown'"
        )
    assert owner is not None
    assert dict(owner) == {"customer_id": "cus_B", "owner_source": "account_holder"}
    assert [(row["source"], row["event_id"]) for row in await history(db, "fca_unknown")] == [
        ("webhook", document["id"])
    ]


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        (
            "financial_connections.account.refreshed_balance",
            fc_account(status="inactive", action="relink_required", cause="access_expired"),
        ),
        ("customer.created", {"id": "cus_C", "object": "customer", "email": "c@example.com"}),
    ],
)
async def test_an_unhandled_event_type_is_logged_and_changes_nothing(
    event_type: str,
    obj: dict[str, Any],
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed(status="active")
    before = await stored(client, auth_a)
    earlier = await history(db)
    document = event(event_type, obj)

    ack(await deliver(client, document), document, "ignored")

    [row] = await logged(db)
    assert (row["id"], row["type"], row["object_id"], row["result"]) == (
        document["id"],
        event_type,
        obj["id"],
        "ignored",
    )
    assert row["processed_at"] is not None
    assert await stored(client, auth_a) == before
    assert await history(db) == earlier
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 1


# --- order -------------------------------------------------------------------------------


async def test_an_older_event_arriving_later_is_logged_as_stale(
    client: httpx.AsyncClient, db: Database, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="inactive", action="relink_required", cause="access_expired")
    now = int(time.time())
    newer = event(
        "financial_connections.account.reactivated", fc_account(status="active"), created=now
    )
    older = event(
        "financial_connections.account.deactivated",
        fc_account(status="inactive", action="relink_required", cause="access_denied"),
        created=now - 30,
    )

    ack(await deliver(client, newer), newer, "applied")
    ack(await deliver(client, older), older, "stale")

    body = await stored(client, auth_a)
    assert (body["status"], body["link_health"], body["cause"]) == ("active", "ok", None)
    assert body["inactive_since"] is None
    assert [(row["id"], row["result"]) for row in await logged(db)] == [
        (newer["id"], "applied"),
        (older["id"], "stale"),
    ]
    webhook_rows = [row for row in await history(db) if row["source"] == "webhook"]
    assert [(row["to_status"], row["event_id"]) for row in webhook_rows] == [
        ("active", newer["id"])
    ]


async def test_a_payload_without_preview_fields_is_settled_by_rereading_the_account(
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
) -> None:
    await seed(status="active")
    # A webhook endpoint on a non-preview API version renders the account without them.
    payload = fc_account(status="inactive", action="relink_required", cause="access_expired")
    del payload["status_details"]
    del payload["authorization"]
    document = event(
        "financial_connections.account.deactivated",
        payload,
        api_version="2024-06-20",
        created=int(time.time()) - 120,
    )
    route = stripe_mock.get(ACCOUNT_URL).respond(
        200,
        json=fc_account(
            status="inactive",
            action="relink_required",
            cause="access_denied",
            authorization="fcauth_reread",
        ),
    )

    ack(await deliver(client, document), document, "applied")

    assert route.call_count == 1
    # Re-read at the pinned (preview) version, not at the endpoint's.
    assert route.calls.last.request.headers["stripe-version"] == DEFAULT_STRIPE_API_VERSION
    body = await stored(client, auth_a)
    assert (body["status"], body["action"], body["cause"], body["link_health"]) == (
        "inactive",
        "relink_required",
        "access_denied",
        "relink_required",
    )
    assert body["authorization_id"] == "fcauth_reread"
    # The outage began when the event says, not when the account was re-read.
    assert parsed(body["inactive_since"]) == at(document["created"])
    [row] = await logged(db)
    assert (row["api_version"], row["result"]) == ("2024-06-20", "applied")
    assert [(row["source"], row["event_id"]) for row in (await history(db))[1:]] == [
        ("webhook", document["id"])
    ]


@pytest.mark.parametrize(
    ("stripe_says", "expected"),
    [
        (
            {"status": "inactive", "action": "none", "cause": "account_closed"},
            ("inactive", "none", "account_closed", "unrepairable"),
        ),
        ({"status": "active"}, ("active", None, None, "ok")),
    ],
    ids=["stripe-says-inactive", "stripe-says-active"],
)
async def test_a_conflicting_event_of_the_same_second_is_settled_by_stripe(
    stripe_says: dict[str, Any],
    expected: tuple[str, str | None, str | None, str],
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
) -> None:
    created = int(time.time()) - 60
    await seed(status="active", as_of=at(created))
    document = event(
        "financial_connections.account.deactivated",
        fc_account(status="inactive", action="relink_required", cause="access_expired"),
        created=created,
    )
    route = stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account(**stripe_says))

    ack(await deliver(client, document), document, "applied")

    assert route.call_count == 1
    body = await stored(client, auth_a)
    assert (body["status"], body["action"], body["cause"], body["link_health"]) == expected
    assert [(row["id"], row["result"]) for row in await logged(db)] == [(document["id"], "applied")]


async def test_a_conflict_over_an_account_stripe_no_longer_knows_applies_the_payload(
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
) -> None:
    created = int(time.time()) - 60
    await seed(status="active", as_of=at(created))
    document = event(
        "financial_connections.account.deactivated",
        fc_account(status="inactive", action="relink_required", cause="access_expired"),
        created=created,
    )
    route = stripe_mock.get(ACCOUNT_URL).respond(
        404,
        json={
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": "No such financial_connections.account: 'fca_checking'",
            }
        },
    )

    ack(await deliver(client, document), document, "applied")

    assert route.call_count == 1
    body = await stored(client, auth_a)
    assert (body["status"], body["cause"]) == ("inactive", "access_expired")
    assert [(row["id"], row["result"]) for row in await logged(db)] == [(document["id"], "applied")]


async def test_the_first_deactivation_time_survives_redelivery_and_later_events(
    client: httpx.AsyncClient, db: Database, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="active")
    start = int(time.time()) - 1000

    def deactivated(created: int, cause: str) -> dict[str, Any]:
        return event(
            "financial_connections.account.deactivated",
            fc_account(status="inactive", action="relink_required", cause=cause),
            created=created,
        )

    first = deactivated(start, "access_expired")
    ack(await deliver(client, first), first, "applied")
    assert parsed((await stored(client, auth_a))["inactive_since"]) == at(start)

    ack(await deliver(client, first), first, "duplicate")
    later = deactivated(start + 100, "institution_requirement")
    ack(await deliver(client, later), later, "applied")
    body = await stored(client, auth_a)
    assert body["cause"] == "institution_requirement"
    assert parsed(body["inactive_since"]) == at(start)

    back = event(
        "financial_connections.account.reactivated",
        fc_account(status="active"),
        created=start + 200,
    )
    ack(await deliver(client, back), back, "applied")
    assert (await stored(client, auth_a))["inactive_since"] is None

    again = deactivated(start + 300, "access_denied")
    ack(await deliver(client, again), again, "applied")
    assert parsed((await stored(client, auth_a))["inactive_since"]) == at(start + 300)
    assert len(await logged(db)) == 4


# --- authorization events ----------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "financial_connections.authorization.upcoming_deactivation",
        "financial_connections.authorization.expected_deactivation_date_updated",
    ],
)
async def test_an_authorization_event_records_it_and_rereads_its_accounts(
    event_type: str,
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    stripe_mock: respx.MockRouter,
    auth_a: dict[str, str],
) -> None:
    await seed("fca_checking", status="active")
    await seed("fca_savings", status="active", subcategory="savings")
    await seed("fca_elsewhere", status="active", authorization="fcauth_2")
    routes = {
        account_id: stripe_mock.get(f"{ACCOUNTS}/{account_id}").respond(
            200,
            json=fc_account(
                account_id,
                status="active",
                action="relink_required",
                cause="access_expired",
                expected_deactivation_date=DEACTIVATION,
            ),
        )
        for account_id in ("fca_checking", "fca_savings", "fca_elsewhere")
    }
    authorization = fc_authorization(status="active")
    authorization["status_details"] = {
        "active": {"action": "relink_required", "expected_deactivation_date": DEACTIVATION}
    }
    document = event(event_type, authorization)

    ack(await deliver(client, document), document, "applied")

    async with db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT customer_id, status, action, expected_deactivation_at, state_as_of "
            "FROM authorizations WHERE id = 'fcauth_1'"
        )
    assert row is not None
    assert dict(row) == {
        "customer_id": "cus_A",
        "status": "active",
        "action": "relink_required",
        "expected_deactivation_at": at(DEACTIVATION),
        "state_as_of": at(document["created"]),
    }
    assert {account_id: route.call_count for account_id, route in routes.items()} == {
        "fca_checking": 1,
        "fca_savings": 1,
        "fca_elsewhere": 0,
    }
    for account_id in ("fca_checking", "fca_savings"):
        body = await stored(client, auth_a, account_id)
        assert (body["status"], body["action"], body["link_health"]) == (
            "active",
            "relink_required",
            "expiring",
        )
        assert parsed(body["expected_deactivation_at"]) == at(DEACTIVATION)
        assert [(r["source"], r["event_id"]) for r in (await history(db, account_id))[1:]] == [
            ("webhook", document["id"])
        ]
    untouched = await stored(client, auth_a, "fca_elsewhere")
    assert (untouched["link_health"], untouched["expected_deactivation_at"]) == ("ok", None)


# --- the database is down ----------------------------------------------------------------


async def test_database_down_is_a_503_and_the_redelivery_is_applied(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed(status="active")
    document = event(
        "financial_connections.account.deactivated",
        fc_account(status="inactive", action="relink_required", cause="access_expired"),
    )
    # A pool whose server is nowhere: every acquire fails to connect.
    nowhere = f"postgresql://postgres@/relink?host=/tmp/nowhere-{secrets.token_hex(6)}"
    down = Database(await asyncpg.create_pool(nowhere, min_size=0))
    app.state.database = down
    try:
        response = await deliver(client, document)
    finally:
        app.state.database = db
        await down.close()

    assert_problem(response, 503, "database-unavailable", instance="/v1/webhooks/stripe")
    retry_after = response.headers.get("retry-after")
    assert retry_after is not None
    assert retry_after.isdigit()
    assert int(retry_after) > 0
    assert await logged(db) == []
    assert (await stored(client, auth_a))["status"] == "active"

    ack(await deliver(client, document), document, "applied")

    assert [(row["id"], row["result"]) for row in await logged(db)] == [(document["id"], "applied")]
    assert (await stored(client, auth_a))["status"] == "inactive"


# --- retention ---------------------------------------------------------------------------


async def test_prune_deletes_only_events_older_than_the_retention(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute(
            """
            INSERT INTO webhook_events (id, type, created, payload, received_at)
            VALUES ('evt_31_days', 'customer.created', now(), '{}', now() - interval '31 days'),
                   ('evt_29_days', 'customer.created', now(), '{}', now() - interval '29 days')
            """
        )

    assert await prune_events(db, retention_days=30) == 1
    assert [row["id"] for row in await logged(db)] == ["evt_29_days"]

    with pytest.raises(ValueError, match="30 days"):
        await prune_events(db, retention_days=29)
    assert [row["id"] for row in await logged(db)] == ["evt_29_days"]
