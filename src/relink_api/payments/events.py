"""What the host application hears of payment methods: ``payment_method.blocked`` when
Stripe starts blocking one relink-api holds, ``payment_method.replaced`` when a relink's
new account gets its payment method. Written in the transaction that records the change
(docs/events.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relink_api.db import Connection
from relink_api.outbound import outbox
from relink_api.outbound.event_types import OutboundEventType
from relink_api.payments import repository
from relink_api.payments.views import to_read


async def announce(conn: Connection, type: OutboundEventType, payment_method_id: str) -> str:
    """Queue ``type`` for a payment method relink-api holds, as its customer reads it."""
    row = await repository.find_payment_method(conn, payment_method_id=payment_method_id)
    data: dict[str, Any] = {
        "payment_method": to_read(row).model_dump(mode="json"),
        "customer_id": row.customer_id,
        "account_id": row.account_id,
    }
    if type is OutboundEventType.payment_method_replaced:
        data["replaces_payment_method_id"] = row.replaces_payment_method_id
    return await outbox.emit(
        conn,
        type,
        data,
        at=datetime.now(UTC),
        account_id=row.account_id,
        customer_id=row.customer_id,
    )
