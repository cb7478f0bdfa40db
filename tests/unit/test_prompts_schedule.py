"""The reminder schedule: which slot is due, and that a missed one is sent once, late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relink_api.prompts.schedule import Schedule, Slot, covered, plan, slots

BROKE = datetime(2026, 11, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def broken_slots() -> list[Slot]:
    return slots(
        Schedule.broken,
        broken_at=BROKE,
        expected_at=None,
        broken_days=[0, 1, 4, 10],
        expiring_days=[30, 7, 1],
    )


def test_the_transition_covers_day_zero_and_the_first_reminder_is_a_day_later() -> None:
    schedule = broken_slots()
    assert [slot.due_at for slot in schedule] == [
        BROKE,
        BROKE + DAY,
        BROKE + 4 * DAY,
        BROKE + 10 * DAY,
    ]
    assert covered(schedule, BROKE) == Slot(1, 4, BROKE)
    first_look = plan(schedule, covered_through=BROKE, now=BROKE)
    assert first_look.send is None
    assert first_look.next_at == BROKE + DAY


def test_missed_reminders_are_sent_once_late_only_the_latest() -> None:
    # No loop ran from the break until day 5: day 1 is skipped, day 4 goes now, once.
    late = plan(broken_slots(), covered_through=BROKE, now=BROKE + 5 * DAY)
    assert late.send == Slot(3, 4, BROKE + 4 * DAY)
    assert late.next_at == BROKE + 10 * DAY
    again = plan(broken_slots(), covered_through=late.covered_through, now=BROKE + 5 * DAY)
    assert again.send is None


def test_expiring_counts_back_from_the_expected_date_and_stops_after_the_last() -> None:
    expected = BROKE + 20 * DAY
    schedule = slots(
        Schedule.expiring,
        broken_at=None,
        expected_at=expected,
        broken_days=[0],
        expiring_days=[1, 30, 7],
    )
    assert [(slot.number, slot.due_at) for slot in schedule] == [
        (1, expected - 30 * DAY),
        (2, expected - 7 * DAY),
        (3, expected - DAY),
    ]
    # Opened 20 days out: the transition event is the 30-day reminder.
    assert covered(schedule, BROKE) == schedule[0]
    last = plan(schedule, covered_through=expected - 7 * DAY, now=expected)
    assert (last.send, last.next_at) == (schedule[2], None)
    no_date = slots(
        Schedule.expiring, broken_at=None, expected_at=None, broken_days=[0], expiring_days=[7]
    )
    assert no_date == []
