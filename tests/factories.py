"""Stripe-shaped JSON for respx: the wire shapes of docs/stripe.md §1 to §3."""

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


def payment_method(
    payment_method_id: str = "pm_new",
    *,
    account: str = "fca_new",
    customer: str | None = "cus_A",
    created: int = 1_700_000_000,
    blocked_reason: str | None = None,
    last4: str = "4321",
) -> dict[str, Any]:
    """A ``us_bank_account`` PaymentMethod made from an FC account."""
    return {
        "id": payment_method_id,
        "object": "payment_method",
        "billing_details": {"name": "Jenny Rosen", "email": None},
        "created": created,
        "customer": customer,
        "livemode": False,
        "type": "us_bank_account",
        "us_bank_account": {
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "StripeBank",
            "financial_connections_account": account,
            "last4": last4,
            "networks": {"preferred": "ach", "supported": ["ach"]},
            "routing_number": "110000000",
            "status_details": (
                {"blocked": {"network_code": None, "reason": blocked_reason}}
                if blocked_reason
                else {}
            ),
        },
    }


def setup_intent(
    setup_intent_id: str = "seti_1",
    *,
    status: str = "requires_confirmation",
    customer: str | None = "cus_A",
    method: dict[str, Any] | str | None = "pm_new",
    error_code: str | None = None,
) -> dict[str, Any]:
    """A SetupIntent; ``method`` is the payment method's id, or the object when expanded."""
    return {
        "id": setup_intent_id,
        "object": "setup_intent",
        "client_secret": f"{setup_intent_id}_secret_Qm7Zp2Lx",
        "created": 1_700_000_000,
        "customer": customer,
        "last_setup_error": (
            {"type": "invalid_request_error", "code": error_code, "message": "The bank said no."}
            if error_code
            else None
        ),
        "livemode": False,
        "mandate": "mandate_1" if status == "succeeded" else None,
        "metadata": {},
        "payment_method": method,
        "payment_method_types": ["us_bank_account"],
        "status": status,
        "usage": "off_session",
    }


def payment_method_list(methods: list[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": methods, "has_more": has_more, "url": "/v1/payment_methods"}
