"""SQL for the outbox: events, their deliveries, and the endpoints they go to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from relink_api.db import Connection


async def insert_event(
    conn: Connection,
    *,
    event_id: str,
    type: str,
    account_id: str | None,
    customer_id: str | None,
    payload: dict[str, Any],
    created_at: datetime,
) -> None:
    """Store the event and queue one pending delivery, due at once, for every enabled
    endpoint subscribed to its type: one statement (it runs inside webhook ingest)."""
    await conn.execute(
        """
        WITH event AS (
            INSERT INTO outbound_events (id, type, account_id, customer_id, payload, created_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING id, type, created_at
        )
        INSERT INTO outbound_deliveries (id, event_id, endpoint_id, next_attempt_at, created_at)
        SELECT 'dlv_' || md5(event.id || e.id), event.id, e.id, event.created_at,
               event.created_at
        FROM event JOIN webhook_endpoints e
          ON e.status = 'enabled' AND event.type = ANY (e.event_types)
        """,
        event_id,
        type,
        account_id,
        customer_id,
        payload,
        created_at,
    )


async def delivered_at(conn: Connection, *, event_ids: Sequence[str]) -> dict[str, datetime]:
    """When each of these events was first delivered to any endpoint (undelivered: absent)."""
    rows = await conn.fetch(
        """
        SELECT event_id, min(delivered_at) AS delivered_at
        FROM outbound_deliveries
        WHERE event_id = ANY ($1::text[]) AND status = 'delivered'
        GROUP BY event_id
        """,
        list(event_ids),
    )
    return {row["event_id"]: row["delivered_at"] for row in rows}
