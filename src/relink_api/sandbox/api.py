"""The sandbox's Stripe REST API: the calls relink-api makes, in Stripe's wire format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from relink_api.db import Connection, Database
from relink_api.deps import DatabaseDep, SettingsDep
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
    "expand": True,
    "return_url": True,
}


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


def respond(request: Request, body: dict[str, Any], status: int = 200) -> JSONResponse:
    headers = {
        "Request-Id": request_id(),
        "Stripe-Version": request.headers.get("stripe-version") or DEFAULT_STRIPE_API_VERSION,
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def _idempotent(
    request: Request, conn: Connection, params: dict[str, Any], build: Any
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
    body = await build()
    if key:
        await store.store_idempotent_response(conn, key, 200, body, fingerprint)
    return respond(request, body)


async def _no_params(request: Request) -> None:
    # Retrieve endpoints take only `expand`; Stripe refuses anything else by name.
    check_known(await form_params(request), {"expand": True})


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
    """A session as the API returns it (internal bookkeeping removed)."""
    return {key: value for key, value in session.items() if not key.startswith("_")}


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
    if ui_mode == "hosted":
        raise invalid(
            "Hosted sessions are not simulated by this sandbox yet; use ui_mode=modal.",
            param="ui_mode",
        )
    relink = params.get("relink_options")
    if relink is not None:
        await _validate_relink(conn, relink, holder)
    return {"limit": limit, "subcategories": subcategories, "ui_mode": ui_mode}


async def _validate_relink(conn: Connection, relink: Any, holder: dict[str, Any] | None) -> None:
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


@router.post("/v1/financial_connections/sessions")
async def create_session(request: Request, db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    authenticate(request, settings)
    params = await form_params(request)
    async with db.transaction() as conn:

        async def build() -> dict[str, Any]:
            checked = await _validate_session(conn, params)
            session_id = new_id("fcsess")
            relink = params.get("relink_options")
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
                "hosted": None,
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
                "url": None,
            }
            await store.put(conn, session, type="session", lookup=session["client_secret"])
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
    raw_limit = params.get("limit", "10")
    if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= 100:
        raise invalid("limit must be an integer between 1 and 100.", param="limit")
    limit = int(raw_limit)
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


async def _payment_method_from(
    conn: Connection, params: dict[str, Any], customer_id: str | None
) -> dict[str, Any]:
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
    payment_method = {
        "id": new_id("pm"),
        "object": "payment_method",
        "billing_details": {"name": (data.get("billing_details") or {}).get("name"), "email": None},
        "created": world.now(),
        "customer": customer_id,
        "livemode": False,
        "type": "us_bank_account",
        "us_bank_account": {
            "account_holder_type": bank.get("account_holder_type", "individual"),
            "account_type": "savings" if account["subcategory"] == "savings" else "checking",
            "bank_name": account["institution_name"],
            "financial_connections_account": account_id,
            "last4": account["last4"],
            "networks": {"preferred": "ach", "supported": ["ach"]},
            "routing_number": "110000000",
            "status_details": {},
        },
    }
    await store.put(conn, payment_method, type="payment_method")
    return payment_method


async def confirm_setup_intent(
    conn: Connection, setup_intent: dict[str, Any], mandate_data: Any
) -> dict[str, Any]:
    """Confirm with a mandate: succeeded, and ``setup_intent.succeeded`` is sent."""
    if setup_intent["status"] == "succeeded":
        raise invalid(
            "This SetupIntent has already succeeded.", code="setup_intent_unexpected_state"
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
    setup_intent["status"] = "succeeded"
    setup_intent["mandate"] = new_id("mandate")
    setup_intent.pop("_mandate_accepted", None)
    await store.put(conn, setup_intent, type="setup_intent", lookup=setup_intent["client_secret"])
    await world.emit(conn, "setup_intent.succeeded", setup_intent)
    return setup_intent


@router.post("/v1/setup_intents")
async def create_setup_intent(
    request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    authenticate(request, settings)
    params = await form_params(request)
    check_known(params, SETUP_INTENT_PARAMS)
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
            payment_method = await _payment_method_from(conn, params, customer_id)
            setup_id = new_id("seti")
            setup_intent: dict[str, Any] = {
                "id": setup_id,
                "object": "setup_intent",
                "client_secret": client_secret_for(setup_id),
                "created": world.now(),
                "customer": customer_id,
                "last_setup_error": None,
                "livemode": False,
                "mandate": None,
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
            return session_view(setup_intent)

        return await _idempotent(request, conn, params, build)


@router.post("/v1/setup_intents/{setup_intent_id}/confirm")
async def confirm_setup_intent_route(
    setup_intent_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    authenticate(request, settings)
    params = await form_params(request)
    check_known(params, CONFIRM_PARAMS)
    async with db.transaction() as conn:
        setup_intent = await world.load(
            conn, setup_intent_id, type="setup_intent", kind="setup_intent"
        )
        confirmed = await confirm_setup_intent(conn, setup_intent, params.get("mandate_data"))
    return respond(request, session_view(confirmed))


@router.get("/v1/setup_intents/{setup_intent_id}")
async def retrieve_setup_intent(
    setup_intent_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    return await _retrieve(
        request, db, settings, setup_intent_id, type="setup_intent", kind="setup_intent"
    )


@router.get("/v1/payment_methods/{payment_method_id}")
async def retrieve_payment_method(
    payment_method_id: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    return await _retrieve(
        request, db, settings, payment_method_id, type="payment_method", kind="payment_method"
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
