"""SQL for the operator API: accounts of every customer, and counts over them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

# The accounts API's own column list and health expression: an operator's row can never
# disagree with what the customer is shown.
from relink_api.accounts.repository import SELECT_ACCOUNTS, AccountRow
from relink_api.db import Connection


@dataclass(frozen=True, slots=True)
class HealthCauseCount:
    health: str
    cause: str | None
    count: int


@dataclass(frozen=True, slots=True)
class WeekCount:
    week_start: date
    count: int


async def list_all(
    conn: Connection,
    *,
    health: Sequence[str] | None,
    customer_id: str | None,
    institution_id: str | None,
    after_id: str | None,
    limit: int,
) -> list[AccountRow]:
    """A page of every customer's accounts (owned or not) in id order, after ``after_id``."""
    records = await conn.fetch(
        SELECT_ACCOUNTS
        + """
        WHERE ($1::text[] IS NULL
               OR relink_link_health(status, action, account_number_expires_at, now()) = ANY($1))
          AND ($2::text IS NULL OR customer_id = $2)
          AND ($3::text IS NULL OR institution_id = $3)
          AND ($4::text IS NULL OR id > $4)
        ORDER BY id
        LIMIT $5
        """,
        list(health) if health is not None else None,
        customer_id,
        institution_id,
        after_id,
        limit,
    )
    return [AccountRow.from_record(record) for record in records]


async def count_by_health_and_cause(conn: Connection, *, at: datetime) -> list[HealthCauseCount]:
    """Every stored account, counted by its link health at ``at`` and its cause."""
    records = await conn.fetch(
        """
        SELECT relink_link_health(status, action, account_number_expires_at, $1) AS health,
               cause,
               count(*) AS count
        FROM accounts
        GROUP BY 1, 2
        """,
        at,
    )
    return [
        HealthCauseCount(health=record["health"], cause=record["cause"], count=record["count"])
        for record in records
    ]


async def count_deactivations_by_week(
    conn: Connection, *, at: datetime, weeks: int
) -> list[WeekCount]:
    """Accounts expiring at ``at``, by the UTC week (from Monday) they are expected to stop
    working in: ``weeks`` weeks from the one holding ``at``, empty weeks included."""
    records = await conn.fetch(
        """
        WITH weeks AS (
            SELECT (date_trunc('week', $1::timestamptz AT TIME ZONE 'UTC')
                    + n * interval '1 week')::date AS week_start
            FROM generate_series(0, $2::integer - 1) AS n
        ),
        due AS (
            -- The date that makes the account expiring, as relink_link_health decides it:
            -- Stripe's warning first, else the tokenized account number's expiry.
            SELECT date_trunc(
                       'week',
                       (CASE WHEN action = 'relink_required' THEN expected_deactivation_at
                             ELSE account_number_expires_at END) AT TIME ZONE 'UTC'
                   )::date AS week_start
            FROM accounts
            WHERE relink_link_health(status, action, account_number_expires_at, $1) = 'expiring'
        )
        SELECT weeks.week_start, count(due.week_start) AS count
        FROM weeks LEFT JOIN due ON due.week_start = weeks.week_start
        GROUP BY weeks.week_start
        ORDER BY weeks.week_start
        """,
        at,
        weeks,
    )
    return [WeekCount(week_start=record["week_start"], count=record["count"]) for record in records]
