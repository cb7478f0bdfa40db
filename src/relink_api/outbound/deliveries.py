"""What was sent, as the operator reads it: an endpoint's deliveries with every attempt,
the outbound events, and redelivering one delivery."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from relink_api.auth import Operator
from relink_api.db import Connection, Database
from relink_api.errors import NotFound
from relink_api.outbound import delivery_repository as repository
from relink_api.outbound import endpoint_repository
from relink_api.outbound.delivery_schemas import (
    DeliveryAttemptRead,
    DeliveryStatus,
    EventDeliveryList,
    EventDeliveryRead,
    OutboundEventList,
    OutboundEventRead,
)
from relink_api.outbound.errors import EndpointDisabled
from relink_api.outbound.event_types import OutboundEventType
from relink_api.pagination import InvalidCursor, decode_cursor, encode_cursor

logger = logging.getLogger(__name__)

_NEWEST_FIRST_CURSOR = "Pass the `next_cursor` of a previous page unchanged."


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created_at, id) a newest-first page continues after."""
    decoded = decode_cursor(cursor)
    if decoded is None:
        return None
    stamp, _, last_id = decoded.partition("|")
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        raise InvalidCursor(_NEWEST_FIRST_CURSOR) from None
    if not last_id or at.tzinfo is None:
        raise InvalidCursor(_NEWEST_FIRST_CURSOR)
    return at, last_id


def _cursor(rows: list[asyncpg.Record], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(f"{last['created_at'].isoformat()}|{last['id']}")


async def list_deliveries(
    db: Database,
    endpoint_id: str,
    *,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> EventDeliveryList:
    """A page of the endpoint's deliveries, newest first, each with its attempts."""
    after = _after(cursor)
    async with db.connection() as conn:
        if await endpoint_repository.get(conn, endpoint_id) is None:
            raise NotFound(f"No webhook endpoint {endpoint_id}.")
        rows = await repository.page(
            conn,
            endpoint_id=endpoint_id,
            status=status.value if status else None,
            after=after,
            limit=limit + 1,
        )
        shown = rows[:limit]
        attempts = await repository.attempts(conn, [row["id"] for row in shown])
    return EventDeliveryList(
        data=_with_attempts(shown, attempts),
        has_more=len(rows) > limit,
        next_cursor=_cursor(rows, limit),
    )


def _with_attempts(
    rows: list[asyncpg.Record], attempts: list[asyncpg.Record]
) -> list[EventDeliveryRead]:
    log: defaultdict[str, list[DeliveryAttemptRead]] = defaultdict(list)
    for attempt in attempts:
        log[attempt["delivery_id"]].append(
            DeliveryAttemptRead(
                attempted_at=attempt["attempted_at"],
                response_status=attempt["response_status"],
                error=attempt["error"],
                duration_ms=attempt["duration_ms"],
            )
        )
    return [EventDeliveryRead(**dict(row), attempt_log=log[row["id"]]) for row in rows]


async def redeliver(db: Database, delivery_id: str, *, operator: Operator) -> EventDeliveryRead:
    """Send the delivery again, due now, with a fresh retry window (its attempts are
    kept). Its endpoint must be enabled."""
    async with db.transaction() as conn:
        endpoint_status = await repository.endpoint_status(conn, delivery_id)
        if endpoint_status is None:
            raise NotFound(f"No event delivery {delivery_id}.")
        if endpoint_status != "enabled":
            raise EndpointDisabled(
                f"The endpoint of delivery {delivery_id} is disabled; enable it "
                "(POST /v1/admin/webhook-endpoints/{id}/enable), then redeliver."
            )
        await repository.redeliver(conn, delivery_id, at=datetime.now(UTC))
        row = await repository.get(conn, delivery_id)
        attempts = await repository.attempts(conn, [delivery_id])
    assert row is not None
    logger.info("operator key %s redelivered %s", operator.key_id, delivery_id)
    return _with_attempts([row], attempts)[0]


async def list_events(
    db: Database,
    *,
    type: OutboundEventType | None,
    account_id: str | None,
    cursor: str | None,
    limit: int,
) -> OutboundEventList:
    """A page of outbound events, newest first."""
    after = _after(cursor)
    async with db.connection() as conn:
        rows = await repository.events_page(
            conn,
            type=type.value if type else None,
            account_id=account_id,
            after=after,
            limit=limit + 1,
        )
    return OutboundEventList(
        data=[OutboundEventRead(**dict(row)) for row in rows[:limit]],
        has_more=len(rows) > limit,
        next_cursor=_cursor(rows, limit),
    )


@dataclass(frozen=True, slots=True)
class Backlog:
    """The delivery queue as the workers see it."""

    pending: int
    oldest_due_seconds: float
    """How long the oldest due delivery has waited past its time (0 with none due)."""


async def backlog(conn: Connection, *, now: datetime) -> Backlog:
    """The deliveries still to make, and how late the oldest due one is at ``now``."""
    row = await repository.backlog(conn, now=now)
    oldest: datetime | None = row["oldest_due"]
    late = (now - oldest).total_seconds() if oldest is not None else 0.0
    return Backlog(pending=row["pending"], oldest_due_seconds=max(late, 0.0))
