"""A tokenized account number nearing its expiry makes a link expiring with no snapshot
from Stripe, so no transition announces it: the reminder loop does, once per expiry, and
counts the reminders down to it. Two loops racing announce it once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from relink_api.db import Database
from relink_api.prompts.scheduler import send_due_reminders
from relink_api.settings import Settings
from relink_api.web.event_catalogue import validate_event
from tests.factories import tokenized_number
from tests.integration.test_prompts_transitions import episodes, events, observe, settings

__all__ = ["settings"]  # the prompts tests' settings: no loop runs beside the test

# Midnight, so that the day numbers below are whole days.
T0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
EXPIRES = T0 + timedelta(days=45)


def day(number: float) -> datetime:
    return T0 + timedelta(days=number)


async def loops(db: Database, settings: Settings, now: datetime) -> None:
    """Two reminder loops (two processes, say) looking at the same moment."""
    await asyncio.gather(
        send_due_reminders(db, None, settings, now=now),
        send_due_reminders(db, None, settings, now=now),
    )


async def test_a_number_nearing_expiry_is_announced_once_and_counted_down(
    db: Database, settings: Settings
) -> None:
    numbers = tokenized_number(int(EXPIRES.timestamp()))
    await observe(db, "fca_tan", T0, account_numbers=numbers)
    await observe(db, "fca_plain", T0)
    sent: list[tuple[float, str, int | None]] = []

    for hour in range(0, 45 * 24, 6):
        now = T0 + timedelta(hours=hour)
        before = len(await events(db))
        await loops(db, settings, now)
        for event in (await events(db))[before:]:
            reminder = event["data"]["reminder"]
            sent.append((hour / 24, event["type"], reminder["number"] if reminder else None))
            validate_event(event)
            assert event["data"]["account"]["id"] == "fca_tan"
            assert event["data"]["link_health"] == "expiring"
            assert event["data"]["relink"] is not None

    # Inside the 30-day window from day 15: announced then, as the 30-day prompt; then 7
    # and 1 days before the expiry, once each.
    assert sent == [
        (15.0, "account.expiring", None),
        (38.0, "account.expiring", 2),
        (44.0, "account.expiring", 3),
    ]
    (episode,) = await episodes(db)
    assert (episode["account_id"], episode["kind"], episode["expected_at"]) == (
        "fca_tan",
        "expiring",
        EXPIRES,
    )
    assert episode["closed_at"] is None


async def test_an_expiry_first_seen_in_a_snapshot_is_not_announced_twice(
    db: Database, settings: Settings
) -> None:
    # Real time here: a snapshot's transition is judged at the database's clock.
    now = datetime.now(UTC)
    soon = now + timedelta(days=20)
    await observe(db, "fca_tan", now, account_numbers=tokenized_number(int(soon.timestamp())))
    await loops(db, settings, now)
    later = soon + timedelta(days=365)
    # A relink refreshed the number: the link is ok again, until the new one nears expiry.
    await observe(db, "fca_tan", now, account_numbers=tokenized_number(int(later.timestamp())))
    await loops(db, settings, now + timedelta(hours=1))
    await loops(db, settings, later - timedelta(days=29))

    assert [(e["type"], e["data"]["reminder"]) for e in await events(db)] == [
        ("account.expiring", None),
        ("account.recovered", None),
        ("account.expiring", None),
    ]
    assert [(e["expected_at"], e["closed_reason"]) for e in await episodes(db)] == [
        (datetime.fromtimestamp(int(soon.timestamp()), UTC), "recovered"),
        (datetime.fromtimestamp(int(later.timestamp()), UTC), None),
    ]
