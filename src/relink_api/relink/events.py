"""What the host application hears of a relink: ``relink.completed``, written in the
transaction that records the verified outcome (docs/events.md)."""

from __future__ import annotations

from relink_api.db import Connection
from relink_api.outbound import outbox
from relink_api.outbound.event_types import OutboundEventType
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import RelinkSessionRead


async def announce_completed(conn: Connection, row: RelinkSessionRow) -> str:
    """Queue ``relink.completed`` for a session just completed; return the event id.

    The session is as its customer reads it (no client secret, no hosted URL: neither is
    part of ``RelinkSessionRead``)."""
    assert row.completed_at is not None
    assert row.outcome is not None
    session = RelinkSessionRead.model_validate(row, from_attributes=True)
    return await outbox.emit(
        conn,
        OutboundEventType.relink_completed,
        {
            "relink_session": session.model_dump(mode="json"),
            "customer_id": row.customer_id,
            "account_id": row.account_id,
            "outcome": row.outcome.value,
            "next_step": row.next_step.value if row.next_step else None,
        },
        at=row.completed_at,
        account_id=row.account_id,
        customer_id=row.customer_id,
    )
