"""The relink-sessions API contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from relink_api.web.examples import with_examples


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
