"""What happens to a PaymentMethod after it is set up: updated through the API, detached from
its customer, blocked and unblocked as its FC account's tokenized number comes and goes. Each
is announced by the event Stripe sends (docs/stripe.md §6)."""

from __future__ import annotations

from typing import Any

from relink_api.db import Connection
from relink_api.sandbox import payments, store, world
from relink_api.sandbox.wire import StripeApiError

BILLING_FIELDS = ("address", "email", "name", "phone")
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


async def announce_automatic_update(conn: Connection, account: dict[str, Any]) -> None:
    """``payment_method.automatically_updated`` for each payment method made from the
    account: Stripe's word that a payment method was blocked or unblocked by its bank."""
    for payment_method in await payments.made_from(conn, account):
        await world.emit(
            conn,
            "payment_method.automatically_updated",
            await payments.payment_method_view(conn, payment_method),
        )


async def detach(conn: Connection, payment_method_id: str) -> dict[str, Any]:
    """Detach a payment method from its customer (``customer`` becomes null, for good)."""
    payment_method = await world.load(conn, payment_method_id, type="payment_method")
    if payment_method.get("customer") is None:
        raise StripeApiError(
            400,
            "The payment method you provided is not attached to a customer so detachment "
            "is impossible.",
        )
    payment_method["customer"] = None
    # Stored again without the customer's lookup key, so the customer's list drops it.
    await store.delete(conn, payment_method_id, type="payment_method")
    await payments.save_payment_method(conn, payment_method)
    view = await payments.payment_method_view(conn, payment_method)
    await world.emit(conn, "payment_method.detached", view)
    return view


def _billing_details(current: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    # Stripe merges what is given into what is there; an empty string unsets a field.
    merged = dict(current)
    for key, value in given.items():
        if key == "address" and isinstance(value, dict):
            address = dict(merged.get("address") or dict.fromkeys(ADDRESS_FIELDS))
            address.update({field: item or None for field, item in value.items()})
            merged["address"] = address
        else:
            merged[key] = value or None
    return merged


async def update(
    conn: Connection,
    payment_method_id: str,
    *,
    billing_details: dict[str, Any] | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    """``POST /v1/payment_methods/{id}``: billing details and metadata merged in, then
    ``payment_method.updated``."""
    payment_method = await world.load(conn, payment_method_id, type="payment_method")
    if billing_details:
        payment_method["billing_details"] = _billing_details(
            payment_method.get("billing_details") or {}, billing_details
        )
    if metadata is not None:
        merged = {**(payment_method.get("metadata") or {}), **metadata}
        payment_method["metadata"] = {key: value for key, value in merged.items() if value}
    await payments.save_payment_method(conn, payment_method)
    view = await payments.payment_method_view(conn, payment_method)
    await world.emit(conn, "payment_method.updated", view)
    return view
