"""The operator's counts of accounts: by link health and cause, and the expiring ones by
week. Neither reads every account: the counts of what Stripe reported are kept by the
database in ``account_counts`` (migration 0013's triggers, in the transaction of every
write), and only the accounts the clock makes expiring are read, from their index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relink_api.accounts.health_conditions import expiring_by_number
from relink_api.accounts.models import HealthCauseCount, WeekCount
from relink_api.accounts.schemas import LinkHealth
from relink_api.db import Connection


async def by_health_and_cause(conn: Connection, *, at: datetime) -> list[HealthCauseCount]:
    """Every stored account, counted by its link health at ``at`` and its cause (groups
    with no account left out)."""
    records = await conn.fetch(
        f"""
        WITH reported AS (
            SELECT reported_health AS health, cause, sum(change) AS count
            FROM account_counts
            GROUP BY 1, 2
        ),
        by_number AS (
            SELECT cause, count(*) AS count FROM accounts
            WHERE {expiring_by_number("$1")}
            GROUP BY cause
        ),
        counts AS (
            SELECT health, cause, count FROM reported
            UNION ALL SELECT 'ok', cause, -count FROM by_number
            UNION ALL SELECT 'expiring', cause, count FROM by_number
        )
        SELECT health, cause, sum(count)::bigint AS count
        FROM counts
        GROUP BY 1, 2
        HAVING sum(count) > 0
        """,
        at,
    )
    return [
        HealthCauseCount(
            health=LinkHealth(record["health"]), cause=record["cause"], count=record["count"]
        )
        for record in records
    ]


def _monday(at: datetime) -> datetime:
    """00:00 UTC on the Monday of the UTC week holding ``at``."""
    day = at.astimezone(UTC)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=day.weekday())


async def deactivations_by_week(conn: Connection, *, at: datetime, weeks: int) -> list[WeekCount]:
    """Accounts expiring at ``at``, by the UTC week (from Monday) they are expected to stop
    working in: ``weeks`` weeks from the one holding ``at``, empty weeks included."""
    # The weeks are ranges of dates, so only the expiring accounts are read (from their
    # indexes), and each is placed in its week by arithmetic (a UTC week is 604,800 s).
    in_weeks = "{0} >= $2 AND {0} < $2 + $3::integer * interval '168 hours'"
    records = await conn.fetch(
        f"""
        WITH due AS (
            -- The date that makes the account expiring: Stripe's warning, else the
            -- tokenized account number's expiry.
            SELECT expected_deactivation_at AS due_at FROM accounts
            WHERE reported_health = 'expiring' AND {in_weeks.format("expected_deactivation_at")}
            UNION ALL
            SELECT account_number_expires_at FROM accounts
            WHERE {expiring_by_number("$1")} AND {in_weeks.format("account_number_expires_at")}
        ),
        counted AS (
            SELECT floor(date_part('epoch', due_at - $2) / 604800)::integer AS n,
                   count(*) AS count
            FROM due
            GROUP BY 1
        )
        SELECT n, coalesce(counted.count, 0) AS count
        FROM generate_series(0, $3::integer - 1) AS n LEFT JOIN counted USING (n)
        ORDER BY n
        """,
        at,
        _monday(at),
        weeks,
    )
    first = _monday(at).date()
    return [
        WeekCount(week_start=first + timedelta(weeks=record["n"]), count=record["count"])
        for record in records
    ]
