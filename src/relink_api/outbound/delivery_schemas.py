"""The operator API contract for what was sent: deliveries, their attempts, and events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from relink_api.outbound.event_types import OutboundEventType
from relink_api.web.examples import with_examples

_ATTEMPT_EXAMPLE: dict[str, Any] = {
    "attempted_at": "2026-11-26T12:00:00Z",
    "response_status": 503,
    "error": None,
    "duration_ms": 182,
}
_DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": "dlv_0cc175b9c0f1b6a831c399e269772661",
    "event_id": "evt_4f1c2a9b8d7e6f5a4b3c2d1e",
    "event_type": "account.relink_required",
    "endpoint_id": "we_5b8e2c1f9a7d3e6b0c4a1f2d",
    "status": "pending",
    "attempts": 1,
    "next_attempt_at": "2026-11-26T12:00:27Z",
    "delivered_at": None,
    "created_at": "2026-11-26T12:00:00Z",
    "attempt_log": [_ATTEMPT_EXAMPLE],
}
_EVENT_EXAMPLE: dict[str, Any] = {
    "id": "evt_4f1c2a9b8d7e6f5a4b3c2d1e",
    "type": "account.recovered",
    "account_id": "fca_1PZ3xY2eZvKYlo2C",
    "customer_id": "cus_Kmaci5w0veLUJZ",
    "created_at": "2026-11-26T12:00:00Z",
    "payload": {
        "id": "evt_4f1c2a9b8d7e6f5a4b3c2d1e",
        "type": "account.recovered",
        "timestamp": "2026-11-26T12:00:00Z",
        "data": {"customer_id": "cus_Kmaci5w0veLUJZ", "link_health": "ok"},
    },
}


class DeliveryStatus(StrEnum):
    """pending: waiting for its next attempt; delivered: a 2xx came back; failed: retries
    ran out, or its endpoint was disabled while it waited."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class DeliveryAttemptRead(BaseModel):
    """One POST to the endpoint and what came of it."""

    model_config = with_examples(_ATTEMPT_EXAMPLE)

    attempted_at: datetime
    response_status: int | None = Field(
        description="The receiver's HTTP status; null when none came (see `error`)."
    )
    error: str | None = Field(
        description="Why there was no answer: refused before connecting (the address is "
        "not public), a network error, or no answer in time."
    )
    duration_ms: int = Field(ge=0)


class EventDeliveryRead(BaseModel):
    """One event on its way to one endpoint."""

    model_config = with_examples(_DELIVERY_EXAMPLE)

    id: str
    event_id: str = Field(description="The `webhook-id` the receiver deduplicates on.")
    event_type: OutboundEventType
    endpoint_id: str
    status: DeliveryStatus
    attempts: int = Field(ge=0, description="How many attempts were made.")
    next_attempt_at: datetime | None = Field(
        description="When it is tried next (pending only; a delivery being sent shows the "
        "end of its lease)."
    )
    delivered_at: datetime | None = Field(description="When a 2xx first came back.")
    created_at: datetime
    attempt_log: list[DeliveryAttemptRead] = Field(description="Every attempt, oldest first.")


class EventDeliveryList(BaseModel):
    """A page of an endpoint's deliveries, newest first."""

    model_config = with_examples(
        {"data": [_DELIVERY_EXAMPLE], "has_more": False, "next_cursor": None}
    )

    data: list[EventDeliveryRead]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class OutboundEventRead(BaseModel):
    """An event relink-api wrote to its outbox, exactly as it is delivered."""

    model_config = with_examples(_EVENT_EXAMPLE)

    id: str
    type: OutboundEventType
    account_id: str | None
    customer_id: str | None
    created_at: datetime
    payload: dict[str, Any] = Field(
        description="The body every endpoint receives: `id`, `type`, `timestamp`, `data` "
        "(docs/events.md)."
    )


class OutboundEventList(BaseModel):
    """A page of outbound events, newest first."""

    model_config = with_examples({"data": [_EVENT_EXAMPLE], "has_more": False, "next_cursor": None})

    data: list[OutboundEventRead]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
