"""The payment-methods API contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from relink_api.accounts.schemas import LinkHealth
from relink_api.web.examples import with_examples
from relink_api.web.inputs import STORABLE_TEXT


class SetupStatus(StrEnum):
    """Our reading of the SetupIntent: ``pending`` until the customer confirms it and Stripe
    settles it; ``failed`` carries Stripe's ``last_setup_error``."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


class UnusableReason(StrEnum):
    """Why Stripe will not charge the payment method now, from Stripe's PaymentMethod only:
    ``blocked`` (``us_bank_account.status_details.blocked``; see ``blocked`` for Stripe's
    reason) or ``detached`` (from its customer, which is permanent). The link health of the
    account it draws on is a separate fact: a broken link does not stop a payment method."""

    blocked = "blocked"
    detached = "detached"


class PaymentMethodBlock(BaseModel):
    """Stripe's ``us_bank_account.status_details.blocked``, as Stripe words it."""

    model_config = with_examples(
        {"reason": "tokenized_account_number_deactivated", "network_code": None}
    )

    reason: str | None = Field(
        description="Stripe's reason: `tokenized_account_number_deactivated` (the bank's "
        "tokenized account number was deactivated; a relink of the account refreshes it and "
        "the same payment method works again), `bank_account_closed`, `bank_account_frozen`, "
        "`bank_account_invalid_details`, `bank_account_restricted`, `bank_account_unusable`, "
        "`debit_not_authorized`, or a reason Stripe adds later."
    )
    network_code: str | None = Field(
        description="The ACH return code behind the block (`R02`, `R03`, …), if any."
    )


class PaymentMethodSetupCreate(BaseModel):
    """Set up an ACH payment method from an account a relink linked in place of another."""

    model_config = with_examples({"billing_name": "Jenny Rosen"}, extra="forbid")

    billing_name: str = Field(
        min_length=1,
        max_length=255,
        # Something besides whitespace, and no NUL (which PostgreSQL text cannot hold).
        pattern=r"^[^\x00]*[^\s\x00][^\x00]*$",
        description="The account holder's name, for the payment method's billing details.",
    )
    account_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=STORABLE_TEXT,
        description="Which newly linked account to use; defaults to the only one.",
    )


class PaymentMethodSetupCreated(BaseModel):
    """A SetupIntent to confirm with Stripe.js ``confirmUsBankAccountSetup`` (or the mobile
    SDK) after the customer has read ``mandate_text``. The client secret is shown once and
    never stored."""

    model_config = with_examples(
        {
            "setup_intent_id": "seti_1PZ3xY2eZvKYlo2C",
            "client_secret": "seti_1PZ3xY2eZvKYlo2C_secret_abc123",
            "publishable_key": "pk_test_123",
            "relink_session_id": "rls_3f9c2a7d41b8e6f0a2c4d5e6",
            "account_id": "fca_1PZ4newChecking",
            "replaces_payment_method_id": "pm_1PZ2oldChecking",
            "status": "pending",
            "mandate_text": "By clicking Accept, you authorize …",
        }
    )

    setup_intent_id: str
    client_secret: str = Field(description="Pass to confirmUsBankAccountSetup.")
    publishable_key: str | None
    relink_session_id: str
    account_id: str = Field(description="The FC account the payment method will draw on.")
    replaces_payment_method_id: str | None = Field(
        description="The newest payment method made from the account the relink was for."
    )
    status: SetupStatus
    mandate_text: str = Field(description="Show this before confirming: the ACH mandate.")


class SetupFailure(BaseModel):
    code: str | None = Field(description="Stripe's last_setup_error.code.")
    message: str | None


PAYMENT_METHOD_EXAMPLE: dict[str, Any] = {
    "id": "pm_1PZ4newChecking",
    "account_id": "fca_1PZ4newChecking",
    "bank_name": "Sandbox Bank",
    "last4": "6789",
    "account_type": "checking",
    "usable": True,
    "unusable_reason": None,
    "blocked": None,
    "detached_at": None,
    "link_health": "ok",
    "replaces_payment_method_id": "pm_1PZ2oldChecking",
    "relink_session_id": "rls_3f9c2a7d41b8e6f0a2c4d5e6",
    "setup_intent_id": "seti_1PZ3xY2eZvKYlo2C",
    "created_at": "2026-11-26T12:03:00Z",
}


class PaymentMethodRead(BaseModel):
    """An ACH payment method relink-api set up, whether Stripe will charge it now, and the
    link health of the account it draws on: two separate facts."""

    model_config = with_examples(PAYMENT_METHOD_EXAMPLE)

    id: str
    account_id: str
    bank_name: str | None
    last4: str | None
    account_type: str | None
    usable: bool = Field(
        description="Stripe's word, as last read: neither blocked nor detached. A payment "
        "method stays usable while its account's link is broken or disconnected."
    )
    unusable_reason: UnusableReason | None = Field(
        description="Why `usable` is false; null when it is true."
    )
    blocked: PaymentMethodBlock | None = Field(
        description="Stripe's block on the payment method; null when it is not blocked."
    )
    detached_at: datetime | None = Field(
        description="When relink-api learnt Stripe had detached it from its customer."
    )
    link_health: LinkHealth = Field(
        description="The link health of the Financial Connections account it draws on, as "
        "on the account. A link that asks for a relink (`expiring`, `relink_required`) does "
        "not make the payment method unusable, and relinking that same account keeps it."
    )
    replaces_payment_method_id: str | None
    relink_session_id: str
    setup_intent_id: str
    created_at: datetime


class PaymentMethodSetupRead(BaseModel):
    """Where setting up the payment method stands, as last read from Stripe."""

    model_config = with_examples(
        {
            "setup_intent_id": "seti_1PZ3xY2eZvKYlo2C",
            "relink_session_id": "rls_3f9c2a7d41b8e6f0a2c4d5e6",
            "account_id": "fca_1PZ4newChecking",
            "replaces_payment_method_id": "pm_1PZ2oldChecking",
            "status": "succeeded",
            "failure": None,
            "payment_method": PAYMENT_METHOD_EXAMPLE,
            "created_at": "2026-11-26T12:02:00Z",
            "updated_at": "2026-11-26T12:03:00Z",
        }
    )

    setup_intent_id: str
    relink_session_id: str
    account_id: str
    replaces_payment_method_id: str | None
    status: SetupStatus
    failure: SetupFailure | None
    payment_method: PaymentMethodRead | None
    created_at: datetime
    updated_at: datetime


class PaymentMethodList(BaseModel):
    """A page of payment methods, oldest id first."""

    model_config = with_examples(
        {"data": [PAYMENT_METHOD_EXAMPLE], "has_more": False, "next_cursor": None}
    )

    data: list[PaymentMethodRead]
    has_more: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
