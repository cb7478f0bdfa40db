"""SQL for the webhook event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relink_api.db import Connection
from relink_api.gateway.objects import StripeEvent


async def is_recorded(conn: Connection, *, event_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM webhook_events WHERE id = $1", event_id))


async def record(
    conn: Connection, *, event: StripeEvent, payload: dict[str, Any], result: str
) -> bool:
    """Insert the event with the result of applying it; ``False`` when it was already
    recorded (a redelivery), and the caller must undo what it applied.

    Written last in the event's transaction, so one statement both records and marks it. A
    concurrent delivery of the same id waits on the unique index until the first
    transaction ends, then inserts nothing: only one of them ever commits the event.
    """
    inserted = await conn.fetchval(
        """
        INSERT INTO webhook_events
            (id, type, object_id, api_version, created, payload, result, processed_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, now())
        ON CONFLICT (id) DO NOTHING
        RETURNING true
        """,
        event.id,
        event.type,
        event.object_id,
        event.api_version,
        event.created_at,
        payload,
        result,
    )
    return bool(inserted)


async def prune(conn: Connection, *, received_before: datetime) -> int:
    """Delete events received before the cutoff; return how many."""
    status = await conn.execute(
        "DELETE FROM webhook_events WHERE received_at < $1", received_before
    )
    return int(status.split()[-1])
