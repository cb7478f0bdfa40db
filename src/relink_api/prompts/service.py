"""What other features ask of the prompts feature: the funnel the operator summary reports.
(A relink started during an episode is recorded with the session itself: migration 0018.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from relink_api.db import Database
from relink_api.outbound import outbox
from relink_api.prompts import repository


@dataclass(frozen=True, slots=True)
class FunnelGroup:
    """The breaks of one week and cause, and what became of them."""

    week_start: date
    cause: str | None
    broken: int
    prompted: int
    prompted_by_event: int
    prompted_by_email: int
    relink_started: int
    relinked: int
    new_account: int
    recovered: int
    unrepairable: int
    disconnected: int
    still_broken: int
    median_hours_to_repair: float | None


def funnel_start(now: datetime, weeks: int) -> date:
    """The Monday (UTC) that begins the first of ``weeks`` weeks ending with ``now``'s."""
    today = now.astimezone(UTC).date()
    return today - timedelta(days=today.weekday(), weeks=weeks - 1)


async def funnel(db: Database, *, now: datetime, weeks: int) -> list[FunnelGroup]:
    """Breaks of the last ``weeks`` weeks (this one included) by week and cause. A break
    counts as prompted when one of its events was delivered or an email was sent."""
    since = datetime.combine(funnel_start(now, weeks), time(), tzinfo=UTC)
    async with db.connection() as conn:
        event_ids = await repository.funnel_event_ids(conn, since=since)
    delivered = await outbox.delivered_at(db, event_ids)
    async with db.connection() as conn:
        groups = await repository.funnel(conn, since=since, delivered_event_ids=list(delivered))
    return [FunnelGroup(**group) for group in groups]
