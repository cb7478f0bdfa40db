"""The bank's side of the flow, for the Stripe.js stand-in: what the customer sees in the
modal and what they did there. See docs/sandbox.md, "Bank"."""

from __future__ import annotations

import hmac
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relink_api.db import Connection
from relink_api.sandbox import store, world
from relink_api.sandbox.api import (
    confirm_setup_intent,
    render_setup_intent,
    session_view,
    setup_failure,
)
from relink_api.sandbox.wire import StripeApiError, invalid
from relink_api.settings import Settings
from relink_api.web.deps import DatabaseDep, SettingsDep

router = APIRouter(prefix="/sandbox/bank", include_in_schema=False)


class SessionLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_secret: str = Field(min_length=1, max_length=255)


class Choice(BaseModel):
    """What the customer did at the bank: in the stand-in's modal or on the hosted page."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["login_failed", "cancel", "link", "link_new"]
    account_id: str | None = Field(default=None, max_length=255)


class SessionOutcome(Choice, SessionLookup):
    pass


class SetupConfirmation(SessionLookup):
    pass


Body = TypeVar("Body", bound=BaseModel)


async def _body(request: Request, model: type[Body]) -> Body:
    """The JSON body as ``model``; anything else is a Stripe.js-shaped 400."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(part) for part in error["loc"]) or "body" for error in exc.errors()
        )
        raise invalid(f"Invalid request: check {fields}.", param=fields or None) from None


def _publishable(request: Request, settings: Settings) -> None:
    # Stripe.js authenticates with the publishable key; the client secret names the object.
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    expected = settings.stripe_publishable_key or ""
    if (
        scheme.lower() != "bearer"
        or not expected
        or not hmac.compare_digest(key.strip().encode(), expected.encode())
    ):
        raise StripeApiError(401, "Invalid publishable key.")


async def _pending_session(conn: Connection, client_secret: str) -> dict[str, Any]:
    session = await store.find(conn, type="session", lookup=client_secret, for_update=True)
    if session is None:
        raise StripeApiError(
            404,
            "No such Financial Connections session for this client secret.",
            code="resource_missing",
        )
    if session["status"] != "pending":
        raise invalid(
            "This Financial Connections session has already been completed.",
            code="session_already_completed",
        )
    return session


def _selectable(session: dict[str, Any], account: dict[str, Any]) -> bool:
    allowed = (session.get("filters") or {}).get("account_subcategories")
    return account["status"] != "disconnected" and (
        not allowed or account["subcategory"] in allowed
    )


async def bank_view(conn: Connection, session: dict[str, Any]) -> dict[str, Any]:
    """What the bank shows for a session: the institution and the authorization's accounts,
    each marked selectable or not."""
    relink = session.get("relink_options") or {}
    authorization_id = relink.get("authorization")
    accounts = (
        await store.accounts_on_authorization(conn, authorization_id) if authorization_id else []
    )
    authorization = (
        await store.get(conn, authorization_id, type="authorization") if authorization_id else None
    )
    return {
        "session": {
            "id": session["id"],
            "status": session["status"],
            "institution_name": (authorization or {}).get("institution_name", "Your bank"),
            "relink_account": relink.get("account"),
            "account_limit": (session.get("limits") or {}).get("accounts"),
        },
        "accounts": [
            {
                "id": account["id"],
                "display_name": account["display_name"],
                "last4": account["last4"],
                "subcategory": account["subcategory"],
                "status": account["status"],
                "selectable": _selectable(session, account),
            }
            for account in accounts
        ],
    }


@router.post("/session")
async def describe_session(
    request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    _publishable(request, settings)
    body = await _body(request, SessionLookup)
    async with db.transaction() as conn:
        session = await _pending_session(conn, body.client_secret)
        view = await bank_view(conn, session)
    return JSONResponse(view)


def _browser_session(session: dict[str, Any], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """What Stripe.js resolves with: accounts as an array, never the client secret."""
    return {
        "financialConnectionsSession": {
            "id": session["id"],
            "object": "financial_connections.session",
            "accounts": accounts,
            "filters": session.get("filters"),
            "livemode": False,
            "permissions": session.get("permissions"),
            "relink_result": session.get("relink_result"),
            "return_url": session.get("return_url"),
            "status": session["status"],
        }
    }


async def _finish(
    conn: Connection,
    session: dict[str, Any],
    *,
    status: str,
    accounts: list[dict[str, Any]],
    relink_result: dict[str, Any] | None,
) -> dict[str, Any]:
    session["status"] = status
    session["relink_result"] = relink_result
    session["accounts"]["data"] = accounts
    if status == "cancelled":
        session["status_details"] = {"cancelled": {"reason": "other"}}
    # A hosted link works only while the session is pending.
    session["url"] = None
    await store.put(conn, session, type="session")
    await world.emit(conn, "financial_connections.session.updated", session_view(session))
    return _browser_session(session, accounts)


async def play(conn: Connection, session: dict[str, Any], body: Choice) -> dict[str, Any]:
    """Apply what the customer did in the bank's flow; see the table in docs/sandbox.md.
    ``session`` must be pending and locked (``FOR UPDATE``)."""
    relink = session.get("relink_options") or {}
    authorization_id = relink.get("authorization")
    expected_account = relink.get("account")

    def failed(reason: str) -> dict[str, Any]:
        return {"account": None, "authorization": None, "failure_reason": reason}

    if body.outcome == "cancel":
        return await _finish(conn, session, status="cancelled", accounts=[], relink_result=None)
    if body.outcome == "login_failed" or not authorization_id:
        return await _finish(
            conn, session, status="failed", accounts=[], relink_result=failed("no_authorization")
        )
    if body.outcome == "link_new":
        if expected_account:
            return await _finish(
                conn, session, status="failed", accounts=[], relink_result=failed("no_account")
            )
        authorization = await world.load(
            conn, authorization_id, type="authorization", kind="financial_connections.authorization"
        )
        customer_id = (session.get("account_holder") or {}).get("customer") or (
            authorization.get("account_holder") or {}
        ).get("customer")
        linked = world.make_account(
            customer_id=customer_id,
            authorization_id=authorization_id,
            institution_id=authorization["institution"],
            display_name="New Checking",
            subcategory="checking",
            permissions=list(session.get("permissions") or ["payment_method"]),
        )
        await world.save_account(conn, linked)
        await world.emit(conn, "financial_connections.account.created", linked)
    else:
        if body.account_id is None:
            raise invalid("Choose an account to link.", param="account_id")
        linked = await world.load(
            conn, body.account_id, type="account", kind="financial_connections.account"
        )
        if linked.get("authorization") != authorization_id or not _selectable(session, linked):
            raise invalid("That account cannot be linked in this session.", param="account_id")
        if expected_account and body.account_id != expected_account:
            return await _finish(
                conn, session, status="failed", accounts=[], relink_result=failed("no_account")
            )
    await world.repair_authorization(conn, authorization_id)
    fresh = await store.get(conn, linked["id"], type="account")
    assert fresh is not None
    return await _finish(
        conn,
        session,
        status="succeeded",
        accounts=[fresh],
        relink_result={
            "account": expected_account,
            "authorization": authorization_id,
            "failure_reason": None,
        },
    )


@router.post("/session/complete")
async def complete_session(
    request: Request, db: DatabaseDep, settings: SettingsDep
) -> JSONResponse:
    _publishable(request, settings)
    body = await _body(request, SessionOutcome)
    async with db.transaction() as conn:
        session = await _pending_session(conn, body.client_secret)
        result = await play(conn, session, body)
    return JSONResponse(result)


@router.post("/setup_intents/confirm")
async def confirm_setup(request: Request, db: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    _publishable(request, settings)
    body = await _body(request, SetupConfirmation)
    async with db.transaction() as conn:
        setup_intent = await store.find(
            conn, type="setup_intent", lookup=body.client_secret, for_update=True
        )
        if setup_intent is None:
            raise StripeApiError(
                404, "No such SetupIntent for this client secret.", code="resource_missing"
            )
        # The customer accepted the mandate text on the page that called us.
        setup_intent["_mandate_accepted"] = True
        confirmed = await confirm_setup_intent(conn, setup_intent, None)
        view = await render_setup_intent(conn, confirmed)
    # Raised after the commit: the failed state stands, and Stripe.js resolves {error}
    # carrying the SetupIntent and the refused payment method.
    if confirmed["status"] == "requires_payment_method":
        raise setup_failure(view)
    return JSONResponse({"setupIntent": view})
