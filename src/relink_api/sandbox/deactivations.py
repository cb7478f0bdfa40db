"""Expected deactivation dates and what Stripe does about them (docs/stripe.md §4):
``expected_deactivation_date_updated`` whenever a date is set or changes,
``upcoming_deactivation`` 30 days before it (at once when the date is nearer), and the
account deactivated once the date has passed.

Time is the sandbox's clock: real time, plus however far the clock control has moved it. Due
notices and deactivations are sent whenever a date is set, the clock moves, and before every
round of webhook delivery.
"""

from __future__ import annotations

from typing import Any

from relink_api.db import Connection
from relink_api.sandbox import store, world
from relink_api.sandbox.wire import invalid

DAY = 86_400
NOTICE_DAYS = 30
_CLOCK = "sandbox_clock"


async def clock_now(conn: Connection) -> int:
    """The sandbox's time, in unix seconds."""
    clock = await store.get(conn, _CLOCK, type="clock")
    return world.now() + int((clock or {}).get("advanced_by", 0))


async def advance_clock(conn: Connection, *, days: int) -> dict[str, Any]:
    """Move the sandbox's clock ``days`` ahead and send what has come due; returns the clock."""
    clock = await store.get(conn, _CLOCK, type="clock", for_update=True) or {
        "id": _CLOCK,
        "object": "sandbox.clock",
        "advanced_by": 0,
    }
    clock["advanced_by"] = int(clock["advanced_by"]) + days * DAY
    await store.put(conn, clock, type="clock")
    await send_due(conn)
    return {**clock, "now": await clock_now(conn)}


async def set_expected_deactivation(
    conn: Connection, account_id: str, *, expected: int
) -> dict[str, Any]:
    """Give an active account an expected deactivation date, announced as Stripe does."""
    account = await world.load(conn, account_id, type="account")
    if account["status"] != "active":
        raise invalid(f"{account_id} is not active; only active accounts expire.", param="id")
    previous = world.expected_date(account)
    world.set_status(account, "active", expected=expected)
    await world.save_account(conn, account)
    if previous != expected:
        await world.emit(
            conn, "financial_connections.account.expected_deactivation_date_updated", account
        )
    await world.refresh_authorization(conn, account["authorization"])
    await send_due(conn)
    current = await store.get(conn, account_id, type="account")
    assert current is not None
    return current


async def _notify_once(conn: Connection, obj: dict[str, Any], kind: str) -> None:
    """``upcoming_deactivation`` for this object and date, unless already sent."""
    date = world.expected_date(obj)
    notice = {"id": f"notice_{obj['id']}_{date}", "object": "sandbox.deactivation_notice"}
    if await store.claim(conn, notice, type="deactivation_notice"):
        await world.emit(conn, f"financial_connections.{kind}.upcoming_deactivation", obj)


async def send_due(conn: Connection) -> None:
    """Send the notices that have come due on the sandbox's clock, and deactivate the
    accounts whose date has passed (announced first, had the notice not gone out)."""
    now = await clock_now(conn)
    horizon = now + NOTICE_DAYS * DAY
    for account in await store.expiring(conn, type="account", by=horizon):
        await _notify_once(conn, account, "account")
        if (world.expected_date(account) or horizon) <= now:
            cause = account["status_details"]["active"].get("cause") or "unspecified"
            await world.deactivate_account(
                conn, account["id"], cause=cause, action="relink_required"
            )
    # After the accounts: a deactivation above moves its authorization out of this list.
    for authorization in await store.expiring(conn, type="authorization", by=horizon):
        await _notify_once(conn, authorization, "authorization")
