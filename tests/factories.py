"""Stripe-shaped JSON for respx: the wire shapes of REFERENCE.md sections 1 to 3."""

from __future__ import annotations

from typing import Any

API = "https://api.stripe.com"


def fc_account(
    account_id: str = "fca_checking",
    *,
    customer: str | None = "cus_A",
    authorization: str | None = "fcauth_1",
    status: str = "active",
    action: str | None = None,
    cause: str | None = None,
    expected_deactivation_date: int | None = None,
    subcategory: str = "checking",
    institution: str = "fcinst_bank",
    institution_name: str = "StripeBank",
    display_name: str = "Everyday Checking",
    last4: str = "6789",
    permissions: list[str] | None = None,
    account_numbers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status_details: dict[str, Any] | None = None
    if status == "inactive":
        status_details = {"inactive": {"action": action or "relink_required", "cause": cause}}
    elif status == "active" and (action or expected_deactivation_date):
        status_details = {
            "active": {
                "action": action or "relink_required",
                "cause": cause,
                "expected_deactivation_date": expected_deactivation_date,
            }
        }
    return {
        "id": account_id,
        "object": "financial_connections.account",
        "livemode": False,
        "created": 1_700_000_000,
        "account_holder": (
            {"type": "customer", "customer": customer, "customer_account": None}
            if customer
            else None
        ),
        "authorization": authorization,
        "institution": institution,
        "institution_name": institution_name,
        "display_name": display_name,
        "last4": last4,
        "category": "credit" if subcategory == "credit_card" else "cash",
        "subcategory": subcategory,
        "permissions": permissions if permissions is not None else ["payment_method"],
        "subscriptions": [],
        "supported_payment_method_types": ["us_bank_account", "link"],
        "status": status,
        "status_details": status_details,
        "account_numbers": account_numbers,
        "balance": None,
        "balance_refresh": None,
        "ownership": None,
        "ownership_refresh": None,
        "transaction_refresh": None,
        "inferred_balances_refresh": None,
    }


def fc_session(
    session_id: str = "fcsess_1",
    *,
    customer: str | None = "cus_A",
    status: str = "pending",
    accounts: list[dict[str, Any]] | None = None,
    authorization: str = "fcauth_1",
    account: str | None = "fca_checking",
    relink_result: dict[str, Any] | None = None,
    permissions: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "financial_connections.session",
        "livemode": False,
        "account_holder": (
            {"type": "customer", "customer": customer, "customer_account": None}
            if customer
            else None
        ),
        "accounts": {
            "object": "list",
            "data": accounts or [],
            "has_more": False,
            "url": "/v1/financial_connections/accounts",
        },
        "bank_account_token": None,
        "client_secret": f"{session_id}_secret_Zx81Kq0pWm",
        "filters": {"account_subcategories": None, "country": "US"},
        "hosted": None,
        "limits": {"accounts": 1},
        "manual_entry": None,
        "permissions": permissions or ["payment_method"],
        "prefetch": [],
        "relink_options": {"authorization": authorization, "account": account},
        "relink_result": relink_result,
        "return_url": None,
        "status": status,
        "status_details": None,
        "ui_mode": "modal",
        "url": None,
    }


def fc_authorization(
    authorization_id: str = "fcauth_1",
    *,
    customer: str | None = "cus_A",
    status: str = "inactive",
    action: str | None = "relink_required",
) -> dict[str, Any]:
    details: dict[str, Any] | None = None
    if status == "inactive":
        details = {"inactive": {"action": action}}
    return {
        "id": authorization_id,
        "object": "financial_connections.authorization",
        "livemode": False,
        "account_holder": (
            {"type": "customer", "customer": customer, "customer_account": None}
            if customer
            else None
        ),
        "institution": "fcinst_bank",
        "institution_name": "StripeBank",
        "status": status,
        "status_details": details,
    }


def stripe_error(
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    message: str = "Something is wrong.",
    param: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type, "message": message}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    return {"error": error}


def account_list(accounts: list[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    return {
        "object": "list",
        "data": accounts,
        "has_more": has_more,
        "url": "/v1/financial_connections/accounts",
    }


def tokenized_number(expires: int, status: str = "transactable") -> list[dict[str, Any]]:
    """``account_numbers`` with one tokenized account number expiring at ``expires``."""
    return [
        {
            "identifier_type": "tokenized_account_number",
            "status": status,
            "expected_expiry_date": expires,
            "supported_networks": ["ach"],
        }
    ]
