"""When reminders fall due: pure arithmetic over an episode's dates and the settings.

A schedule is a list of slots. The transition event that opened an episode covers every
slot already due when it was emitted (for a break: day 0), so it is the first prompt; a
slot missed while no reminder loop ran is sent once, late, and only the latest of several
missed slots is sent, so a customer never gets two reminders at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Schedule(StrEnum):
    """Which schedule an episode follows: days after a break, or days before expiry."""

    broken = "broken"
    expiring = "expiring"


@dataclass(frozen=True, slots=True)
class Slot:
    """One reminder: its place in the schedule (1-based) and when it falls due."""

    number: int
    of: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """What one look at an episode decides: the slot to send now (if any), the moment
    reminders are covered through afterwards, and when the next slot falls due."""

    send: Slot | None
    covered_through: datetime
    next_at: datetime | None


def slots(
    schedule: Schedule,
    *,
    broken_at: datetime | None,
    expected_at: datetime | None,
    broken_days: Sequence[float],
    expiring_days: Sequence[float],
) -> list[Slot]:
    """Every slot of the schedule, earliest first (an expiring link without an expected
    date has none)."""
    if schedule is Schedule.broken:
        if broken_at is None:
            return []
        times = [broken_at + timedelta(days=day) for day in sorted(broken_days)]
    else:
        if expected_at is None:
            return []
        times = [expected_at - timedelta(days=day) for day in sorted(expiring_days, reverse=True)]
    return [Slot(number, len(times), due_at) for number, due_at in enumerate(times, start=1)]


def covered(schedule_slots: Sequence[Slot], covered_through: datetime) -> Slot | None:
    """The latest slot already covered (by the transition event or a reminder)."""
    done = [slot for slot in schedule_slots if slot.due_at <= covered_through]
    return done[-1] if done else None


def plan(schedule_slots: Sequence[Slot], *, covered_through: datetime, now: datetime) -> Plan:
    """The latest slot due since ``covered_through`` (the earlier missed ones are skipped),
    and the first slot after it."""
    due = [slot for slot in schedule_slots if covered_through < slot.due_at <= now]
    send = due[-1] if due else None
    through = send.due_at if send is not None else covered_through
    following = [slot for slot in schedule_slots if slot.due_at > through]
    return Plan(send, through, following[0].due_at if following else None)
