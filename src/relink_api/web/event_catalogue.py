"""The events relink-api sends to the host application, as models: the OpenAPI document's
``webhooks`` section is rendered from them, and tests validate every payload the outbox
holds against them, so what is documented is what is sent (docs/events.md)."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from relink_api.accounts.schemas import ACCOUNT_EXAMPLE, AccountRead, LinkHealth
from relink_api.outbound.event_types import OutboundEventType
from relink_api.payments.schemas import PaymentMethodRead
from relink_api.relink.schemas import NextStep, RelinkOutcome, RelinkSessionRead
from relink_api.web.examples import with_examples

# What a receiver answers: any 2xx is a delivery; anything else (or no answer) is retried.
_RECEIVED = {
    "2XX": {"description": "Received; any other answer (or none in time) is retried."},
}

_SIGNATURE_HEADERS = (
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The event id: the same on every retry; deduplicate on it.",
        "schema": {"type": "string", "examples": ["evt_5c1f0e7a9b2d4c6e8f0a1b2c"]},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix seconds when this attempt was signed; refuse old ones.",
        "schema": {"type": "string", "pattern": "^[0-9]+$", "examples": ["1795003200"]},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures (two while "
        "a secret is being rotated); verify with any Standard Webhooks library.",
        "schema": {
            "type": "string",
            "examples": ["v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
        },
    },
)


class HostedRelinkRequest(BaseModel):
    """How to get a Stripe-hosted relink URL for the account, on request: this call, made
    as the customer (the URL itself is never put in an event)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["POST"]
    path: Literal["/v1/relink-sessions"]
    body: dict[str, str] = Field(
        description='`{"account_id": …, "ui_mode": "hosted", "delivery": "url"}`.'
    )


class RelinkPointers(BaseModel):
    """Where to send the customer. Paths are relative to the base URL the host application
    calls relink-api at; no token is in them (the host application adds its customer's)."""

    model_config = ConfigDict(extra="forbid")

    page_path: str = Field(description="The bundled relink page.")
    hosted_relink_request: HostedRelinkRequest


class ReminderSchedule(StrEnum):
    """Which schedule a reminder belongs to: after a break, or before an expiry."""

    broken = "broken"
    expiring = "expiring"


class Reminder(BaseModel):
    """Which prompt of the schedule this is (docs/prompts.md)."""

    model_config = ConfigDict(extra="forbid")

    schedule: ReminderSchedule
    number: int = Field(ge=1, description="1 for the first prompt.")
    of: int = Field(ge=1, description="How many the schedule has.")
    broken_since: datetime | None
    expected_at: datetime | None


class AccountEventData(BaseModel):
    """An account whose link changed (or that is due a reminder)."""

    model_config = ConfigDict(extra="forbid")

    account: AccountRead = Field(description="As `GET /v1/accounts/{id}` shows it.")
    customer_id: str | None
    link_health: LinkHealth
    previous_link_health: LinkHealth | None
    reminder: Reminder | None = Field(description="Null for the change itself.")
    relink: RelinkPointers | None = Field(
        description="Null when there is nothing to relink (recovered, unrepairable)."
    )


class RelinkCompletedData(BaseModel):
    """A relink session whose outcome Stripe verified."""

    model_config = ConfigDict(extra="forbid")

    relink_session: RelinkSessionRead = Field(
        description="As `GET /v1/relink-sessions/{id}` shows it."
    )
    customer_id: str
    account_id: str = Field(description="The account the session was started for.")
    outcome: RelinkOutcome
    next_step: NextStep | None


class PaymentMethodEventData(BaseModel):
    """A payment method relink-api set up."""

    model_config = ConfigDict(extra="forbid")

    payment_method: PaymentMethodRead = Field(description="As `GET /v1/payment-methods` lists it.")
    customer_id: str
    account_id: str


class PaymentMethodReplacedData(PaymentMethodEventData):
    """A payment method set up from an account linked in place of another."""

    replaces_payment_method_id: str | None = Field(
        description="The old account's payment method it replaces, if one was known."
    )


class _Event(BaseModel):
    """The envelope (Standard Webhooks): the id is also the ``webhook-id`` header, the same
    on every retry, so receivers deduplicate on it. Each event's model inherits its config:
    nothing beyond what is documented."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="evt_…")
    timestamp: datetime = Field(description="When the change happened.")


_ACCOUNT_EXAMPLE_DATA: dict[str, Any] = {
    "account": ACCOUNT_EXAMPLE,
    "customer_id": "cus_NffrFeUfNV2Hib",
    "link_health": "relink_required",
    "previous_link_health": "ok",
    "reminder": None,
    "relink": {
        "page_path": "/",
        "hosted_relink_request": {
            "method": "POST",
            "path": "/v1/relink-sessions",
            "body": {"account_id": ACCOUNT_EXAMPLE["id"], "ui_mode": "hosted", "delivery": "url"},
        },
    },
}


class AccountRelinkRequired(_Event):
    """The link broke and the customer can repair it: prompt them."""

    model_config = with_examples(
        {
            "id": "evt_5c1f0e7a9b2d4c6e8f0a1b2c",
            "type": "account.relink_required",
            "timestamp": "2026-11-20T08:00:00Z",
            "data": _ACCOUNT_EXAMPLE_DATA,
        },
        extra="forbid",
    )

    type: Literal["account.relink_required"]
    data: AccountEventData


class AccountExpiring(_Event):
    """The link will stop working: prompt the customer before it does."""

    type: Literal["account.expiring"]
    data: AccountEventData


class AccountUnrepairable(_Event):
    """The link broke for good (the bank account closed, say): ask for another account."""

    type: Literal["account.unrepairable"]
    data: AccountEventData


class AccountRecovered(_Event):
    """The link works again: stop prompting (sent once per break)."""

    type: Literal["account.recovered"]
    data: AccountEventData


class RelinkCompleted(_Event):
    """A relink ended; its outcome and the next step are Stripe's verdict."""

    type: Literal["relink.completed"]
    data: RelinkCompletedData


class PaymentMethodBlocked(_Event):
    """Stripe blocks a payment method relink-api set up: it cannot be charged."""

    type: Literal["payment_method.blocked"]
    data: PaymentMethodEventData


class PaymentMethodReplaced(_Event):
    """A new payment method replaces the old account's: charge this one from now on."""

    type: Literal["payment_method.replaced"]
    data: PaymentMethodReplacedData


EVENT_MODELS: dict[OutboundEventType, type[_Event]] = {
    OutboundEventType.account_relink_required: AccountRelinkRequired,
    OutboundEventType.account_expiring: AccountExpiring,
    OutboundEventType.account_unrepairable: AccountUnrepairable,
    OutboundEventType.account_recovered: AccountRecovered,
    OutboundEventType.relink_completed: RelinkCompleted,
    OutboundEventType.payment_method_blocked: PaymentMethodBlocked,
    OutboundEventType.payment_method_replaced: PaymentMethodReplaced,
}


def validate_event(payload: dict[str, Any]) -> _Event:
    """The payload as the model of its type; raises if it is not what is documented."""
    return EVENT_MODELS[OutboundEventType(payload["type"])].model_validate(payload)


def document_events(app: FastAPI) -> None:
    """Describe each event in the document's ``webhooks`` (OpenAPI 3.1); the rendered
    document then goes through ``tidy_event_responses``."""
    for event_type, model in EVENT_MODELS.items():
        _document(app, event_type, model)


def tidy_event_operations(document: dict[str, Any]) -> None:
    """Give each event the signature headers it is sent with (they are its authentication:
    no OpenAPI security scheme describes Standard Webhooks) and only the answers a receiver
    gives (FastAPI adds its own status and a 422 that relink-api, the sender, never sees);
    drop the validation schemas only those 422s used."""
    for path_item in document.get("webhooks", {}).values():
        for operation in path_item.values():
            operation["security"] = []
            operation["parameters"] = [dict(header) for header in _SIGNATURE_HEADERS]
            operation["responses"] = dict(_RECEIVED)
    schemas = document.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in json.dumps(document.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


def _document(app: FastAPI, event_type: OutboundEventType, model: type[_Event]) -> None:
    async def receive(event: Any) -> None:
        """Never called: the route only documents the event's body."""

    # The annotation FastAPI reads (postponed annotations would leave it a string).
    receive.__annotations__["event"] = model

    app.webhooks.add_api_route(
        event_type.value,
        receive,
        methods=["POST"],
        summary=event_type.value,
        description=(model.__doc__ or "").strip()
        + "\n\nSigned per Standard Webhooks (`webhook-id`, `webhook-timestamp`, "
        "`webhook-signature`); see docs/events.md.",
        operation_id=f"event_{event_type.value.replace('.', '_')}",
        tags=["events"],
    )
