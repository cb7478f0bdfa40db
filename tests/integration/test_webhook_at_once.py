"""The one-statement path for webhook account events (migration 0015) against the rules it
takes over from ``accounts.state.apply``: the same snapshot, applied to two identical
accounts, one through each path, leaves the same rows; and every case the statement does
not take writes nothing, so the service's own path applies it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from relink_api.accounts import state
from relink_api.accounts.state import read_time
from relink_api.db import Database
from relink_api.webhooks.handlers import planned
from relink_api.webhooks.service import parse_event
from tests.conftest import Seed
from tests.factories import fc_account
from tests.stripe_events import encode, event

FAST, SLOW = "fca_fast", "fca_slow"
IN_A_YEAR = int(time.time()) + 365 * 86400
NUMBERS = [{"identifier_type": "tokenized_account_number", "status": "transactable"}]


def delivered(account_id: str, *, created: int | None = None, **account: Any) -> Any:
    """An account event as the service reads it: the event, its document and its plan's
    one observation."""
    document = event(
        "financial_connections.account.account_numbers_updated",
        fc_account(account_id, **account),
        created=created,
    )
    parsed, cleaned = parse_event(encode(document))
    plan = planned(parsed)
    assert plan is not None
    assert len(plan.accounts) == 1
    return parsed, cleaned, plan.accounts[0]


async def stored(db: Database, account_id: str) -> dict[str, Any]:
    """The account's row and history, with what names the account itself left out."""
    async with db.connection() as conn:
        row = await conn.fetchrow("SELECT * FROM accounts WHERE id = $1", account_id)
        history = await conn.fetch(
            "SELECT from_status, to_status, from_health, to_health, action, cause, source "
            "FROM account_status_history WHERE account_id = $1 ORDER BY id",
            account_id,
        )
    assert row is not None
    # A notice leaves confirmed_at as it was (the tests check it): only its clock differs.
    skipped = ("id", "created_at", "updated_at", "confirmed_at")
    values = {k: v for k, v in dict(row).items() if k not in skipped}
    values["snapshot"] = {k: v for k, v in values["snapshot"].items() if k != "id"}
    return {"row": values, "history": [dict(record) for record in history]}


async def confirmed_at(db: Database, *account_ids: str) -> list[Any]:
    """Each account's last confirmation (``None`` when not stored, or never read)."""
    async with db.connection() as conn:
        return [
            await conn.fetchval("SELECT confirmed_at FROM accounts WHERE id = $1", account_id)
            for account_id in account_ids
        ]


async def recorded(db: Database, event_id: str) -> str | None:
    """The event's result, if it is recorded (and marked processed)."""
    async with db.connection() as conn:
        result: str | None = await conn.fetchval(
            "SELECT result FROM webhook_events WHERE id = $1 AND processed_at IS NOT NULL",
            event_id,
        )
    return result


# (what is stored first, or None for a new account; the event's account; its result)
SAME_ROWS: dict[str, tuple[dict[str, Any] | None, dict[str, Any], str]] = {
    "a new healthy account": (None, {}, "applied"),
    "a new account without an account holder": (None, {"customer": None}, "applied"),
    "nothing but the fields moves": (
        {},
        {"display_name": "Bills", "last4": "4321", "permissions": ["balances"]},
        "applied",
    ),
    "an account number far from expiry": (
        {},
        {"account_numbers": [{**NUMBERS[0], "expected_expiry_date": IN_A_YEAR}]},
        "applied",
    ),
    "a broken account reported broken again": (
        {"status": "inactive", "action": "relink_required", "cause": "access_expired"},
        {"status": "inactive", "action": "relink_required", "cause": "access_expired"},
        "applied",
    ),
    "an expiring account still expiring": (
        {"action": "relink_required", "expected_deactivation_date": IN_A_YEAR},
        {"action": "relink_required", "expected_deactivation_date": IN_A_YEAR + 86400},
        "applied",
    ),
    "a holder-less account its owner keeps": (
        {"customer": None, "owner": "cus_Owner"},
        {"customer": None, "display_name": "Renamed"},
        "applied",
    ),
    "a snapshot older than the stored state": ({}, {"display_name": "Old"}, "stale"),
}


async def test_one_statement_leaves_what_state_apply_leaves(db: Database, seed: Seed) -> None:
    # One database for every case (each on its own accounts): cheaper than one per case.
    for n, (case, (first, account, result)) in enumerate(SAME_ROWS.items()):
        fast_id, slow_id = f"{FAST}{n}", f"{SLOW}{n}"
        if first is not None:
            # One Stripe time for both: each seed's own "an hour ago" could fall either side
            # of a second's boundary, and the stored times (inactive_since) would differ.
            as_of = read_time() - timedelta(hours=1)
            for account_id in (fast_id, slow_id):
                await seed(account_id, as_of=as_of, **first)
        confirmed = await confirmed_at(db, fast_id, slow_id)
        created = int(time.time()) - (7200 if result == "stale" else 0)
        fast, fast_document, fast_observation = delivered(fast_id, created=created, **account)
        _, _, slow_observation = delivered(slow_id, created=created, **account)

        async with db.connection() as conn:
            outcome = await state.apply_at_once(conn, fast_observation, fast, fast_document)
        async with db.transaction() as conn:
            applied = await state.apply(conn, slow_observation)

        assert (case, outcome, applied.stale) == (case, result, result == "stale")
        one, other = await stored(db, fast_id), await stored(db, slow_id)
        differing = {k: (v, other["row"][k]) for k, v in one["row"].items() if other["row"][k] != v}
        assert (case, differing, one["history"]) == (case, {}, other["history"])
        assert await confirmed_at(db, fast_id, slow_id) == confirmed, case
        assert await recorded(db, fast.id) == result, case


# (what is stored first, or None for a new account; the event's account)
DECLINED: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {
    "a break": ({}, {"status": "inactive", "action": "relink_required"}),
    "a recovery": ({"status": "inactive", "action": "relink_required"}, {}),
    "a new broken account": (None, {"status": "inactive", "action": "relink_required"}),
    "a new expiring account": (
        None,
        {"action": "relink_required", "expected_deactivation_date": IN_A_YEAR},
    ),
    "a cause that moves": (
        {"status": "inactive", "action": "relink_required", "cause": "access_expired"},
        {"status": "inactive", "action": "relink_required", "cause": "account_closed"},
    ),
    "another customer": ({}, {"customer": "cus_B"}),
    "a first customer": ({"customer": None}, {"customer": "cus_B"}),
    "a status this version does not know": ({}, {"status": "frozen"}),
}


async def test_what_one_statement_does_not_take_writes_nothing(db: Database, seed: Seed) -> None:
    for n, (case, (first, account)) in enumerate(DECLINED.items()):
        fast_id = f"{FAST}{n}"
        if first is not None:
            await seed(fast_id, **first)
        before = await stored(db, fast_id) if first is not None else None
        fast, fast_document, fast_observation = delivered(fast_id, **account)

        async with db.connection() as conn:
            outcome = await state.apply_at_once(conn, fast_observation, fast, fast_document)
            stored_now = await conn.fetchval("SELECT count(*) FROM accounts WHERE id = $1", fast_id)
        assert (case, outcome) == (case, None)
        assert await recorded(db, fast.id) is None, case
        if before is None:
            assert stored_now == 0, case
        else:
            assert await stored(db, fast_id) == before, case


async def test_a_new_account_another_transaction_inserts_meanwhile_is_declined(
    db: Database,
) -> None:
    (_, _, first), (second, document, observation) = (
        delivered(FAST, display_name=name) for name in ("One", "Two")
    )
    async with db.connection() as conn:
        async with db.transaction() as holder:
            # Inserted, not yet committed: the attempt's read cannot see it, its insert waits.
            await state.apply(holder, first)
            attempt = asyncio.create_task(state.apply_at_once(conn, observation, second, document))
            await waiting_on_a_lock(db)
        assert await attempt is None
    assert await recorded(db, second.id) is None
    assert (await stored(db, FAST))["row"]["display_name"] == "One"


async def waiting_on_a_lock(db: Database, deadline_s: float = 5.0) -> None:
    """Until some statement of this database waits on a lock."""
    loop = asyncio.get_running_loop()
    until = loop.time() + deadline_s
    async with db.connection() as conn:
        while not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock')"
        ):
            assert loop.time() < until, "the attempt never waited on the insert"
            await asyncio.sleep(0.01)
