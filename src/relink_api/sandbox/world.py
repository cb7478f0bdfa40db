"""The sandbox's Stripe: Financial Connections accounts and authorizations, what they look
like and how they change, and the events and emails Stripe sends about them. PaymentMethods
and SetupIntents are in ``payments``, demo customers in ``demo``.

Every change that Stripe would announce queues the matching event in the outbox, in the
same transaction, so the app hears of it exactly as it would from Stripe.
"""

from __future__ import annotations

import random
import time
from typing import Any

from relink_api.db import Connection
from relink_api.sandbox import account_numbers, store
from relink_api.sandbox.wire import invalid, missing, new_id
from relink_api.settings import DEFAULT_STRIPE_API_VERSION

# The name Stripe gives each type of object the sandbox stores: its 404s say "No such <name>".
STRIPE_NAMES = {
    "session": "financial_connections.session",
    "account": "financial_connections.account",
    "authorization": "financial_connections.authorization",
    "setup_intent": "setup_intent",
    "payment_method": "payment_method",
}
INSTITUTIONS = {
    "fcinst_SandboxBank": "Sandbox Bank",
    "fcinst_RiversideCU": "Riverside Credit Union",
    account_numbers.INSTITUTION_ID: account_numbers.INSTITUTION_NAME,
}


def now() -> int:
    return int(time.time())


def holder(customer_id: str | None) -> dict[str, Any] | None:
    if customer_id is None:
        return None
    return {"type": "customer", "customer": customer_id, "customer_account": None}


def make_account(
    *,
    customer_id: str | None,
    authorization_id: str,
    institution_id: str,
    display_name: str,
    subcategory: str,
    status: str = "active",
    action: str | None = None,
    cause: str | None = None,
    expected_deactivation_date: int | None = None,
    permissions: list[str] | None = None,
) -> dict[str, Any]:
    account: dict[str, Any] = {
        "id": new_id("fca"),
        "object": "financial_connections.account",
        "account_holder": holder(customer_id),
        "account_numbers": account_numbers.issue(
            institution_id, subcategory, active=status == "active"
        ),
        "authorization": authorization_id,
        "balance": None,
        "balance_refresh": None,
        "category": "credit" if subcategory == "credit_card" else "cash",
        "created": now(),
        "display_name": display_name,
        "inferred_balances_refresh": None,
        "institution": institution_id,
        "institution_name": INSTITUTIONS[institution_id],
        "last4": f"{random.randint(0, 9999):04d}",
        "livemode": False,
        "ownership": None,
        "ownership_refresh": None,
        "permissions": permissions or ["payment_method", "balances"],
        "subcategory": subcategory,
        "subscriptions": [],
        "supported_payment_method_types": (
            [] if subcategory == "credit_card" else ["us_bank_account", "link"]
        ),
        "transaction_refresh": None,
    }
    set_status(account, status, action=action, cause=cause, expected=expected_deactivation_date)
    return account


def set_status(
    account: dict[str, Any],
    status: str,
    *,
    action: str | None = None,
    cause: str | None = None,
    expected: int | None = None,
) -> None:
    """Set status and the status_details branch that goes with it, as Stripe renders them."""
    account["status"] = status
    if status == "inactive":
        account["status_details"] = {
            "inactive": {"action": action or "relink_required", "cause": cause or "unspecified"}
        }
    elif status == "active" and expected is not None:
        account["status_details"] = {
            "active": {
                "action": "relink_required",
                "cause": cause or "access_expired",
                "expected_deactivation_date": expected,
            }
        }
    else:
        account["status_details"] = None


def make_authorization(*, customer_id: str | None, institution_id: str) -> dict[str, Any]:
    return {
        "id": new_id("fcauth"),
        "object": "financial_connections.authorization",
        "account_holder": holder(customer_id),
        "institution": institution_id,
        "institution_name": INSTITUTIONS[institution_id],
        "livemode": False,
        "status": "active",
        "status_details": {},
    }


def make_event(type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """An event about ``obj`` as it is now; ``api_version`` is the version it is rendered
    at, which delivery sets to the webhook endpoint's."""
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": DEFAULT_STRIPE_API_VERSION,
        "created": now(),
        "data": {"object": api_view(obj)},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


async def emit(conn: Connection, type: str, obj: dict[str, Any]) -> None:
    await store.enqueue_event(conn, make_event(type, obj))


async def save_account(conn: Connection, account: dict[str, Any]) -> None:
    customer = (account.get("account_holder") or {}).get("customer")
    await store.put(conn, account, type="account", lookup=customer)


def expected_date(obj: dict[str, Any]) -> int | None:
    """An account's or authorization's expected deactivation date, if it has one."""
    active = (obj.get("status_details") or {}).get("active") or {}
    date = active.get("expected_deactivation_date")
    return int(date) if date is not None else None


async def refresh_authorization(conn: Connection, authorization_id: str) -> None:
    """An authorization is as healthy as its accounts: inactive while any is, expiring at the
    earliest date of its accounts. Stripe announces a date set or changed, as for accounts."""
    authorization = await store.get(conn, authorization_id, type="authorization", for_update=True)
    if authorization is None:
        return
    accounts = [
        account
        for account in await store.accounts_on_authorization(conn, authorization_id)
        if account["status"] != "disconnected"
    ]
    inactive = [account for account in accounts if account["status"] == "inactive"]
    previous = expected_date(authorization)
    if inactive:
        repairable = any(
            account["status_details"]["inactive"]["action"] == "relink_required"
            for account in inactive
        )
        authorization["status"] = "inactive"
        authorization["status_details"] = {
            "inactive": {"action": "relink_required" if repairable else "none"}
        }
    else:
        dates = [date for date in map(expected_date, accounts) if date is not None]
        authorization["status"] = "active"
        # Always an object: empty when there is nothing to report (docs/stripe.md §3).
        authorization["status_details"] = (
            {"active": {"action": "relink_required", "expected_deactivation_date": min(dates)}}
            if dates
            else {}
        )
    await store.put(conn, authorization, type="authorization")
    expected = expected_date(authorization)
    if expected is not None and expected != previous:
        await emit(
            conn,
            "financial_connections.authorization.expected_deactivation_date_updated",
            authorization,
        )


async def record_email(
    conn: Connection, *, to: str, subject: str, text: str, url: str | None, session: str | None
) -> dict[str, Any]:
    """An email Stripe would have sent, kept in the sandbox's outbox of emails instead."""
    email = {
        "id": new_id("email"),
        "object": "sandbox.email",
        "to": to,
        "subject": subject,
        "text": text,
        "url": url,
        "session": session,
        "created": now(),
    }
    await store.put(conn, email, type="email", lookup=session)
    return email


async def load(conn: Connection, object_id: str, *, type: str) -> dict[str, Any]:
    """The object, locked for the change to come; Stripe's 404 when there is none."""
    found = await store.get(conn, object_id, type=type, for_update=True)
    if found is None:
        raise missing(STRIPE_NAMES[type], object_id)
    return found


def api_view(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as the API returns it (internal bookkeeping removed). A session's hosted
    ``url`` is only there while the session is pending."""
    view = {key: value for key, value in obj.items() if not key.startswith("_")}
    if view.get("object") == "financial_connections.session" and view.get("status") != "pending":
        view["url"] = None
    return view


# --- state changes the control API and the bank drive ---------------------------------------


async def _save_with_numbers(conn: Connection, account: dict[str, Any], numbers: str) -> None:
    """Save an account whose status changed, its tokenized numbers now ``numbers``."""
    for number in account.get("account_numbers") or []:
        number["status"] = numbers
    await save_account(conn, account)


async def disconnect_account(conn: Connection, account_id: str) -> dict[str, Any]:
    """As Stripe's ``POST /v1/financial_connections/accounts/{id}/disconnect``: for good.
    Its payment methods keep working unless its numbers were tokenized (docs/stripe.md §6)."""
    account = await load(conn, account_id, type="account")
    if account["status"] != "disconnected":
        set_status(account, "disconnected")
        await _save_with_numbers(conn, account, "deactivated")
        await emit(conn, "financial_connections.account.disconnected", account)
        await refresh_authorization(conn, account["authorization"])
    return account


async def deactivate_account(
    conn: Connection, account_id: str, *, cause: str, action: str
) -> dict[str, Any]:
    account = await load(conn, account_id, type="account")
    if account["status"] == "disconnected":
        raise invalid(f"{account_id} is disconnected.", param="id")
    set_status(account, "inactive", action=action, cause=cause)
    await _save_with_numbers(conn, account, "deactivated")
    await emit(conn, "financial_connections.account.deactivated", account)
    await refresh_authorization(conn, account["authorization"])
    return account


async def reactivate_account(conn: Connection, account_id: str) -> dict[str, Any]:
    account = await load(conn, account_id, type="account")
    if account["status"] == "disconnected":
        raise invalid(f"{account_id} is disconnected.", param="id")
    changed = account["status"] != "active" or account.get("status_details") is not None
    set_status(account, "active")
    await _save_with_numbers(conn, account, "transactable")
    if changed:
        await emit(conn, "financial_connections.account.reactivated", account)
    await refresh_authorization(conn, account["authorization"])
    return account


async def _authorization_accounts(conn: Connection, authorization_id: str) -> list[str]:
    await load(conn, authorization_id, type="authorization")
    return [
        account["id"]
        for account in await store.accounts_on_authorization(conn, authorization_id)
        if account["status"] != "disconnected"
    ]


async def deactivate_authorization(
    conn: Connection, authorization_id: str, *, cause: str, action: str
) -> list[str]:
    """Every connected account on the authorization deactivated; returns their ids."""
    account_ids = await _authorization_accounts(conn, authorization_id)
    for account_id in account_ids:
        await deactivate_account(conn, account_id, cause=cause, action=action)
    return account_ids


async def reactivate_authorization(conn: Connection, authorization_id: str) -> list[str]:
    """Every connected account on the authorization reactivated; returns their ids."""
    account_ids = await _authorization_accounts(conn, authorization_id)
    for account_id in account_ids:
        await reactivate_account(conn, account_id)
    return account_ids


async def repair_authorization(conn: Connection, authorization_id: str) -> list[str]:
    """A successful relink: every repairable account on the authorization is active again
    (tokenized numbers transactable). Returns the accounts it reactivated."""
    reactivated: list[str] = []
    for account in await store.accounts_on_authorization(conn, authorization_id, for_update=True):
        details = account.get("status_details") or {}
        repairable = account["status"] == "inactive" and (
            (details.get("inactive") or {}).get("action") == "relink_required"
        )
        expiring = account["status"] == "active" and details.get("active") is not None
        if not (repairable or expiring):
            continue
        set_status(account, "active")
        await _save_with_numbers(conn, account, "transactable")
        await emit(conn, "financial_connections.account.reactivated", account)
        reactivated.append(account["id"])
    await refresh_authorization(conn, authorization_id)
    return reactivated
