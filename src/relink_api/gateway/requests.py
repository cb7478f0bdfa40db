"""What the gateway is asked to create, and the Stripe params it sends for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from stripe.params import SetupIntentCreateParams
from stripe.params.financial_connections import (
    SessionCreateParams,
    SessionCreateParamsAccountHolder,
)

from relink_api.gateway.objects import AccountHolder

RelinkScope = Literal["account", "institution"]

# Stripe's guide: an institution-scope relink for payments collects one account, and only
# the kinds an ACH payment method can use.
INSTITUTION_SCOPE_SUBCATEGORIES = ("checking", "savings")


@dataclass(frozen=True, slots=True)
class RelinkSessionRequest:
    """What a relink session is created for; the gateway turns it into Stripe's params."""

    scope: RelinkScope
    authorization_id: str
    account_id: str
    account_holder: AccountHolder | None
    permissions: Sequence[str]
    return_url: str | None = None
    idempotency_key: str | None = None
    # ``url`` or ``email`` for a Stripe-hosted session; ``None`` for the modal.
    hosted_delivery: Literal["url", "email"] | None = None


@dataclass(frozen=True, slots=True)
class SetupIntentRequest:
    """A SetupIntent that turns a newly linked FC account into an ACH payment method."""

    customer_id: str | None
    financial_connections_account: str
    billing_name: str
    metadata: dict[str, str]
    idempotency_key: str


def relink_session_params(request: RelinkSessionRequest) -> SessionCreateParams:
    """Stripe's params for a relink session, exactly as the relink guide prescribes."""
    permissions = ["payment_method", *sorted(set(request.permissions) - {"payment_method"})]
    params: SessionCreateParams = {"permissions": permissions}
    holder = request.account_holder
    if holder is not None:
        # Same holder as the existing account; omitted for holder-less accounts (two-step
        # confirmation flows), as Stripe's guide says.
        account_holder: SessionCreateParamsAccountHolder = {"type": holder.type}
        if holder.customer is not None:
            account_holder["customer"] = holder.customer
        if holder.customer_account is not None:
            account_holder["customer_account"] = holder.customer_account
        if holder.account is not None:
            account_holder["account"] = holder.account
        params["account_holder"] = account_holder
    if request.scope == "account":
        params["relink_options"] = {
            "authorization": request.authorization_id,
            "account": request.account_id,
        }
    else:
        params["relink_options"] = {"authorization": request.authorization_id}
        params["limits"] = {"accounts": 1}
        params["filters"] = {"account_subcategories": list(INSTITUTION_SCOPE_SUBCATEGORIES)}
    if request.return_url is not None:
        params["return_url"] = request.return_url
    if request.hosted_delivery is not None:
        params["ui_mode"] = "hosted"
        params["hosted"] = {"delivery_method": request.hosted_delivery}
    return params


def setup_intent_params(request: SetupIntentRequest) -> SetupIntentCreateParams:
    """Stripe's params for an ACH SetupIntent from an FC account (docs/stripe.md §6)."""
    params: SetupIntentCreateParams = {
        # The pinned preview API removed payment_method_types (2026-08-26.preview).
        "allowed_payment_method_types": ["us_bank_account"],
        "payment_method_data": {
            "type": "us_bank_account",
            "us_bank_account": {
                "financial_connections_account": request.financial_connections_account
            },
            "billing_details": {"name": request.billing_name},
        },
        "usage": "off_session",
        "metadata": request.metadata,
    }
    if request.customer_id is not None:
        params["customer"] = request.customer_id
    return params
