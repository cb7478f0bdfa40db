"""The operator API contract for webhook endpoints: registering them, their secrets (shown
once), and the state of their deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from relink_api.outbound.addresses import MAX_URL_LENGTH
from relink_api.outbound.event_types import OutboundEventType
from relink_api.web.examples import with_examples
from relink_api.web.inputs import STORABLE_TEXT

ENDPOINT_ID = "we_5b8e2c1f9a7d3e6b0c4a1f2d"
SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw4Y6aZ3bA6Oo="
ALL_TYPES = [event_type.value for event_type in OutboundEventType]


class EndpointStatus(StrEnum):
    """Whether deliveries go to the endpoint."""

    enabled = "enabled"
    disabled = "disabled"


class DisabledReason(StrEnum):
    """Who disabled the endpoint: the operator, or relink-api after it failed for too long."""

    operator = "operator"
    failing = "failing"


class WebhookEndpointCreate(BaseModel):
    """An endpoint of the host application that receives events."""

    model_config = with_examples(
        {
            "url": "https://app.example.com/webhooks/relink",
            "event_types": ["account.relink_required", "account.recovered"],
            "description": "Billing service",
        },
        extra="forbid",
    )

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        pattern=STORABLE_TEXT,
        description="Where events are POSTed: https, no user name or password, no fragment, "
        "and not a private, loopback or link-local address.",
    )
    event_types: list[OutboundEventType] = Field(
        default_factory=lambda: list(OutboundEventType),
        min_length=1,
        description="The events it receives; every type when left out.",
    )
    # PostgreSQL text cannot hold NUL: the schema says so, rather than a surprise 422.
    description: str | None = Field(default=None, max_length=500, pattern=STORABLE_TEXT)

    @field_validator("event_types")
    @classmethod
    def _unique(cls, value: list[OutboundEventType]) -> list[OutboundEventType]:
        return list(dict.fromkeys(value))


_ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": ENDPOINT_ID,
    "url": "https://app.example.com/webhooks/relink",
    "description": "Billing service",
    "event_types": ["account.relink_required", "account.recovered"],
    "status": "enabled",
    "disabled_reason": None,
    "disabled_at": None,
    "failing_since": None,
    "previous_secret_expires_at": None,
    "created_at": "2026-11-26T12:00:00Z",
    "updated_at": "2026-11-26T12:00:00Z",
}


class WebhookEndpointRead(BaseModel):
    """A registered endpoint; its secret is never shown again after it is made."""

    model_config = with_examples(_ENDPOINT_EXAMPLE)

    id: str
    url: str
    description: str | None
    event_types: list[OutboundEventType]
    status: EndpointStatus
    disabled_reason: DisabledReason | None = Field(
        description="Why it is disabled; null while enabled."
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="The first failed attempt since the last success; null when its last "
        "attempt succeeded. Failing longer than RELINK_OUTBOUND_DISABLE_AFTER_HOURS disables it."
    )
    previous_secret_expires_at: datetime | None = Field(
        description="After a secret rotation: until when the previous secret also signs."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointRead):
    """A new endpoint and its signing secret, shown only in this response."""

    model_config = with_examples({**_ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE})

    secret: str = Field(
        description="The Standard Webhooks signing secret (`whsec_…`); keep it: it is never "
        "shown again.",
        examples=[SECRET_EXAMPLE],
    )


class WebhookEndpointSecret(BaseModel):
    """A rotated signing secret, shown only in this response."""

    model_config = with_examples(
        {
            "id": ENDPOINT_ID,
            "secret": SECRET_EXAMPLE,
            "previous_secret_expires_at": "2026-11-27T12:00:00Z",
        }
    )

    id: str
    secret: str = Field(description="The new signing secret (`whsec_…`); never shown again.")
    previous_secret_expires_at: datetime = Field(
        description="Until then deliveries carry a signature with the previous secret too."
    )


class WebhookEndpointList(BaseModel):
    """A page of endpoints, oldest id first."""

    model_config = with_examples(
        {"data": [_ENDPOINT_EXAMPLE], "has_more": False, "next_cursor": None}
    )

    data: list[WebhookEndpointRead]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class EndpointHealth(BaseModel):
    """An endpoint that is failing or disabled, for the operator summary."""

    model_config = with_examples(
        {
            "id": ENDPOINT_ID,
            "url": "https://app.example.com/webhooks/relink",
            "status": "disabled",
            "failing_since": "2026-11-21T09:00:00Z",
            "disabled_at": "2026-11-26T09:00:00Z",
            "disabled_reason": "failing",
            "pending_deliveries": 0,
        }
    )

    id: str
    url: str
    status: EndpointStatus
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: DisabledReason | None
    pending_deliveries: int = Field(ge=0, description="Deliveries waiting for it.")
