"""Writing events to the outbox, inside the transaction of the change that causes them.

An event is stored whether or not an endpoint wants it (the operator can list it, and an
endpoint registered later does not get it: like Stripe, delivery starts at registration);
each subscribed endpoint gets a pending delivery the workers pick up. A transaction that
rolls back takes its events with it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from relink_api.db import Connection, Database
from relink_api.outbound import repository
from relink_api.outbound.event_types import OutboundEventType


def new_event_id() -> str:
    """A unique event id; receivers deduplicate on it (the ``webhook-id`` header)."""
    return f"evt_{secrets.token_hex(12)}"


async def emit(
    conn: Connection,
    type: OutboundEventType,
    data: Mapping[str, Any],
    *,
    at: datetime,
    account_id: str | None = None,
    customer_id: str | None = None,
) -> str:
    """Store event ``type`` with ``data`` (JSON-ready, never a secret) as of ``at``, and
    queue it for every endpoint subscribed to it; return its id. ``conn`` must be in the
    transaction that makes the change the event reports."""
    event_id = new_event_id()
    payload = {
        "id": event_id,
        "type": type.value,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "data": dict(data),
    }
    await repository.insert_event(
        conn,
        event_id=event_id,
        type=type.value,
        account_id=account_id,
        customer_id=customer_id,
        payload=payload,
        created_at=at,
    )
    return event_id


async def delivered_at(db: Database, event_ids: Sequence[str]) -> dict[str, datetime]:
    """When each event was first delivered (an event never delivered is absent)."""
    if not event_ids:
        return {}
    async with db.connection() as conn:
        return await repository.delivered_at(conn, event_ids=event_ids)
