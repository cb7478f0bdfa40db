"""Financial Connections sessions: ``POST /v1/financial_connections/sessions`` and retrieving
one (docs/stripe.md §1)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from relink_api.db import Connection
from relink_api.sandbox import store, world
from relink_api.sandbox.stripe_api.idempotency import idempotent
from relink_api.sandbox.stripe_api.params import ACCOUNT_HOLDER, check_return_url
from relink_api.sandbox.stripe_api.responses import retrieve
from relink_api.sandbox.wire import (
    check_known,
    client_secret_for,
    form_params,
    invalid,
    missing,
    new_id,
)
from relink_api.web.deps import DatabaseDep, SettingsDep

router = APIRouter(include_in_schema=False)

PERMISSIONS = {"balances", "ownership", "payment_method", "transactions"}
SUBCATEGORIES = {"checking", "savings", "mortgage", "line_of_credit", "credit_card"}
PAYMENT_METHOD_SUPPORT = ("all", "at_least_one", "none")
SESSION_PARAMS: dict[str, Any] = {
    "account_holder": ACCOUNT_HOLDER,
    "expand": True,
    "filters": {
        "account_subcategories": True,
        "country": True,
        "institution": True,
        "require_payment_method_support": True,
    },
    "hosted": {"delivery_method": True},
    "limits": {"accounts": True},
    "manual_entry": {"mode": True},
    "permissions": True,
    "prefetch": True,
    "relink_options": {"authorization": True, "account": True},
    "return_url": True,
    "ui_mode": True,
}
DELIVERY_METHODS = ("email", "url")


@dataclass(frozen=True)
class _Checked:
    """What the checks of a new session found."""

    limit: int | None
    filters: dict[str, Any]
    ui_mode: str
    delivery: str | None
    email_to: str | None
    authorization: dict[str, Any] | None


def _array(value: Any, param: str, *, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (non_empty and not value):
        raise invalid(f"{param} must be {'a non-empty' if non_empty else 'an'} array.", param=param)
    return value


def _check_permissions(params: dict[str, Any]) -> None:
    permissions = params.get("permissions")
    if permissions is None:
        raise invalid(
            "Missing required param: permissions.", param="permissions", code="parameter_missing"
        )
    for index, permission in enumerate(_array(permissions, "permissions", non_empty=True)):
        if permission not in PERMISSIONS:
            raise invalid(
                f"Invalid permissions[{index}]: must be one of {', '.join(sorted(PERMISSIONS))}",
                param=f"permissions[{index}]",
            )


async def _check_holder(conn: Connection, holder: Any) -> None:
    if holder is None:
        return
    if not isinstance(holder, dict) or holder.get("type") not in ("customer", "account"):
        raise invalid(
            "account_holder[type] must be one of customer, account.",
            param="account_holder[type]",
        )
    customer_id = holder.get("customer")
    if holder["type"] == "customer" and customer_id:
        if await store.get(conn, customer_id, type="customer") is None:
            raise missing("customer", customer_id, param="account_holder[customer]")


def _subcategories(filters: dict[str, Any]) -> list[str] | None:
    subcategories = filters.get("account_subcategories")
    if subcategories is None:
        return None
    param = "filters[account_subcategories]"
    values: list[str] = _array(subcategories, param)
    for index, value in enumerate(values):
        if value not in SUBCATEGORIES:
            raise invalid(f"Invalid {param}[{index}]: {value}", param=f"{param}[{index}]")
    return values


def _filters(params: dict[str, Any]) -> dict[str, Any]:
    """The session's ``filters`` as Stripe echoes them: each one given, ``country`` US by
    default (docs/stripe.md §1)."""
    filters = params.get("filters") or {}
    if not isinstance(filters, dict):
        raise invalid("filters must be a hash.", param="filters")
    for name in ("country", "institution"):
        if not isinstance(filters.get(name, ""), str):
            raise invalid(f"filters[{name}] must be a string.", param=f"filters[{name}]")
    support = filters.get("require_payment_method_support")
    if support is not None and support not in PAYMENT_METHOD_SUPPORT:
        raise invalid(
            "Invalid filters[require_payment_method_support]: must be one of "
            + ", ".join(PAYMENT_METHOD_SUPPORT),
            param="filters[require_payment_method_support]",
        )
    return {
        "account_subcategories": _subcategories(filters),
        "country": filters.get("country") or "US",
        "institution": filters.get("institution") or None,
        "require_payment_method_support": support,
    }


def _account_limit(params: dict[str, Any]) -> int | None:
    limits = params.get("limits")
    raw_limit = limits.get("accounts") if isinstance(limits, dict) else None
    if raw_limit in (None, ""):
        return None
    if not str(raw_limit).isdigit() or int(raw_limit) < 1:
        raise invalid("limits[accounts] must be a positive integer.", param="limits[accounts]")
    return int(raw_limit)


async def _validate_session(conn: Connection, params: dict[str, Any]) -> _Checked:
    """Refuse what Stripe refuses, in the order it checks."""
    check_known(params, SESSION_PARAMS)
    _check_permissions(params)
    holder = params.get("account_holder")
    await _check_holder(conn, holder)
    filters = _filters(params)
    limit = _account_limit(params)
    ui_mode = params.get("ui_mode", "modal")
    if ui_mode not in ("modal", "hosted"):
        raise invalid("ui_mode must be one of modal, hosted.", param="ui_mode")
    return_url = params.get("return_url")
    if return_url is not None:
        check_return_url(return_url)
    relink = params.get("relink_options")
    delivery = _validate_hosted(params, ui_mode) if ui_mode == "hosted" else None
    if ui_mode != "hosted" and params.get("hosted") is not None:
        raise invalid("hosted can only be used when ui_mode is hosted.", param="hosted")
    authorization = None
    if relink is not None:
        authorization = await _validate_relink(conn, relink, holder)
    email_to = None
    if delivery == "email":
        assert authorization is not None
        email_to = await _email_recipient(conn, holder, authorization)
    return _Checked(limit, filters, ui_mode, delivery, email_to, authorization)


def _validate_hosted(params: dict[str, Any], ui_mode: str) -> str:
    """``hosted[delivery_method]`` of a hosted session, which only relinks (docs/stripe.md §1)."""
    hosted = params.get("hosted")
    param = "hosted[delivery_method]"
    if hosted is not None and not isinstance(hosted, dict):
        raise invalid("hosted must be a hash.", param="hosted")
    delivery = (hosted or {}).get("delivery_method")
    if delivery in (None, ""):
        raise invalid(
            f"Missing required param: {param} (required when ui_mode is {ui_mode}).",
            param=param,
            code="parameter_missing",
        )
    if delivery not in DELIVERY_METHODS:
        raise invalid(
            f"Invalid {param}: must be one of {', '.join(DELIVERY_METHODS)}.", param=param
        )
    if params.get("relink_options") is None:
        raise invalid(
            "The values email and url can only be used if relink_options is provided.",
            param=param,
        )
    if params.get("return_url") is None:
        raise invalid(
            "Missing required param: return_url (required when ui_mode is hosted).",
            param="return_url",
            code="parameter_missing",
        )
    return str(delivery)


async def _email_recipient(
    conn: Connection, holder: dict[str, Any] | None, authorization: dict[str, Any]
) -> str:
    """Where Stripe emails the hosted link: the account holder's customer's email."""
    customer_id = (holder or {}).get("customer") or (authorization.get("account_holder") or {}).get(
        "customer"
    )
    customer = await store.get(conn, customer_id, type="customer") if customer_id else None
    email = (customer or {}).get("email")
    if not email:
        who = f"The customer {customer_id}" if customer_id else "The account holder"
        raise invalid(
            f"{who} has no email address, so the hosted link cannot be emailed. "
            "Add an email to the customer or use hosted[delivery_method]=url.",
            param="hosted[delivery_method]",
        )
    return str(email)


async def _validate_relink(
    conn: Connection, relink: Any, holder: dict[str, Any] | None
) -> dict[str, Any]:
    if not isinstance(relink, dict) or not relink.get("authorization"):
        raise invalid(
            "Missing required param: relink_options[authorization].",
            param="relink_options[authorization]",
            code="parameter_missing",
        )
    authorization_id = relink["authorization"]
    authorization = await store.get(conn, authorization_id, type="authorization")
    if authorization is None:
        raise missing(
            "financial_connections.authorization",
            authorization_id,
            param="relink_options[authorization]",
        )
    if authorization["status"] == "disconnected":
        raise invalid(
            f"The authorization {authorization_id} is disconnected and cannot be relinked.",
            param="relink_options[authorization]",
        )
    owner = (authorization.get("account_holder") or {}).get("customer")
    requested = (holder or {}).get("customer")
    if requested and owner and requested != owner:
        raise invalid(
            f"The authorization {authorization_id} does not belong to {requested}.",
            param="account_holder[customer]",
        )
    account_id = relink.get("account")
    if account_id:
        account = await store.get(conn, account_id, type="account")
        if account is None or account.get("authorization") != authorization_id:
            raise invalid(
                f"The account {account_id} does not belong to the authorization "
                f"{authorization_id}.",
                param="relink_options[account]",
            )
        details = (account.get("status_details") or {}).get("inactive") or {}
        if account["status"] == "inactive" and details.get("action") == "none":
            raise invalid(
                f"The account {account_id} cannot be relinked ({details.get('cause')}).",
                param="relink_options[account]",
            )
    return authorization


@router.post("/v1/financial_connections/sessions")
async def create_session(request: Request, db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    params = await form_params(request)

    async def build(conn: Connection) -> dict[str, Any]:
        checked = await _validate_session(conn, params)
        session_id = new_id("fcsess")
        relink = params.get("relink_options")
        hosted: dict[str, Any] | None = None
        url: str | None = None
        if checked.delivery is not None:
            # The URL names the session by a token of its own: the client secret
            # never goes into a URL, where logs and browser history would keep it.
            token = secrets.token_urlsafe(32)
            url = f"{(settings.public_base_url or '').rstrip('/')}/sandbox/hosted/{token}"
            hosted = {
                "delivery_method": checked.delivery,
                "return_url": params["return_url"],
            }
            await store.put(
                conn,
                {
                    "id": new_id("fchosted"),
                    "object": "sandbox.hosted_link",
                    "session": session_id,
                },
                type="hosted_link",
                lookup=token,
            )
        session = {
            "id": session_id,
            "object": "financial_connections.session",
            "account_holder": params.get("account_holder"),
            "accounts": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": "/v1/financial_connections/accounts",
            },
            "bank_account_token": None,
            "client_secret": client_secret_for(session_id),
            "filters": checked.filters,
            "hosted": hosted,
            # `accounts` is never null: a session without a limit has no `limits`.
            "limits": {"accounts": checked.limit} if checked.limit is not None else None,
            "livemode": False,
            "manual_entry": {"mode": (params.get("manual_entry") or {}).get("mode", "automatic")},
            "permissions": params["permissions"],
            "prefetch": params.get("prefetch") or [],
            "relink_options": (
                {"authorization": relink["authorization"], "account": relink.get("account")}
                if relink
                else None
            ),
            "relink_result": None,
            "return_url": params.get("return_url"),
            "status": "pending",
            "status_details": None,
            "ui_mode": checked.ui_mode,
            "url": url,
        }
        await store.put(conn, session, type="session", lookup=session["client_secret"])
        if checked.email_to is not None and checked.authorization is not None:
            institution = checked.authorization["institution_name"]
            await world.record_email(
                conn,
                to=checked.email_to,
                subject=f"Reconnect your {institution} account",
                text=(
                    f"Your {institution} account needs to be reconnected to keep payments "
                    f"working.\n\nReconnect it here:\n{url}\n"
                ),
                url=url,
                session=session_id,
            )
        return world.api_view(session)

    return await idempotent(request, db, params, build)


@router.get("/v1/financial_connections/sessions/{session_id}")
async def retrieve_session(session_id: str, request: Request, db: DatabaseDep) -> JSONResponse:
    return await retrieve(request, db, session_id, type="session")
