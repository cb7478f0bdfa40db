"""SetupIntents: creating one (optionally confirmed), confirming it, retrieving it. What a
confirmation does is ``relink_api.sandbox.payments``'s; here are Stripe's params."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from relink_api.db import Connection, Database
from relink_api.sandbox import payments, store, world
from relink_api.sandbox.stripe_api.idempotency import Build, idempotent
from relink_api.sandbox.stripe_api.params import expand, metadata, read_params, required
from relink_api.sandbox.stripe_api.responses import retrieve
from relink_api.sandbox.wire import invalid, missing
from relink_api.web.deps import DatabaseDep

router = APIRouter(include_in_schema=False)

MANDATE_DATA: dict[str, Any] = {
    "customer_acceptance": {
        "type": True,
        "accepted_at": True,
        "online": {"ip_address": True, "user_agent": True},
        "offline": True,
    }
}
CREATE_PARAMS: dict[str, Any] = {
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
    "mandate_data": MANDATE_DATA,
    "payment_method_options": {
        "us_bank_account": {"verification_method": True, "financial_connections": True}
    },
    "confirm": True,
    "usage": True,
    "metadata": True,
    "description": True,
    "expand": True,
}
CANCEL_PARAMS: dict[str, Any] = {"cancellation_reason": True, "expand": True}
CONFIRM_PARAMS: dict[str, Any] = {
    "mandate_data": MANDATE_DATA,
    "payment_method": True,
    "expand": True,
    "return_url": True,
}


async def _payment_method_from(conn: Connection, params: dict[str, Any]) -> dict[str, Any]:
    """A new, not yet attached PaymentMethod from ``payment_method_data``."""
    data = params.get("payment_method_data")
    if not isinstance(data, dict) or data.get("type") != "us_bank_account":
        raise invalid(
            "payment_method_data[type] must be us_bank_account.",
            param="payment_method_data[type]",
        )
    bank = data.get("us_bank_account") or {}
    param = "payment_method_data[us_bank_account][financial_connections_account]"
    account_id = required(bank.get("financial_connections_account"), param, f"Missing {param}.")
    account = await store.get(conn, account_id, type="account")
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
    payment_method = payments.make_payment_method(
        account,
        customer_id=None,
        name=(data.get("billing_details") or {}).get("name"),
        holder_type=bank.get("account_holder_type", "individual"),
    )
    await payments.save_payment_method(conn, payment_method)
    return payment_method


async def _answer(
    request: Request, db: Database, params: dict[str, Any], change: Build
) -> JSONResponse:
    """Answer the SetupIntent as ``change`` leaves it, once per ``Idempotency-Key``; a refused
    confirmation is Stripe's error, its refused state committed all the same."""
    fields = expand(params)

    async def build(conn: Connection) -> dict[str, Any]:
        return await payments.confirmation_answer(conn, await change(conn), fields)

    return await idempotent(request, db, params, build)


@router.post("/v1/setup_intents")
async def create_setup_intent(request: Request, db: DatabaseDep) -> JSONResponse:
    params = await read_params(request, CREATE_PARAMS)

    async def create(conn: Connection) -> dict[str, Any]:
        types = params.get("allowed_payment_method_types") or ["us_bank_account"]
        if types != ["us_bank_account"]:
            raise invalid(
                "The sandbox only sets up us_bank_account payment methods.",
                param="allowed_payment_method_types",
            )
        customer_id = params.get("customer")
        if customer_id and await store.get(conn, customer_id, type="customer") is None:
            raise missing("customer", customer_id, param="customer")
        kept = metadata(params.get("metadata"))
        payment_method = await _payment_method_from(conn, params)
        setup_intent = payments.make_setup_intent(
            customer_id=customer_id,
            payment_method_id=payment_method["id"],
            description=params.get("description"),
            metadata=kept,
            usage=params.get("usage", "off_session"),
        )
        await payments.save_setup_intent(conn, setup_intent)
        if str(params.get("confirm", "false")).lower() == "true":
            return await payments.confirm_setup_intent(
                conn, setup_intent, params.get("mandate_data")
            )
        return setup_intent

    return await _answer(request, db, params, create)


@router.post("/v1/setup_intents/{setup_intent_id}/confirm")
async def confirm_setup_intent(
    setup_intent_id: str, request: Request, db: DatabaseDep
) -> JSONResponse:
    params = await read_params(request, CONFIRM_PARAMS)

    async def confirm(conn: Connection) -> dict[str, Any]:
        setup_intent = await world.load(conn, setup_intent_id, type="setup_intent")
        return await payments.confirm_setup_intent(
            conn,
            setup_intent,
            params.get("mandate_data"),
            payment_method_id=params.get("payment_method"),
        )

    return await _answer(request, db, params, confirm)


@router.post("/v1/setup_intents/{setup_intent_id}/cancel")
async def cancel_setup_intent(
    setup_intent_id: str, request: Request, db: DatabaseDep
) -> JSONResponse:
    params = await read_params(request, CANCEL_PARAMS)
    reason = params.get("cancellation_reason")
    if reason is not None and reason not in payments.CANCELLATION_REASONS:
        raise invalid(
            "Invalid cancellation_reason: must be one of "
            + ", ".join(sorted(payments.CANCELLATION_REASONS)),
            param="cancellation_reason",
        )

    async def cancel(conn: Connection) -> dict[str, Any]:
        setup_intent = await world.load(conn, setup_intent_id, type="setup_intent")
        return await payments.cancel_setup_intent(conn, setup_intent, reason)

    return await _answer(request, db, params, cancel)


@router.get("/v1/setup_intents/{setup_intent_id}")
async def retrieve_setup_intent(
    setup_intent_id: str, request: Request, db: DatabaseDep
) -> JSONResponse:
    return await retrieve(
        request,
        db,
        setup_intent_id,
        type="setup_intent",
        render=payments.render_setup_intent,
    )
