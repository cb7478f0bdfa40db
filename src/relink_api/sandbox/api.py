"""The sandbox's Stripe REST API: the calls relink-api makes, in Stripe's wire format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from relink_api.db import Connection, Database
from relink_api.sandbox import store, world
from relink_api.sandbox.wire import (
    StripeApiError,
    check_known,
    client_secret_for,
    form_params,
    invalid,
    missing,
    new_id,
    request_id,
)
from relink_api.settings import DEFAULT_STRIPE_API_VERSION, Settings
from relink_api.web.deps import DatabaseDep, SettingsDep

router = APIRouter(prefix="/sandbox/stripe", include_in_schema=False)

PERMISSIONS = {"balances", "ownership", "payment_method", "transactions"}
SUBCATEGORIES = {"checking", "savings", "mortgage", "line_of_credit", "credit_card"}
_HOLDER = {"type": True, "customer": True, "customer_account": True, "account": True}
SESSION_PARAMS: dict[str, Any] = {
    "account_holder": _HOLDER,
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
SETUP_INTENT_PARAMS: dict[str, Any] = {
    "customer": True,
    "allowed_payment_method_types": True,
    "payment_method_data": {
        "type": True,
        "us_bank_account": {
            "financial_connections_account": True,
            "account_holder_type": True,
            "account_type": True,
        },
        "billing_details": {"name": True, "email": True, "phone": True, "address": True},
    },
    "mandate_data": {
        "customer_acceptance": {
            "type": True,
            "accepted_at": True,
            "online": {"ip_address": True, "user_agent": True},
            "offline": True,
        }
    },
    "payment_method_options": {
        "us_bank_account": {"verification_method": True, "financial_connections": True}
    },
    "confirm": True,
    "usage": True,
    "metadata": True,
    "description": True,
    "expand": True,
}
CONFIRM_PARAMS: dict[str, Any] = {
    "mandate_data": SETUP_INTENT_PARAMS["mandate_data"],
    "payment_method": True,
    "expand": True,
    "return_url": True,
}
DELIVERY_METHODS = ("email", "url")
# Schemes that would run code, or read local files, when the hosted page sends the customer
# back; Stripe refuses them as return URLs.
_UNSAFE_SCHEMES = {"javascript", "data", "vbscript", "file", "blob"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# Printable ASCII, no spaces: the URL goes out verbatim in a Location header.
_URL_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")
# Stripe's metadata limits.
_METADATA_KEYS = 50
_METADATA_KEY_LENGTH = 40
_METADATA_VALUE_LENGTH = 500
SETUP_FAILURE_MESSAGES = {
    "bank_account_unusable": (
        "The bank account provided cannot be used. Please try a different bank account."
    ),
    "bank_account_declined": "The bank account provided was declined by the bank.",
    "bank_account_restricted": "The bank account provided is restricted and cannot be used.",
}


class SetupFailed(StripeApiError):
    """The bank refused a SetupIntent's confirmation: Stripe answers with an error, yet the
    SetupIntent's new state (``requires_payment_method``) stands, so the caller commits it."""


def authenticate(request: Request, settings: Settings) -> None:
    """Stripe's API keys: ``Bearer sk_…``, or HTTP Basic with the key as the user name."""
    expected = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth.",
        )
    if not expected or not hmac.compare_digest(key.encode(), expected.encode()):
        masked = key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
        raise StripeApiError(401, f"Invalid API Key provided: {masked}")


def respond(
    request: Request, body: dict[str, Any], status: int = 200, rid: str | None = None
) -> JSONResponse:
    headers = {
        "Request-Id": rid or request_id(),
        "Stripe-Version": request.headers.get("stripe-version") or DEFAULT_STRIPE_API_VERSION,
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def _idempotent(
    request: Request,
    conn: Connection,
    params: dict[str, Any],
    build: Callable[[], Awaitable[dict[str, Any]]],
) -> JSONResponse:
    """Stripe's idempotency: the same key replays the first response, but only for the same
    request; a key reused for other parameters or another endpoint is an error."""
    key = request.headers.get("idempotency-key")
    fingerprint = hashlib.sha256(
        json.dumps([request.method, request.url.path, params], sort_keys=True).encode()
    ).hexdigest()
    if key:
        replay = await store.idempotent_response(conn, key)
        if replay is not None:
            status, body, first = replay
            if first != fingerprint:
                raise StripeApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                    type="idempotency_error",
                )
            response = respond(request, body, status)
            response.headers["Idempotent-Replayed"] = "true"
            return response
    rid = request_id()
    status = 200
    try:
        body = await build()
    except SetupFailed as failure:
        # Answered as an error but not rolled back; a replay answers the same error.
        status, body = failure.status, failure.body(rid)
    if key:
        await store.store_idempotent_response(conn, key, status, body, fingerprint)
    return respond(request, body, status, rid)


async def _no_params(request: Request) -> list[str]:
    """Retrieve endpoints take only `expand` (returned); Stripe refuses anything else by name."""
    params = await form_params(request)
    check_known(params, {"expand": True})
    return _expand(params)


def _expand(params: dict[str, Any]) -> list[str]:
    raw = params.get("expand")
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return raw
    raise invalid("expand must be an array of strings.", param="expand")


async def _retrieve(
    request: Request,
    db: Database,
    settings: Settings,
    object_id: str,
    *,
    type: str,
    kind: str,
) -> JSONResponse:
    """``GET /v1/<objects>/{id}``: authenticated, only ``expand`` allowed, 404 as Stripe."""
    authenticate(request, settings)
    await _no_params(request)
    async with db.connection() as conn:
        found = await store.get(conn, object_id, type=type)
    if found is None:
        raise missing(kind, object_id)
    return respond(request, session_view(found))


def session_view(session: dict[str, Any]) -> dict[str, Any]:
    """An object as the API returns it (internal bookkeeping removed). A session's hosted
    ``url`` is only there while the session is pending."""
    view = {key: value for key, value in session.items() if not key.startswith("_")}
    if view.get("object") == "financial_connections.session" and view.get("status") != "pending":
        view["url"] = None
    return view


def _check_return_url(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("return_url must be a URL.", param="return_url")
    scheme = _SCHEME.match(value)
    try:
        netloc = urlsplit(value).netloc
    except ValueError:  # an unbalanced IPv6 bracket, say
        netloc = ""
        scheme = None
    if (
        len(value) > 2048
        or not _URL_CHARACTERS.match(value)
        or scheme is None
        or scheme.group(1).lower() in _UNSAFE_SCHEMES
        or (scheme.group(1).lower() in ("http", "https") and not netloc)
    ):
        raise invalid(f"Not a valid URL: {value[:200]}", param="return_url")
    return value


# --- Financial Connections sessions ---------------------------------------------------------


async def _validate_session(conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, SESSION_PARAMS)
    permissions = params.get("permissions")
    if permissions is None:
        raise invalid(
            "Missing required param: permissions.", param="permissions", code="parameter_missing"
        )
    if not isinstance(permissions, list) or not permissions:
        raise invalid("permissions must be a non-empty array.", param="permissions")
    for index, permission in enumerate(permissions):
        if permission not in PERMISSIONS:
            raise invalid(
                f"Invalid permissions[{index}]: must be one of {', '.join(sorted(PERMISSIONS))}",
                param=f"permissions[{index}]",
            )
    holder = params.get("account_holder")
    if holder is not None:
        if not isinstance(holder, dict) or holder.get("type") not in ("customer", "account"):
            raise invalid(
                "account_holder[type] must be one of customer, account.",
                param="account_holder[type]",
            )
        customer_id = holder.get("customer")
        if holder["type"] == "customer" and customer_id:
            if await store.get(conn, customer_id, type="customer") is None:
                raise missing("customer", customer_id, param="account_holder[customer]")
    filters = params.get("filters") or {}
    subcategories = filters.get("account_subcategories")
    if subcategories is not None:
        if not isinstance(subcategories, list):
            raise invalid(
                "filters[account_subcategories] must be an array.",
                param="filters[account_subcategories]",
            )
        for index, value in enumerate(subcategories):
            if value not in SUBCATEGORIES:
                raise invalid(
                    f"Invalid filters[account_subcategories][{index}]: {value}",
                    param=f"filters[account_subcategories][{index}]",
                )
    limits = params.get("limits")
    limit: int | None = None
    if limits is not None:
        raw_limit = limits.get("accounts") if isinstance(limits, dict) else None
        if raw_limit not in (None, ""):
            if not str(raw_limit).isdigit() or int(raw_limit) < 1:
                raise invalid(
                    "limits[accounts] must be a positive integer.", param="limits[accounts]"
                )
            limit = int(raw_limit)
    ui_mode = params.get("ui_mode", "modal")
    if ui_mode not in ("modal", "hosted"):
        raise invalid("ui_mode must be one of modal, hosted.", param="ui_mode")
    return_url = params.get("return_url")
    if return_url is not None:
        _check_return_url(return_url)
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
    return {
        "limit": limit,
        "subcategories": subcategories,
        "ui_mode": ui_mode,
        "delivery": delivery,
        "email_to": email_to,
        "authorization": authorization,
    }


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
    authenticate(request, settings)
    params = await form_params(request)
    async with db.transaction() as conn:

        async def build() -> dict[str, Any]:
            checked = await _validate_session(conn, params)
            session_id = new_id("fcsess")
            relink = params.get("relink_options")
            hosted: dict[str, Any] | None = None
            url: str | None = None
            if checked["delivery"] is not None:
                # The URL names the session by a token of its own: the client secret
                # never goes into a URL, where logs and browser history would keep it.
                token = secrets.token_urlsafe(32)
                url = f"{(settings.public_base_url or '').rstrip('/')}/sandbox/hosted/{token}"
                hosted = {
                    "delivery_method": checked["delivery"],
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
                "filters": {
                    "account_subcategories": checked["subcategories"],
                    "country": (params.get("filters") or {}).get("country", "US"),
                    "institution": (params.get("filters") or {}).get("institution"),
                    "require_payment_method_support": None,
                },
                "hosted": hosted,
                "limits": {"accounts": checked["limit"]},
                "livemode": False,
                "manual_entry": {
                    "mode": (params.get("manual_entry") or {}).get("mode", "automatic")
                },
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
                "ui_mode": checked["ui_mode"],
                "url": url,
            }
            await store.put(conn, session, type="session", lookup=session["client_secret"])
            if checked["email_to"] is not None:
                institution = checked["authorization"]["institution_name"]
                await world.record_email(
                    conn,
                    to=checked["email_to"],
                    subject=f"Reconnect your {institution} account",
                    text=(
                        f"Your {institution} account needs to be reconnected to keep payments "
                        f"working.\n\nReconnect it here:\n{url}\n"
                    ),
                    url=url,
                    session=session_id,
                )
            return session_view(session)

        return await _idempotent(request, conn, params, build)


@router.get("/v1/financial_connections/sessions/{session_id}")
async def retrieve_session(
    session_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    return await _retrieve(
        request, db, settings, session_id, type="session", kind="financial_connections.session"
    )


# --- accounts and authorizations ------------------------------------------------------------


@router.get("/v1/financial_connections/accounts/{account_id}")
async def retrieve_account(
    account_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    return await _retrieve(
        request, db, settings, account_id, type="account", kind="financial_connections.account"
    )


@router.get("/v1/financial_connections/accounts")
async def list_accounts(request: Request, db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    authenticate(request, settings)
    params = await form_params(request)
    check_known(
        params,
        {
            "account_holder": _HOLDER,
            "session": True,
            "limit": True,
            "starting_after": True,
            "ending_before": True,
            "expand": True,
        },
    )
    customer = (params.get("account_holder") or {}).get("customer")
    if not customer:
        raise invalid(
            "You must pass account_holder[customer] (the sandbox lists by customer).",
            param="account_holder[customer]",
            code="parameter_missing",
        )
    limit = _limit(params)
    async with db.connection() as conn:
        for cursor in ("starting_after", "ending_before"):
            cursor_id = params.get(cursor)
            if cursor_id is not None and await store.get(conn, cursor_id, type="account") is None:
                raise missing("financial_connections.account", cursor_id, param=cursor)
        page, has_more = await store.list_by_lookup(
            conn,
            type="account",
            lookup=customer,
            limit=limit,
            starting_after=params.get("starting_after"),
            ending_before=params.get("ending_before"),
        )
    return respond(
        request,
        {
            "object": "list",
            "data": page,
            "has_more": has_more,
            "url": "/v1/financial_connections/accounts",
        },
    )


def _limit(params: dict[str, Any]) -> int:
    raw_limit = params.get("limit", "10")
    if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= 100:
        raise invalid("limit must be an integer between 1 and 100.", param="limit")
    return int(raw_limit)


@router.get("/v1/financial_connections/authorizations/{authorization_id}")
async def retrieve_authorization(
    authorization_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    return await _retrieve(
        request,
        db,
        settings,
        authorization_id,
        type="authorization",
        kind="financial_connections.authorization",
    )


# --- SetupIntents and PaymentMethods ------------------------------------------------------


def _metadata(raw: Any) -> dict[str, str]:
    """Stripe's metadata: a hash of strings within Stripe's limits; an empty value unsets."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, list):
        # Keys 0…n-1 arrive looking like an array; to Stripe they are still keys.
        raw = {str(index): value for index, value in enumerate(raw)}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise invalid("metadata must be a hash of strings.", param="metadata")
    if len(raw) > _METADATA_KEYS:
        raise invalid(f"metadata can have at most {_METADATA_KEYS} keys.", param="metadata")
    for key, value in raw.items():
        if len(key) > _METADATA_KEY_LENGTH or len(value) > _METADATA_VALUE_LENGTH:
            raise invalid(
                f"metadata keys are at most {_METADATA_KEY_LENGTH} characters and values at "
                f"most {_METADATA_VALUE_LENGTH}.",
                param=f"metadata[{key}]",
            )
    return {key: value for key, value in raw.items() if value != ""}


async def _payment_method_from(conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
    """A new, not yet attached PaymentMethod from ``payment_method_data``."""
    data = params.get("payment_method_data")
    if not isinstance(data, dict) or data.get("type") != "us_bank_account":
        raise invalid(
            "payment_method_data[type] must be us_bank_account.",
            param="payment_method_data[type]",
        )
    bank = data.get("us_bank_account") or {}
    account_id = bank.get("financial_connections_account")
    if not account_id:
        raise invalid(
            "Missing payment_method_data[us_bank_account][financial_connections_account].",
            param="payment_method_data[us_bank_account][financial_connections_account]",
            code="parameter_missing",
        )
    account = await store.get(conn, account_id, type="account")
    param = "payment_method_data[us_bank_account][financial_connections_account]"
    if account is None:
        raise missing("financial_connections.account", account_id, param=param)
    if "payment_method" not in (account.get("permissions") or []):
        raise invalid(
            f"The account {account_id} was not linked with the payment_method permission.",
            param=param,
        )
    if account["status"] != "active" or "us_bank_account" not in account.get(
        "supported_payment_method_types", []
    ):
        raise invalid(f"The account {account_id} cannot be used for payments now.", param=param)
    payment_method = world.make_payment_method(
        account,
        customer_id=None,
        name=(data.get("billing_details") or {}).get("name"),
        holder_type=bank.get("account_holder_type", "individual"),
    )
    await world.save_payment_method(conn, payment_method)
    return payment_method


async def render_setup_intent(
    conn: Connection, setup_intent: dict[str, Any], expand: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """A SetupIntent as the API returns it: ``payment_method`` an id unless expanded, and the
    payment method of ``last_setup_error`` always whole and current."""
    view = session_view(setup_intent)
    error = view.get("last_setup_error")
    if isinstance(error, dict) and isinstance(error.get("payment_method"), dict):
        current = await store.get(conn, error["payment_method"]["id"], type="payment_method")
        if current is not None:
            view["last_setup_error"] = {
                **error,
                "payment_method": await world.payment_method_view(conn, current),
            }
    if "payment_method" in expand and isinstance(view.get("payment_method"), str):
        payment_method = await store.get(conn, view["payment_method"], type="payment_method")
        if payment_method is not None:
            view["payment_method"] = await world.payment_method_view(conn, payment_method)
    return view


def setup_failure(view: dict[str, Any]) -> SetupFailed:
    """The error Stripe answers a refused confirmation with, naming both objects."""
    error = view["last_setup_error"]
    return SetupFailed(
        400,
        error["message"],
        code=error["code"],
        related={"payment_method": error["payment_method"], "setup_intent": view},
    )


async def _use_payment_method(
    conn: Connection, setup_intent: dict[str, Any], payment_method_id: Any
) -> None:
    if not isinstance(payment_method_id, str) or not payment_method_id:
        raise invalid("payment_method must be a PaymentMethod id.", param="payment_method")
    payment_method = await store.get(conn, payment_method_id, type="payment_method")
    if payment_method is None:
        raise missing("payment_method", payment_method_id, param="payment_method")
    owner = payment_method.get("customer")
    if owner is not None and owner != setup_intent.get("customer"):
        raise invalid(
            f"The payment method {payment_method_id} belongs to another customer.",
            param="payment_method",
        )
    setup_intent["payment_method"] = payment_method_id


async def confirm_setup_intent(
    conn: Connection,
    setup_intent: dict[str, Any],
    mandate_data: Any,
    *,
    payment_method_id: str | None = None,
) -> dict[str, Any]:
    """Confirm with a mandate. ``succeeded`` (the payment method attached to the customer,
    ``setup_intent.succeeded`` sent), or, when the control API armed a failure for the FC
    account, ``requires_payment_method`` with ``last_setup_error`` and
    ``setup_intent.setup_failed`` sent. Callers answer the latter with ``setup_failure``."""
    if setup_intent["status"] == "succeeded":
        raise invalid(
            "This SetupIntent has already succeeded.", code="setup_intent_unexpected_state"
        )
    if payment_method_id is not None:
        await _use_payment_method(conn, setup_intent, payment_method_id)
    if not setup_intent.get("payment_method"):
        raise invalid(
            "You cannot confirm this SetupIntent because it's missing a payment method. "
            "Pass payment_method.",
            param="payment_method",
            code="parameter_missing",
        )
    acceptance = (
        (mandate_data or {}).get("customer_acceptance") if isinstance(mandate_data, dict) else None
    )
    if not acceptance and not setup_intent.get("_mandate_accepted"):
        raise invalid(
            "A mandate is required: pass mandate_data[customer_acceptance].",
            param="mandate_data",
            code="parameter_missing",
        )
    setup_intent.pop("_mandate_accepted", None)
    payment_method = await world.load(
        conn, setup_intent["payment_method"], type="payment_method", kind="payment_method"
    )
    account_id = (payment_method.get("us_bank_account") or {}).get("financial_connections_account")
    armed = (
        await store.find(conn, type="setup_failure", lookup=account_id, for_update=True)
        if account_id
        else None
    )
    if armed is not None:
        await store.delete(conn, armed["id"], type="setup_failure")
        code = armed["code"]
        setup_intent["status"] = "requires_payment_method"
        # As Stripe does: the failed method leaves the intent and is named in the error.
        setup_intent["payment_method"] = None
        setup_intent["last_setup_error"] = {
            "code": code,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "message": SETUP_FAILURE_MESSAGES.get(
                code, f"The bank account could not be set up ({code})."
            ),
            "payment_method": payment_method,
            "payment_method_type": "us_bank_account",
            "type": "invalid_request_error",
        }
        await store.put(
            conn, setup_intent, type="setup_intent", lookup=setup_intent["client_secret"]
        )
        await world.emit(
            conn, "setup_intent.setup_failed", await render_setup_intent(conn, setup_intent)
        )
        return setup_intent
    setup_intent["status"] = "succeeded"
    setup_intent["mandate"] = new_id("mandate")
    setup_intent["last_setup_error"] = None
    await store.put(conn, setup_intent, type="setup_intent", lookup=setup_intent["client_secret"])
    customer_id = setup_intent.get("customer")
    if customer_id and payment_method.get("customer") != customer_id:
        payment_method["customer"] = customer_id
        await world.save_payment_method(conn, payment_method)
        await world.emit(
            conn, "payment_method.attached", await world.payment_method_view(conn, payment_method)
        )
    await world.emit(conn, "setup_intent.succeeded", await render_setup_intent(conn, setup_intent))
    return setup_intent


@router.post("/v1/setup_intents")
async def create_setup_intent(
    request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    authenticate(request, settings)
    params = await form_params(request)
    check_known(params, SETUP_INTENT_PARAMS)
    expand = _expand(params)
    async with db.transaction() as conn:

        async def build() -> dict[str, Any]:
            types = params.get("allowed_payment_method_types") or ["us_bank_account"]
            if types != ["us_bank_account"]:
                raise invalid(
                    "The sandbox only sets up us_bank_account payment methods.",
                    param="allowed_payment_method_types",
                )
            customer_id = params.get("customer")
            if customer_id and await store.get(conn, customer_id, type="customer") is None:
                raise missing("customer", customer_id, param="customer")
            metadata = _metadata(params.get("metadata"))
            payment_method = await _payment_method_from(conn, params)
            setup_id = new_id("seti")
            setup_intent: dict[str, Any] = {
                "id": setup_id,
                "object": "setup_intent",
                "client_secret": client_secret_for(setup_id),
                "created": world.now(),
                "customer": customer_id,
                "description": params.get("description"),
                "last_setup_error": None,
                "livemode": False,
                "mandate": None,
                "metadata": metadata,
                "payment_method": payment_method["id"],
                "payment_method_types": ["us_bank_account"],
                "status": "requires_confirmation",
                "usage": params.get("usage", "off_session"),
            }
            await store.put(
                conn, setup_intent, type="setup_intent", lookup=setup_intent["client_secret"]
            )
            if str(params.get("confirm", "false")).lower() == "true":
                setup_intent = await confirm_setup_intent(
                    conn, setup_intent, params.get("mandate_data")
                )
            view = await render_setup_intent(conn, setup_intent, expand)
            if setup_intent["status"] == "requires_payment_method":
                raise setup_failure(view)
            return view

        return await _idempotent(request, conn, params, build)


@router.post("/v1/setup_intents/{setup_intent_id}/confirm")
async def confirm_setup_intent_route(
    setup_intent_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    authenticate(request, settings)
    params = await form_params(request)
    check_known(params, CONFIRM_PARAMS)
    expand = _expand(params)
    async with db.transaction() as conn:

        async def build() -> dict[str, Any]:
            setup_intent = await world.load(
                conn, setup_intent_id, type="setup_intent", kind="setup_intent"
            )
            confirmed = await confirm_setup_intent(
                conn,
                setup_intent,
                params.get("mandate_data"),
                payment_method_id=params.get("payment_method"),
            )
            view = await render_setup_intent(conn, confirmed, expand)
            if confirmed["status"] == "requires_payment_method":
                raise setup_failure(view)
            return view

        return await _idempotent(request, conn, params, build)


@router.get("/v1/setup_intents/{setup_intent_id}")
async def retrieve_setup_intent(
    setup_intent_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    authenticate(request, settings)
    expand = await _no_params(request)
    async with db.connection() as conn:
        found = await store.get(conn, setup_intent_id, type="setup_intent")
        if found is None:
            raise missing("setup_intent", setup_intent_id)
        view = await render_setup_intent(conn, found, expand)
    return respond(request, view)


@router.get("/v1/payment_methods/{payment_method_id}")
async def retrieve_payment_method(
    payment_method_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    authenticate(request, settings)
    await _no_params(request)
    async with db.connection() as conn:
        found = await store.get(conn, payment_method_id, type="payment_method")
        if found is None:
            raise missing("payment_method", payment_method_id)
        view = await world.payment_method_view(conn, found)
    return respond(request, view)


@router.get("/v1/payment_methods")
async def list_payment_methods(
    request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    authenticate(request, settings)
    params = await form_params(request)
    check_known(
        params,
        {
            "customer": True,
            "type": True,
            "limit": True,
            "starting_after": True,
            "ending_before": True,
            "expand": True,
        },
    )
    _expand(params)
    customer = params.get("customer")
    if not customer:
        raise invalid(
            "You must pass customer (the sandbox lists payment methods by customer).",
            param="customer",
            code="parameter_missing",
        )
    kind = params.get("type")
    if kind is not None and kind != "us_bank_account":
        raise invalid(
            "The sandbox only has us_bank_account payment methods; type must be us_bank_account.",
            param="type",
        )
    limit = _limit(params)
    async with db.connection() as conn:
        if await store.get(conn, customer, type="customer") is None:
            raise missing("customer", customer, param="customer")
        for cursor in ("starting_after", "ending_before"):
            cursor_id = params.get(cursor)
            if (
                cursor_id is not None
                and await store.get(conn, cursor_id, type="payment_method") is None
            ):
                raise missing("payment_method", cursor_id, param=cursor)
        page, has_more = await store.list_by_lookup(
            conn,
            type="payment_method",
            lookup=customer,
            limit=limit,
            starting_after=params.get("starting_after"),
            ending_before=params.get("ending_before"),
        )
        data = [await world.payment_method_view(conn, item) for item in page]
    return respond(
        request,
        {"object": "list", "data": data, "has_more": has_more, "url": "/v1/payment_methods"},
    )


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "DELETE", "PUT", "PATCH"], include_in_schema=False
)
async def unknown_endpoint(path: str, request: Request, settings: SettingsDep) -> JSONResponse:
    authenticate(request, settings)
    raise StripeApiError(
        404,
        f"Unrecognized request URL ({request.method}: /{path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )
