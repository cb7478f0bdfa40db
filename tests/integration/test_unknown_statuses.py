"""A status Stripe adds after this code was written (the SDK types `status` as an open
string): stored as Stripe sent it, shown as `unknown`, due for a re-read, and logged as an
alert; never a 400 that Stripe would redeliver for days."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from relink_api.accounts.schemas import AccountList, AuthorizationRead
from relink_api.db import Database
from tests.conftest import Seed
from tests.factories import fc_account, fc_authorization
from tests.stripe_events import deliver, event

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_URL = "/v1/financial_connections/accounts/fca_checking"
AUTHORIZATION_URL = "/v1/financial_connections/authorizations/fcauth_1"
NEW_STATUS = "suspended"


async def stored_row(db: Database, account_id: str = "fca_checking") -> dict[str, Any]:
    async with db.connection() as conn:
        record = await conn.fetchrow(
            "SELECT status, confirmed_at, relink_link_health(status, action, "
            "account_number_expires_at, now()) AS health FROM accounts WHERE id = $1",
            account_id,
        )
    assert record is not None
    return dict(record)


async def history(db: Database) -> list[tuple[str | None, str, str, str, str | None]]:
    async with db.connection() as conn:
        records = await conn.fetch(
            "SELECT from_status, to_status, to_health, source, event_id "
            "FROM account_status_history WHERE account_id = 'fca_checking' ORDER BY id"
        )
    return [tuple(record.values()) for record in records]


def enum_of(schema: str) -> list[str]:
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    values: list[str] = document["components"]["schemas"][schema]["enum"]
    return values


async def test_an_account_event_with_a_new_status_is_stored_and_marked_for_a_reread(
    client: httpx.AsyncClient,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed(status="active")
    assert (await stored_row(db))["confirmed_at"] is not None
    document = event("financial_connections.account.deactivated", fc_account(status=NEW_STATUS))
    caplog.set_level(logging.WARNING, logger="relink_api")

    response = await deliver(client, document)

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "applied"
    row = await stored_row(db)
    assert row["status"] == NEW_STATUS  # Stripe's word, as it was sent
    assert row["health"] == "unknown"
    assert row["confirmed_at"] is None  # the next sync re-reads it first
    assert (await history(db))[-1] == ("active", NEW_STATUS, "unknown", "webhook", document["id"])
    alerts = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and NEW_STATUS in record.getMessage()
    ]
    assert alerts, caplog.text
    assert document["id"] in alerts[0].getMessage()
    assert "fca_checking" in alerts[0].getMessage()

    # The API says it does not know, in values its own schema (and generated clients) know.
    account = (await client.get("/v1/accounts/fca_checking", headers=auth_a)).json()
    assert (account["status"], account["link_health"]) == ("unknown", "unknown")
    listed = await client.get("/v1/accounts", headers=auth_a)
    assert listed.status_code == 200, listed.text
    page = AccountList.model_validate(listed.json())
    assert [(item.id, item.status.value) for item in page.data] == [("fca_checking", "unknown")]
    assert listed.json()["data"][0]["status"] in enum_of("AccountStatus")
    assert listed.json()["data"][0]["link_health"] in enum_of("LinkHealth")
    unknown = await client.get("/v1/accounts", params={"health": "unknown"}, headers=auth_a)
    assert [item["id"] for item in unknown.json()["data"]] == ["fca_checking"]


async def test_a_later_event_with_a_known_status_applies_normally(
    client: httpx.AsyncClient, db: Database, seed: Seed, auth_a: dict[str, str]
) -> None:
    await seed(status="active")
    first = event("financial_connections.account.deactivated", fc_account(status=NEW_STATUS))
    assert (await deliver(client, first)).status_code == 200
    later = event(
        "financial_connections.account.deactivated",
        fc_account(status="inactive", action="relink_required", cause="access_expired"),
        created=first["created"] + 1,
    )

    response = await deliver(client, later)

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "applied"
    account = (await client.get("/v1/accounts/fca_checking", headers=auth_a)).json()
    assert (account["status"], account["link_health"]) == ("inactive", "relink_required")
    assert (await history(db))[-1] == (
        NEW_STATUS,
        "inactive",
        "relink_required",
        "webhook",
        later["id"],
    )


async def test_an_account_never_seen_with_a_new_status_is_stored(
    client: httpx.AsyncClient, db: Database, auth_a: dict[str, str]
) -> None:
    document = event("financial_connections.account.created", fc_account(status=NEW_STATUS))

    response = await deliver(client, document)

    assert response.status_code == 200, response.text
    row = await stored_row(db)
    assert (row["status"], row["health"], row["confirmed_at"]) == (NEW_STATUS, "unknown", None)
    account = (await client.get("/v1/accounts/fca_checking", headers=auth_a)).json()
    assert account["status"] == "unknown"


async def test_a_refresh_reading_a_new_status_keeps_the_account_due(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
) -> None:
    await seed(status="inactive", action="relink_required")
    stripe_mock.get(ACCOUNT_URL).respond(200, json=fc_account(status=NEW_STATUS))

    response = await client.post("/v1/accounts/fca_checking/refresh", headers=auth_a)

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["link_health"]) == ("unknown", "unknown")
    row = await stored_row(db)
    assert (row["status"], row["confirmed_at"]) == (NEW_STATUS, None)


async def test_an_authorization_with_a_new_status_is_stored_and_read_as_unknown(
    client: httpx.AsyncClient,
    stripe_mock: respx.MockRouter,
    db: Database,
    seed: Seed,
    auth_a: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed(status="inactive", action="relink_required")
    stripe_mock.get(ACCOUNT_URL).respond(
        200, json=fc_account(status="inactive", action="relink_required")
    )
    document = event(
        "financial_connections.authorization.upcoming_deactivation",
        fc_authorization(status=NEW_STATUS),
    )
    caplog.set_level(logging.WARNING, logger="relink_api")

    delivered = await deliver(client, document)

    assert delivered.status_code == 200, delivered.text
    async with db.connection() as conn:
        status = await conn.fetchval("SELECT status FROM authorizations WHERE id = 'fcauth_1'")
    assert status == NEW_STATUS
    assert any(
        "fcauth_1" in record.getMessage()
        and NEW_STATUS in record.getMessage()
        and document["id"] in record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
    ), caplog.text

    stripe_mock.get(AUTHORIZATION_URL).respond(200, json=fc_authorization(status=NEW_STATUS))
    response = await client.get("/v1/authorizations/fcauth_1", headers=auth_a)

    assert response.status_code == 200, response.text
    assert AuthorizationRead.model_validate(response.json()).status.value == "unknown"
