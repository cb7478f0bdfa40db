"""What the customer does at the bank, for the Stripe.js stand-in's modal and the hosted page
alike: what the bank shows for a session and what each choice does. See docs/sandbox.md,
"Bank"."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relink_api.db import Connection
from relink_api.sandbox import store, tokenized, world
from relink_api.sandbox.wire import StripeApiError, invalid


class Choice(BaseModel):
    """What the customer did at the bank: in the stand-in's modal or on the hosted page."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["login_failed", "cancel", "link", "link_new"]
    account_id: str | None = Field(default=None, max_length=255)


async def pending_session(conn: Connection, client_secret: str) -> dict[str, Any]:
    """The session a client secret names, locked for the change to come; a finished one is
    refused as Stripe.js refuses it."""
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
    await world.emit(conn, "financial_connections.session.updated", world.api_view(session))
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
        authorization = await world.load(conn, authorization_id, type="authorization")
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
        linked = await world.load(conn, body.account_id, type="account")
        if linked.get("authorization") != authorization_id or not _selectable(session, linked):
            raise invalid("That account cannot be linked in this session.", param="account_id")
        if expected_account and body.account_id != expected_account:
            return await _finish(
                conn, session, status="failed", accounts=[], relink_result=failed("no_account")
            )
    # A new authorization at the bank: broken links repaired, tokenized numbers reissued.
    await tokenized.relink(conn, authorization_id)
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
