"""Account events from link-health transitions, written in the transaction that applies the
snapshot: each transition once, with the payload docs/events.md describes, and nothing for
a snapshot that changes nothing or a transaction that rolls back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from relink_api.accounts import state
from relink_api.accounts.models import Source
from relink_api.accounts.state import Notice, Observation, Origin, Read, RelinkRead
from relink_api.db import Database
from relink_api.gateway.objects import FcAccount
from relink_api.settings import Settings
from tests.conftest import make_settings
from tests.factories import fc_account, fc_session

SYNC = Read(Source.sync)
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # No loop of the server's own runs beside the test: it drives time itself.
    return make_settings(database_url, outbound_workers=0, reminder_interval_seconds=0)


async def observe(
    db: Database, account_id: str, at: datetime, origin: Origin = SYNC, **kwargs: Any
) -> state.AppliedSnapshot:
    """Apply what Stripe says of the account (``fc_account`` keywords) as of ``at``."""
    raw = fc_account(account_id, **kwargs)
    async with db.transaction() as conn:
        return await state.apply(conn, Observation(FcAccount.model_validate(raw), raw, at, origin))


async def events(db: Database) -> list[dict[str, Any]]:
    """Every outbound event, oldest first, as stored (the envelope)."""
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbound_events ORDER BY created_at, account_id, type"
        )
    return [row["payload"] for row in rows]


async def relink_session(db: Database, session_id: str, account_id: str) -> None:
    """A relink session of cus_A's, as relink creation stores one."""
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO relink_sessions (id, stripe_session_id, customer_id, scope, "
            "authorization_id, account_id, permissions) "
            "VALUES ($1, $1 || '_stripe', 'cus_A', 'account', 'fcauth_1', $2, '{}')",
            session_id,
            account_id,
        )


async def episodes(db: Database) -> list[dict[str, Any]]:
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT * FROM link_breaks ORDER BY id")
    return [dict(row) for row in rows]


BROKEN: dict[str, Any] = {
    "status": "inactive",
    "action": "relink_required",
    "cause": "access_expired",
}
RELINK = {
    "page_path": "/",
    "hosted_relink_request": {
        "method": "POST",
        "path": "/v1/relink-sessions",
        "body": {"account_id": "fca_checking", "ui_mode": "hosted", "delivery": "url"},
    },
}


async def test_a_state_change_that_rolls_back_emits_nothing(db: Database) -> None:
    raw = fc_account(**BROKEN)

    async def apply_then_fail() -> None:
        async with db.transaction() as conn:
            await state.apply(conn, Observation(FcAccount.model_validate(raw), raw, T0, SYNC))
            # Written in the caller's transaction, so its rollback takes them along.
            assert await conn.fetchval("SELECT count(*) FROM outbound_events") == 1
            assert await conn.fetchval("SELECT count(*) FROM link_breaks") == 1
            raise RuntimeError("the caller fails after applying")

    with pytest.raises(RuntimeError):
        await apply_then_fail()

    assert await events(db) == []
    assert await episodes(db) == []
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 0


async def test_a_break_and_its_recovery_emit_one_event_each_with_the_documented_payload(
    db: Database, client: httpx.AsyncClient, auth_a: dict[str, str]
) -> None:
    await observe(db, "fca_checking", T0 - timedelta(days=1))
    await observe(db, "fca_checking", T0, Notice("evt_1", ordered=True), **BROKEN)
    shown = (await client.get("/v1/accounts/fca_checking", headers=auth_a)).json()
    # Redelivered, then re-read: nothing moved, nothing is emitted.
    await observe(db, "fca_checking", T0, Notice("evt_1", ordered=True), **BROKEN)
    await observe(db, "fca_checking", T0 + timedelta(hours=1), **BROKEN)

    [broke] = await events(db)
    assert broke["type"] == "account.relink_required"
    assert broke["timestamp"] == "2026-11-02T09:00:00Z"
    assert broke["data"] == {
        "account": shown,
        "customer_id": "cus_A",
        "link_health": "relink_required",
        "previous_link_health": "ok",
        "reminder": None,
        "relink": RELINK,
    }
    [episode] = await episodes(db)
    assert (episode["kind"], episode["cause"], episode["broken_at"]) == (
        "broken",
        "access_expired",
        T0,
    )
    assert episode["closed_at"] is None

    back = T0 + timedelta(days=2)
    await observe(db, "fca_checking", back)
    await observe(db, "fca_checking", back + timedelta(hours=1))

    _, recovered = await events(db)
    assert recovered["type"] == "account.recovered"
    assert recovered["data"]["previous_link_health"] == "relink_required"
    assert recovered["data"]["link_health"] == "ok"
    assert recovered["data"]["relink"] is None
    [episode] = await episodes(db)
    assert (episode["closed_at"], episode["closed_reason"]) == (back, "recovered")


async def test_a_new_account_that_first_appears_broken_is_a_break(db: Database) -> None:
    await observe(db, "fca_new", T0, **BROKEN)
    await observe(db, "fca_ok", T0)

    [broke] = await events(db)
    assert (broke["type"], broke["data"]["previous_link_health"]) == (
        "account.relink_required",
        None,
    )
    assert [episode["account_id"] for episode in await episodes(db)] == ["fca_new"]


async def test_expiring_then_broken_then_relinked_is_one_episode_and_one_recovery(
    db: Database,
) -> None:
    expected = T0 + timedelta(days=20)
    expiring: dict[str, Any] = {"action": "relink_required", "cause": "access_expired"}
    await observe(db, "fca_checking", T0)
    await observe(
        db,
        "fca_checking",
        T0 + timedelta(hours=1),
        expected_deactivation_date=int(expected.timestamp()),
        **expiring,
    )
    await observe(db, "fca_checking", expected, **BROKEN)
    relinked = expected + timedelta(hours=5)
    await observe(db, "fca_checking", relinked, RelinkRead("rls_1", "cus_A"))

    assert [
        (event["type"], event["data"]["previous_link_health"]) for event in await events(db)
    ] == [
        ("account.expiring", "ok"),
        ("account.relink_required", "expiring"),
        ("account.recovered", "relink_required"),
    ]
    [episode] = await episodes(db)
    assert episode["kind"] == "broken"
    assert episode["opened_at"] == T0 + timedelta(hours=1)
    assert episode["expected_at"] == expected
    assert episode["broken_at"] == expected
    assert (episode["closed_at"], episode["closed_reason"]) == (relinked, "relinked")


async def test_unrepairable_ends_the_episode_and_disconnected_emits_nothing(db: Database) -> None:
    await observe(db, "fca_checking", T0, **BROKEN)
    await observe(
        db,
        "fca_checking",
        T0 + timedelta(hours=1),
        status="inactive",
        action="none",
        cause="account_closed",
    )
    await observe(db, "fca_other", T0, **BROKEN)
    await observe(db, "fca_other", T0 + timedelta(hours=1), status="disconnected")

    assert [(event["type"], event["data"]["account"]["id"]) for event in await events(db)] == [
        ("account.relink_required", "fca_checking"),
        ("account.relink_required", "fca_other"),
        ("account.unrepairable", "fca_checking"),
    ]
    unrepairable = (await events(db))[2]["data"]
    assert (unrepairable["link_health"], unrepairable["relink"]) == ("unrepairable", None)
    assert [
        (episode["account_id"], episode["closed_reason"]) for episode in await episodes(db)
    ] == [
        ("fca_checking", "unrepairable"),
        ("fca_other", "disconnected"),
    ]


async def test_an_account_linked_in_place_of_a_broken_one_ends_its_episode(db: Database) -> None:
    await observe(db, "fca_checking", T0, **BROKEN)
    await relink_session(db, "rls_1", "fca_checking")
    replaced = T0 + timedelta(days=1)
    await observe(
        db,
        "fca_new",
        replaced,
        RelinkRead("rls_1", "cus_A", replaces_account_id="fca_checking"),
    )

    # The broken account stays inactive: no recovery is announced for it.
    assert [event["type"] for event in await events(db)] == ["account.relink_required"]
    [episode] = await episodes(db)
    assert (episode["closed_at"], episode["closed_reason"]) == (replaced, "new_account")


async def test_a_relink_the_customer_starts_is_recorded_once_on_the_open_episode(
    db: Database, client: httpx.AsyncClient, stripe_mock: respx.MockRouter, auth_a: dict[str, str]
) -> None:
    await observe(db, "fca_checking", T0, **BROKEN)
    stripe_mock.post("/v1/financial_connections/sessions").mock(
        side_effect=[
            httpx.Response(200, json=fc_session("fcsess_1")),
            httpx.Response(200, json=fc_session("fcsess_2")),
        ]
    )

    first = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )
    second = await client.post(
        "/v1/relink-sessions", json={"account_id": "fca_checking"}, headers=auth_a
    )

    assert (first.status_code, second.status_code) == (201, 201)
    [episode] = await episodes(db)
    assert episode["relink_started_at"] == datetime.fromisoformat(first.json()["created_at"])
