"""The bank's endpoints the Stripe.js stand-in calls: what the customer sees in the modal and
what they did there. See docs/sandbox.md, "Bank"."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relink_api.db import Connection, Database
from relink_api.sandbox import bank_flow, payments, store
from relink_api.sandbox.wire import StripeApiError, invalid
from relink_api.web.deps import DatabaseDep, SettingsDep


async def publishable_key(request: Request, settings: SettingsDep) -> None:
    """Stripe.js authenticates with the publishable key; the client secret names the object."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    expected = settings.stripe_publishable_key or ""
    if (
        scheme.lower() != "bearer"
        or not expected
        or not hmac.compare_digest(key.strip().encode(), expected.encode())
    ):
        raise StripeApiError(401, "Invalid publishable key.")


router = APIRouter(
    prefix="/sandbox/bank", include_in_schema=False, dependencies=[Depends(publishable_key)]
)


class SessionLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_secret: str = Field(min_length=1, max_length=255)


class SessionOutcome(bank_flow.Choice, SessionLookup):
    pass


class SetupConfirmation(SessionLookup):
    pass


Body = TypeVar("Body", bound=SessionLookup)


async def _body(request: Request, model: type[Body]) -> Body:
    """The JSON body as ``model``; anything else is a Stripe.js-shaped 400."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(part) for part in error["loc"]) or "body" for error in exc.errors()
        )
        raise invalid(f"Invalid request: check {fields}.", param=fields or None) from None


async def _on_pending_session(
    request: Request,
    db: Database,
    model: type[Body],
    act: Callable[[Connection, dict[str, Any], Body], Awaitable[dict[str, Any]]],
) -> JSONResponse:
    """Read the body, lock the pending session its client secret names, answer ``act``'s."""
    body = await _body(request, model)
    async with db.transaction() as conn:
        session = await bank_flow.pending_session(conn, body.client_secret)
        return JSONResponse(await act(conn, session, body))


async def _describe(
    conn: Connection, session: dict[str, Any], _lookup: SessionLookup
) -> dict[str, Any]:
    return await bank_flow.bank_view(conn, session)


@router.post("/session")
async def describe_session(request: Request, db: DatabaseDep) -> JSONResponse:
    return await _on_pending_session(request, db, SessionLookup, _describe)


@router.post("/session/complete")
async def complete_session(request: Request, db: DatabaseDep) -> JSONResponse:
    return await _on_pending_session(request, db, SessionOutcome, bank_flow.play)


@router.post("/setup_intents/confirm")
async def confirm_setup(request: Request, db: DatabaseDep) -> JSONResponse:
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
        confirmed = await payments.confirm_setup_intent(conn, setup_intent, None)
        view = await payments.render_setup_intent(conn, confirmed)
    # Raised after the commit: the failed state stands, and Stripe.js resolves {error}
    # carrying the SetupIntent and the refused payment method.
    if confirmed["status"] == "requires_payment_method":
        raise payments.setup_failure(view)
    return JSONResponse({"setupIntent": view})
