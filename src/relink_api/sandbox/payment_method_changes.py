"""What happens to a PaymentMethod after it is set up: blocked and unblocked as its FC
account's tokenized number comes and goes, announced by the event Stripe sends
(docs/stripe.md §6)."""

from __future__ import annotations

from typing import Any

from relink_api.db import Connection
from relink_api.sandbox import payments, world


async def announce_automatic_update(conn: Connection, account: dict[str, Any]) -> None:
    """``payment_method.automatically_updated`` for each payment method made from the
    account: Stripe's word that a payment method was blocked or unblocked by its bank."""
    for payment_method in await payments.made_from(conn, account):
        await world.emit(
            conn,
            "payment_method.automatically_updated",
            await payments.payment_method_view(conn, payment_method),
        )
