"""PaymentMethods: retrieving one, listing a customer's, updating one, detaching one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from relink_api.db import Connection
from relink_api.sandbox import payment_method_changes, payments, store
from relink_api.sandbox.stripe_api.idempotency import idempotent
from relink_api.sandbox.stripe_api.params import (
    expand,
    metadata,
    page_limit,
    read_params,
    required,
)
from relink_api.sandbox.stripe_api.responses import list_page, list_response, retrieve
from relink_api.sandbox.wire import invalid, missing
from relink_api.web.deps import DatabaseDep

router = APIRouter(include_in_schema=False)

LIST_PARAMS = {
    "customer": True,
    "type": True,
    "limit": True,
    "starting_after": True,
    "ending_before": True,
    "expand": True,
}
UPDATE_PARAMS: dict[str, Any] = {
    "billing_details": {
        "address": dict.fromkeys(payment_method_changes.ADDRESS_FIELDS, True),
        "email": True,
        "name": True,
        "phone": True,
    },
    "metadata": True,
    "expand": True,
}


async def _render(
    conn: Connection, payment_method: dict[str, Any], expand: list[str]
) -> dict[str, Any]:
    return await payments.payment_method_view(conn, payment_method)


@router.get("/v1/payment_methods/{payment_method_id}")
async def retrieve_payment_method(
    payment_method_id: str, request: Request, db: DatabaseDep
) -> JSONResponse:
    return await retrieve(request, db, payment_method_id, type="payment_method", render=_render)


@router.get("/v1/payment_methods")
async def list_payment_methods(request: Request, db: DatabaseDep) -> JSONResponse:
    params = await read_params(request, LIST_PARAMS)
    expand(params)
    customer = required(
        params.get("customer"),
        "customer",
        "You must pass customer (the sandbox lists payment methods by customer).",
    )
    kind = params.get("type")
    if kind is not None and kind != "us_bank_account":
        raise invalid(
            "The sandbox only has us_bank_account payment methods; type must be us_bank_account.",
            param="type",
        )
    limit = page_limit(params)
    async with db.connection() as conn:
        if await store.get(conn, customer, type="customer") is None:
            raise missing("customer", customer, param="customer")
        page, has_more = await list_page(
            conn, params, type="payment_method", lookup=customer, limit=limit
        )
        data = [await payments.payment_method_view(conn, item) for item in page]
    return list_response(request, data, has_more=has_more, url="/v1/payment_methods")


def _billing_details(raw: Any) -> dict[str, Any] | None:
    """``billing_details``: strings, and an ``address`` hash of strings ("" unsets one)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid("billing_details must be a hash.", param="billing_details")
    for key, value in raw.items():
        address = (
            key == "address"
            and isinstance(value, dict)
            and all(isinstance(item, str) for item in value.values())
        )
        if not (isinstance(value, str) or address):
            raise invalid(f"Invalid billing_details[{key}].", param=f"billing_details[{key}]")
    return raw


@router.post("/v1/payment_methods/{payment_method_id}")
async def update_payment_method(
    payment_method_id: str, request: Request, db: DatabaseDep
) -> JSONResponse:
    params = await read_params(request, UPDATE_PARAMS)
    expand(params)
    billing_details = _billing_details(params.get("billing_details"))
    raw_metadata = params.get("metadata")
    # Validated as Stripe's metadata; an empty value unsets its key, so the raw hash goes on.
    metadata(raw_metadata)
    given = raw_metadata if isinstance(raw_metadata, dict) else None

    async def build(conn: Connection) -> dict[str, Any]:
        return await payment_method_changes.update(
            conn, payment_method_id, billing_details=billing_details, metadata=given
        )

    return await idempotent(request, db, params, build)


@router.post("/v1/payment_methods/{payment_method_id}/detach")
async def detach_payment_method(
    payment_method_id: str, request: Request, db: DatabaseDep
) -> JSONResponse:
    params = await read_params(request, {"expand": True})
    expand(params)

    async def build(conn: Connection) -> dict[str, Any]:
        return await payment_method_changes.detach(conn, payment_method_id)

    return await idempotent(request, db, params, build)
