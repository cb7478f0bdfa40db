"""The accounts API contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from relink_api.web.examples import with_examples


class LinkHealth(StrEnum):
    """What a client should show for an account, with no Stripe knowledge needed.
    ``unknown``: Stripe reported a status this version of relink-api does not know; the
    account is re-read, and nothing can be said of its link until then."""

    ok = "ok"
    expiring = "expiring"
    relink_required = "relink_required"
    unrepairable = "unrepairable"
    disconnected = "disconnected"
    unknown = "unknown"


class AccountStatus(StrEnum):
    """Stripe's status of the Financial Connections account (or authorization).
    ``unknown``: a status Stripe added after this version of relink-api (Stripe's own type
    is an open string); it is stored as Stripe sent it and logged, but shown as ``unknown``
    so that clients generated from this document can always read the value."""

    active = "active"
    inactive = "inactive"
    disconnected = "disconnected"
    unknown = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> AccountStatus:
        # A value this code does not know is `unknown`, wherever it is read: pydantic's
        # enum validation asks here too, so rows validate at the enum's own speed.
        return cls.unknown


ACCOUNT_EXAMPLE: dict[str, Any] = {
    "id": "fca_1PZ3xY2eZvKYlo2C",
    "authorization_id": "fcauth_1PZ3xY2eZvKYlo2C",
    "institution_id": "fcinst_StripeBank",
    "institution_name": "StripeBank",
    "display_name": "Everyday Checking",
    "last4": "6789",
    "category": "cash",
    "subcategory": "checking",
    "status": "inactive",
    "action": "relink_required",
    "cause": "access_expired",
    "link_health": "relink_required",
    "expected_deactivation_at": None,
    "account_number_expires_at": None,
    "inactive_since": "2026-11-20T08:00:00Z",
    "permissions": ["payment_method"],
    "needs_new_payment_method": False,
    "replaces_account_id": None,
    "replacement_relink_session_id": None,
    "updated_at": "2026-11-20T08:00:01Z",
}


class AccountRead(BaseModel):
    """A linked bank account and the health of its link."""

    model_config = with_examples(ACCOUNT_EXAMPLE)

    id: str = Field(description="Stripe's Financial Connections account id (fca_…).")
    authorization_id: str | None = Field(
        description="The authorization (fcauth_…) a relink repairs; null for old accounts."
    )
    institution_id: str | None
    institution_name: str | None
    display_name: str | None
    last4: str | None
    category: str | None
    subcategory: str | None = Field(description="checking, savings, credit_card, …")
    status: AccountStatus
    action: str | None = Field(description="Stripe's status_details action for the status.")
    cause: str | None = Field(description="Why the account is (or will be) inactive.")
    link_health: LinkHealth
    expected_deactivation_at: datetime | None = Field(
        description="When an expiring account is expected to become inactive."
    )
    account_number_expires_at: datetime | None = Field(
        description="Earliest expiry of a tokenized account number in use."
    )
    inactive_since: datetime | None = Field(description="Start of the current outage.")
    # Plain strings, not the Permission enum: this is Stripe's list as reported, and a
    # name Stripe adds later must not break reading the account.
    permissions: list[str] = Field(
        description="The data permissions Stripe reports for the account (e.g. "
        "`payment_method`, `balances`); names Stripe adds later appear as they are."
    )
    needs_new_payment_method: bool = Field(
        description="Linked in place of another account: set up a new payment method from it."
    )
    replaces_account_id: str | None = Field(description="The account this one was linked for.")
    replacement_relink_session_id: str | None = Field(
        description="The relink session that linked it in place of `replaces_account_id`: "
        "set up its payment method with POST /v1/relink-sessions/{id}/payment-method."
    )
    updated_at: datetime


class AccountList(BaseModel):
    """A page of accounts, oldest id first."""

    model_config = with_examples(
        {"data": [ACCOUNT_EXAMPLE], "has_more": True, "next_cursor": "djE6ZmNhXzFQWjN4WQ"}
    )

    data: list[AccountRead]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class AuthorizationRead(BaseModel):
    """A Financial Connections authorization (one login at one bank), as Stripe has it now."""

    model_config = with_examples(
        {
            "id": "fcauth_1PZ3xY2eZvKYlo2C",
            "institution_id": "fcinst_StripeBank",
            "institution_name": "StripeBank",
            "status": "inactive",
            "action": "relink_required",
            "expected_deactivation_at": None,
            "account_ids": ["fca_1PZ3xY2eZvKYlo2C"],
        }
    )

    id: str
    institution_id: str | None
    institution_name: str | None
    status: AccountStatus
    action: str | None
    expected_deactivation_at: datetime | None
    account_ids: list[str] = Field(description="The caller's accounts on this authorization.")
