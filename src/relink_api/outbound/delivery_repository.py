"""SQL for the delivery queue: claiming due deliveries, recording attempts, and what the
operator reads and redelivers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from relink_api.db import Connection


async def claim_due(
    conn: Connection, *, now: datetime, lease_until: datetime, limit: int
) -> list[asyncpg.Record]:
    """Take up to ``limit`` due deliveries of enabled endpoints (rows another worker holds
    are skipped, never waited for) and lease them until ``lease_until``."""
    return await conn.fetch(
        """
        WITH due AS (
            SELECT d.id
            FROM outbound_deliveries d
            JOIN webhook_endpoints e ON e.id = d.endpoint_id
            WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND e.status = 'enabled'
            ORDER BY d.next_attempt_at, d.id
            LIMIT $3
            FOR UPDATE OF d SKIP LOCKED
        )
        UPDATE outbound_deliveries d
        SET next_attempt_at = $2, updated_at = $1
        FROM due, webhook_endpoints e, outbound_events ev
        WHERE d.id = due.id AND e.id = d.endpoint_id AND ev.id = d.event_id
        RETURNING d.id, d.event_id, d.attempts, d.retrying_since, d.next_attempt_at,
                  ev.type AS event_type, ev.payload, e.id AS endpoint_id, e.url, e.secret,
                  e.previous_secret, e.previous_secret_expires_at
        """,
        now,
        lease_until,
        limit,
    )


async def insert_attempt(
    conn: Connection,
    *,
    delivery_id: str,
    at: datetime,
    status: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    await conn.execute(
        """
        INSERT INTO outbound_attempts
            (delivery_id, attempted_at, response_status, error, duration_ms)
        VALUES ($1, $2, $3, $4, $5)
        """,
        delivery_id,
        at,
        status,
        error,
        duration_ms,
    )


async def settle(
    conn: Connection,
    *,
    delivery_id: str,
    lease_until: datetime,
    at: datetime,
    status: str,
    next_attempt_at: datetime | None,
) -> bool:
    """Count the attempt and set the delivery's new state, if this worker's lease still
    holds (else another worker or the operator has taken it over: False)."""
    row = await conn.fetchval(
        """
        UPDATE outbound_deliveries
        SET attempts = attempts + 1,
            status = $4,
            next_attempt_at = $5,
            retrying_since = coalesce(retrying_since, $3),
            delivered_at = CASE WHEN $4 = 'delivered' THEN coalesce(delivered_at, $3)
                           ELSE delivered_at END,
            updated_at = $3
        WHERE id = $1 AND status = 'pending' AND next_attempt_at = $2
        RETURNING id
        """,
        delivery_id,
        lease_until,
        at,
        status,
        next_attempt_at,
    )
    return row is not None


_DELIVERY = """
    d.id, d.event_id, ev.type AS event_type, d.endpoint_id, d.status, d.attempts,
    d.next_attempt_at, d.delivered_at, d.created_at
"""


async def page(
    conn: Connection,
    *,
    endpoint_id: str,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """An endpoint's deliveries, newest first, after the (created_at, id) ``after``."""
    return await conn.fetch(
        f"""
        SELECT {_DELIVERY}
        FROM outbound_deliveries d JOIN outbound_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1
          AND ($2::text IS NULL OR d.status = $2)
          AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4::text))
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT $5
        """,
        endpoint_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def backlog(conn: Connection, *, now: datetime) -> asyncpg.Record:
    """How many deliveries are pending, and the oldest ``next_attempt_at`` already due
    (both from the partial index of pending deliveries)."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS pending,
               min(next_attempt_at) FILTER (WHERE next_attempt_at <= $1) AS oldest_due
        FROM outbound_deliveries
        WHERE status = 'pending'
        """,
        now,
    )
    assert row is not None  # an aggregate always answers one row
    return row


async def get(conn: Connection, delivery_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {_DELIVERY}
        FROM outbound_deliveries d JOIN outbound_events ev ON ev.id = d.event_id
        WHERE d.id = $1
        """,
        delivery_id,
    )


async def attempts(conn: Connection, delivery_ids: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT delivery_id, attempted_at, response_status, error, duration_ms
        FROM outbound_attempts WHERE delivery_id = ANY ($1::text[])
        ORDER BY delivery_id, attempted_at, id
        """,
        list(delivery_ids),
    )


async def redeliver(conn: Connection, delivery_id: str, *, at: datetime) -> None:
    """Due now, with a fresh retry window; its attempts and their log are kept."""
    await conn.execute(
        """
        UPDATE outbound_deliveries
        SET status = 'pending', next_attempt_at = $2, retrying_since = NULL, updated_at = $2
        WHERE id = $1
        """,
        delivery_id,
        at,
    )


async def endpoint_status(conn: Connection, delivery_id: str) -> str | None:
    value: str | None = await conn.fetchval(
        """
        SELECT e.status FROM outbound_deliveries d JOIN webhook_endpoints e
          ON e.id = d.endpoint_id
        WHERE d.id = $1
        FOR UPDATE OF d
        """,
        delivery_id,
    )
    return value


async def events_page(
    conn: Connection,
    *,
    type: str | None,
    account_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Outbound events, newest first, after the (created_at, id) ``after``."""
    return await conn.fetch(
        """
        SELECT id, type, account_id, customer_id, payload, created_at
        FROM outbound_events
        WHERE ($1::text IS NULL OR type = $1)
          AND ($2::text IS NULL OR account_id = $2)
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::text))
        ORDER BY created_at DESC, id DESC
        LIMIT $5
        """,
        type,
        account_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
