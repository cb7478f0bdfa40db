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
    await conn.execute(
        """
        INSERT INTO outbound_events (id, type, account_id, customer_id, payload, created_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        event_id,
        type,
        account_id,
        customer_id,
        payload,
        created_at,
    )


async def queue_deliveries(
    conn: Connection, *, event_id: str, type: str, created_at: datetime
) -> int:
    """One pending delivery, due now, for every enabled endpoint subscribed to ``type``."""
    status = await conn.execute(
        """
        INSERT INTO outbound_deliveries (id, event_id, endpoint_id, next_attempt_at, created_at)
        SELECT 'dlv_' || md5($1 || e.id), $1, e.id, $3, $3
        FROM webhook_endpoints e
        WHERE e.status = 'enabled' AND $2 = ANY (e.event_types)
        """,
        event_id,
        type,
        created_at,
    )
    return int(status.split()[-1])


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
