"""SQL for link episodes and their prompts. Private to the prompts package."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from relink_api.db import Connection
from relink_api.prompts.schedule import Schedule

CloseReason = Literal["relinked", "new_account", "recovered", "unrepairable", "disconnected"]
EmailState = Literal["pending", "sent", "failed"]
REPAIRED: tuple[CloseReason, ...] = ("relinked", "new_account", "recovered")


@dataclass(frozen=True, slots=True)
class Episode:
    """An open episode as the reminder loop reads it."""

    id: int
    account_id: str
    customer_id: str | None
    kind: Schedule
    broken_at: datetime | None
    expected_at: datetime | None
    covered_through: datetime
    planned: bool

    @classmethod
    def from_record(cls, record: asyncpg.Record) -> Episode:
        return cls(**{**dict(record), "kind": Schedule(record["kind"])})


@dataclass(frozen=True, slots=True)
class Transition:
    """A move of an account's link health, and the event it emitted (as of ``at``)."""

    account_id: str
    customer_id: str | None
    cause: str | None
    at: datetime
    event_id: str

    def params(self) -> tuple[Any, ...]:
        """Parameters $1 … $5 of the statements below, in this order."""
        return self.account_id, self.customer_id, self.cause, self.at, self.event_id


async def broke(conn: Connection, transition: Transition, *, broken_at: datetime) -> None:
    """The account's link broke: its expiring episode becomes a break, or a break opens (an
    open break is kept); the transition's event is recorded as its prompt. One statement:
    the caller holds the account's row lock, so nothing races it."""
    await conn.execute(
        """
        WITH current AS (
            SELECT id, kind FROM link_breaks
            WHERE account_id = $1 AND closed_at IS NULL
            FOR UPDATE
        ), converted AS (
            UPDATE link_breaks b
            SET kind = 'broken', cause = $3, broken_at = $6, covered_through = $4,
                next_reminder_at = $4, planned = false
            FROM current c
            WHERE b.id = c.id AND c.kind = 'expiring'
            RETURNING b.id
        ), opened AS (
            INSERT INTO link_breaks (account_id, customer_id, kind, cause, opened_at, broken_at,
                                     covered_through, next_reminder_at)
            SELECT $1, $2, 'broken', $3, $6, $6, $4, $4
            WHERE NOT EXISTS (SELECT 1 FROM current)
            RETURNING id
        ), episode AS (
            SELECT id FROM converted
            UNION ALL SELECT id FROM opened
            UNION ALL SELECT id FROM current WHERE kind = 'broken'
        )
        INSERT INTO link_break_prompts (break_id, event_id, schedule, sent_at)
        SELECT id, $5, 'broken', $4 FROM episode
        """,
        *transition.params(),
        broken_at,
    )


async def expiring(
    conn: Connection, transition: Transition, *, expected_at: datetime | None
) -> None:
    """The account's link is expiring: its open expiring episode is kept (with the new
    expected date), else one opens; the transition's event is recorded as its prompt. An
    open break must have been closed first."""
    await conn.execute(
        """
        WITH current AS (
            SELECT id FROM link_breaks
            WHERE account_id = $1 AND closed_at IS NULL AND kind = 'expiring'
            FOR UPDATE
        ), kept AS (
            UPDATE link_breaks b SET expected_at = $6
            FROM current c WHERE b.id = c.id
            RETURNING b.id
        ), opened AS (
            INSERT INTO link_breaks (account_id, customer_id, kind, cause, opened_at, expected_at,
                                     covered_through, next_reminder_at)
            SELECT $1, $2, 'expiring', $3, $4, $6, $4, $4
            WHERE NOT EXISTS (SELECT 1 FROM current)
            RETURNING id
        )
        INSERT INTO link_break_prompts (break_id, event_id, schedule, sent_at)
        SELECT id, $5, 'expiring', $4 FROM (SELECT id FROM kept UNION ALL SELECT id FROM opened) e
        """,
        *transition.params(),
        expected_at,
    )


async def close_open(
    conn: Connection,
    *,
    account_id: str,
    at: datetime,
    reason: CloseReason,
    only_kind: Schedule | None = None,
) -> bool:
    """Close the account's open episode (of ``only_kind``, if given); whether one was."""
    closed = await conn.fetchval(
        """
        UPDATE link_breaks
        SET closed_at = $2, closed_reason = $3, next_reminder_at = NULL
        WHERE account_id = $1 AND closed_at IS NULL AND ($4::text IS NULL OR kind = $4)
        RETURNING id
        """,
        account_id,
        at,
        reason,
        only_kind.value if only_kind is not None else None,
    )
    return closed is not None


async def unannounced_expiries(
    conn: Connection, *, expiring: Sequence[tuple[str, datetime]]
) -> set[str]:
    """Of these (account, expected date) pairs, the accounts with no open episode and no
    episode, open or closed, for that date: nobody has been told of that expiry yet."""
    records = await conn.fetch(
        """
        SELECT c.account_id
        FROM unnest($1::text[], $2::timestamptz[]) AS c (account_id, expected_at)
        WHERE NOT EXISTS (
            SELECT 1 FROM link_breaks b
            WHERE b.account_id = c.account_id
              AND (b.closed_at IS NULL OR b.expected_at = c.expected_at)
        )
        """,
        [account_id for account_id, _ in expiring],
        [expected_at for _, expected_at in expiring],
    )
    return {record["account_id"] for record in records}


_EPISODE_COLUMNS = (
    "id, account_id, customer_id, kind, broken_at, expected_at, covered_through, planned"
)


async def due(conn: Connection, *, now: datetime, limit: int) -> list[tuple[int, str]]:
    """Open episodes the loop should look at, earliest due first: (id, account id)."""
    records = await conn.fetch(
        """
        SELECT id, account_id FROM link_breaks
        WHERE closed_at IS NULL AND next_reminder_at <= $1
        ORDER BY next_reminder_at, id
        LIMIT $2
        """,
        now,
        limit,
    )
    return [(record["id"], record["account_id"]) for record in records]


async def claim(conn: Connection, *, episode_id: int, now: datetime) -> Episode | None:
    """Lock the episode if it is still open and due and no other loop holds it."""
    record = await conn.fetchrow(
        f"""
        SELECT {_EPISODE_COLUMNS} FROM link_breaks
        WHERE id = $1 AND closed_at IS NULL AND next_reminder_at <= $2
        FOR UPDATE SKIP LOCKED
        """,
        episode_id,
        now,
    )
    return Episode.from_record(record) if record else None


async def planned(
    conn: Connection, *, episode_id: int, covered_through: datetime, next_at: datetime | None
) -> None:
    await conn.execute(
        """
        UPDATE link_breaks SET covered_through = $2, next_reminder_at = $3, planned = true
        WHERE id = $1
        """,
        episode_id,
        covered_through,
        next_at,
    )


async def add_prompt(
    conn: Connection,
    *,
    episode_id: int,
    event_id: str,
    schedule: Schedule,
    number: int,
    of: int,
    sent_at: datetime,
    email: EmailState | None,
) -> int:
    prompt_id: int = await conn.fetchval(
        """
        INSERT INTO link_break_prompts (break_id, event_id, schedule, number, of, sent_at, email)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id
        """,
        episode_id,
        event_id,
        schedule.value,
        number,
        of,
        sent_at,
        email,
    )
    return prompt_id


async def email_transition(conn: Connection, *, episode_id: int) -> int | None:
    """Mark the episode's latest transition prompt for an email; its id."""
    prompt_id: int | None = await conn.fetchval(
        """
        UPDATE link_break_prompts SET email = 'pending'
        WHERE id = (
            SELECT id FROM link_break_prompts
            WHERE break_id = $1 AND number IS NULL AND email IS NULL
            ORDER BY sent_at DESC, id DESC LIMIT 1
        )
        RETURNING id
        """,
        episode_id,
    )
    return prompt_id


async def email_result(
    conn: Connection,
    *,
    prompt_id: int,
    state: EmailState,
    relink_session_id: str | None,
    error: str | None,
) -> None:
    await conn.execute(
        """
        UPDATE link_break_prompts SET email = $2, relink_session_id = $3, email_error = $4
        WHERE id = $1
        """,
        prompt_id,
        state,
        relink_session_id,
        error,
    )


async def funnel_event_ids(conn: Connection, *, since: datetime) -> list[str]:
    """The events of every prompt of the breaks since ``since``."""
    records = await conn.fetch(
        """
        SELECT p.event_id FROM link_break_prompts p
        JOIN link_breaks b ON b.id = p.break_id
        WHERE b.broken_at >= $1
        """,
        since,
    )
    return [record["event_id"] for record in records]


async def funnel(
    conn: Connection, *, since: datetime, delivered_event_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Breaks since ``since`` by (ISO) week and cause, with what became of them."""
    records = await conn.fetch(
        """
        WITH breaks AS (
            SELECT
                date_trunc('week', b.broken_at AT TIME ZONE 'UTC')::date AS week_start,
                b.cause, b.broken_at, b.closed_at, b.closed_reason, b.relink_started_at,
                EXISTS (SELECT 1 FROM link_break_prompts p
                        WHERE p.break_id = b.id AND p.event_id = ANY ($2::text[])) AS by_event,
                EXISTS (SELECT 1 FROM link_break_prompts p
                        WHERE p.break_id = b.id AND p.email = 'sent') AS by_email
            FROM link_breaks b
            WHERE b.broken_at >= $1
        )
        SELECT
            week_start,
            cause,
            count(*) AS broken,
            count(*) FILTER (WHERE by_event OR by_email) AS prompted,
            count(*) FILTER (WHERE by_event) AS prompted_by_event,
            count(*) FILTER (WHERE by_email) AS prompted_by_email,
            count(*) FILTER (
                WHERE relink_started_at IS NOT NULL
                   OR closed_reason IN ('relinked', 'new_account')
            ) AS relink_started,
            count(*) FILTER (WHERE closed_reason = 'relinked') AS relinked,
            count(*) FILTER (WHERE closed_reason = 'new_account') AS new_account,
            count(*) FILTER (WHERE closed_reason = 'recovered') AS recovered,
            count(*) FILTER (WHERE closed_reason = 'unrepairable') AS unrepairable,
            count(*) FILTER (WHERE closed_reason = 'disconnected') AS disconnected,
            count(*) FILTER (WHERE closed_at IS NULL) AS still_broken,
            percentile_cont(0.5) WITHIN GROUP (
                ORDER BY extract(epoch FROM closed_at - broken_at) / 3600
            ) FILTER (
                WHERE closed_reason IN ('relinked', 'new_account', 'recovered')
            ) AS median_hours_to_repair
        FROM breaks
        GROUP BY week_start, cause
        ORDER BY week_start, broken DESC, cause NULLS LAST
        """,
        since,
        list(delivered_event_ids),
    )
    return [dict(record) for record in records]
