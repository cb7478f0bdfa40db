"""The relink-sessions API contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relink_api.web.examples import with_examples
from relink_api.web.inputs import STORABLE_TEXT


class RelinkScope(StrEnum):
    """``account``: repair exactly this account. ``institution``: any eligible account at
    the same bank (one checking or savings account)."""

    account = "account"
    institution = "institution"


class Permission(StrEnum):
    """Financial Connections data permissions; ``payment_method`` is always requested."""

    balances = "balances"
    ownership = "ownership"
    payment_method = "payment_method"
    transactions = "transactions"


class RelinkOutcome(StrEnum):
    """What the customer's relink achieved, as Stripe reports it."""

    relinked = "relinked"
    new_account = "new_account"
    failed = "failed"
    cancelled = "cancelled"


class FailureReason(StrEnum):
    """Stripe's ``relink_result.failure_reason``."""

    no_account = "no_account"
    no_authorization = "no_authorization"
    other = "other"


class NextStep(StrEnum):
    """What the client should offer next."""

    none = "none"
    retry = "retry"
    relink_institution = "relink_institution"
    set_up_payment_method = "set_up_payment_method"


class RelinkSessionStatus(StrEnum):
    open = "open"
    completed = "completed"


class UiMode(StrEnum):
    """``modal``: Stripe.js or the native mobile sheet, with the client secret. ``hosted``:
    a Stripe-hosted page, opened from a URL or sent by email."""

    modal = "modal"
    hosted = "hosted"


class Delivery(StrEnum):
    """How a hosted relink reaches the customer: ``url`` for an app to open in an in-app
    browser, ``email`` for Stripe to send."""

    url = "url"
    email = "email"


class RelinkSessionCreate(BaseModel):
    """Start a relink for one of the caller's accounts."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"account_id": "fca_1PZ3xY2eZvKYlo2C", "scope": "account"},
                {
                    "account_id": "fca_1PZ3xY2eZvKYlo2C",
                    "scope": "account",
                    "ui_mode": "hosted",
                    "delivery": "url",
                    "return_url": "myapp://relink-done",
                },
            ],
            # What _delivery_goes_with_hosted enforces, stated in the schema: `delivery` is
            # required with ui_mode=hosted and must be absent (or null) otherwise.
            "if": {"properties": {"ui_mode": {"const": "hosted"}}, "required": ["ui_mode"]},
            "then": {
                "properties": {"delivery": {"not": {"type": "null"}}},
                "required": ["delivery"],
            },
            "else": {"properties": {"delivery": {"type": "null"}}},
        },
    )

    account_id: str = Field(
        min_length=1,
        max_length=255,
        pattern=STORABLE_TEXT,
        description="The account to repair.",
    )
    scope: RelinkScope = RelinkScope.account
    permissions: list[Permission] | None = Field(
        default=None,
        max_length=4,
        description="Defaults to the account's permissions; payment_method is always added.",
    )
    ui_mode: UiMode = UiMode.modal
    delivery: Delivery | None = Field(
        default=None, description="Required with ui_mode=hosted; not allowed otherwise."
    )
    return_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=STORABLE_TEXT,
        description="Modal: where the bank's OAuth sends a webview back. Hosted: where "
        "/relink/return sends the customer once the outcome is recorded (an app scheme "
        "closes the in-app browser). Must match RELINK_RETURN_URL_ALLOWLIST.",
    )

    @model_validator(mode="after")
    def _delivery_goes_with_hosted(self) -> RelinkSessionCreate:
        if self.ui_mode is UiMode.hosted and self.delivery is None:
            raise ValueError("delivery (url or email) is required with ui_mode=hosted")
        if self.ui_mode is UiMode.modal and self.delivery is not None:
            raise ValueError("delivery is only for ui_mode=hosted")
        return self


class RelinkSessionCreated(BaseModel):
    """A new relink session. ``client_secret`` goes straight to Stripe.js or the mobile SDK;
    it is shown once and never stored. Hosted sessions delivered by ``url`` carry the page
    to open instead; those delivered by ``email`` carry neither."""

    model_config = with_examples(
        {
            "id": "rls_3f9c2a7d41b8e6f0a2c4d5e6",
            "stripe_session_id": "fcsess_1PZ3xY2eZvKYlo2C",
            "client_secret": "fcsess_1PZ3xY2eZvKYlo2C_secret_abc123",
            "publishable_key": "pk_test_123",
            "scope": "account",
            "account_id": "fca_1PZ3xY2eZvKYlo2C",
            "authorization_id": "fcauth_1PZ3xY2eZvKYlo2C",
            "ui_mode": "modal",
            "delivery": None,
            "url": None,
            "status": "open",
            "created_at": "2026-11-26T12:00:00Z",
        }
    )

    id: str
    stripe_session_id: str
    client_secret: str | None = Field(
        description="Modal only: pass to collectFinancialConnectionsAccounts or the native "
        "Financial Connections sheet."
    )
    publishable_key: str | None = Field(description="The Stripe.js key for this mode.")
    scope: RelinkScope
    account_id: str
    authorization_id: str
    ui_mode: UiMode
    delivery: Delivery | None
    url: str | None = Field(
        description="Hosted with delivery=url: the Stripe-hosted page to open in an in-app "
        "browser. It ends at /relink/return."
    )
    status: RelinkSessionStatus
    created_at: datetime


class RelinkSessionComplete(BaseModel):
    """What Stripe.js (or the mobile SDK) returned. A hint only: the server decides from
    Stripe's own copy of the session."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"financialConnectionsSession": {"id": "fcsess_1PZ3xY2eZvKYlo2C", "accounts": []}}
            ]
        },
    )

    financialConnectionsSession: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class RelinkSessionRead(BaseModel):
    """A relink session and, once completed, its verified outcome."""

    model_config = with_examples(
        {
            "id": "rls_3f9c2a7d41b8e6f0a2c4d5e6",
            "stripe_session_id": "fcsess_1PZ3xY2eZvKYlo2C",
            "scope": "account",
            "account_id": "fca_1PZ3xY2eZvKYlo2C",
            "authorization_id": "fcauth_1PZ3xY2eZvKYlo2C",
            "ui_mode": "modal",
            "delivery": None,
            "status": "completed",
            "outcome": "relinked",
            "failure_reason": None,
            "next_step": "none",
            "linked_account_ids": ["fca_1PZ3xY2eZvKYlo2C"],
            "reactivated_account_ids": ["fca_1PZ3xY2eZvKYlo2C", "fca_1PZ3xZsavings"],
            "created_at": "2026-11-26T12:00:00Z",
            "completed_at": "2026-11-26T12:01:30Z",
        }
    )

    id: str
    stripe_session_id: str
    scope: RelinkScope
    account_id: str = Field(description="The account the relink was started for.")
    authorization_id: str
    ui_mode: UiMode
    delivery: Delivery | None
    status: RelinkSessionStatus
    outcome: RelinkOutcome | None = Field(description="Null until completed.")
    failure_reason: FailureReason | None
    next_step: NextStep | None
    linked_account_ids: list[str] = Field(description="Accounts the customer linked.")
    reactivated_account_ids: list[str] = Field(
        description="Accounts on the authorization that needed repair (relink_required or "
        "expiring) when the session began and are healthy after it, siblings included."
    )
    created_at: datetime
    completed_at: datetime | None
