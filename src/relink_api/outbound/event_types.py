"""The events relink-api sends to the host application."""

from __future__ import annotations

from enum import StrEnum


class OutboundEventType(StrEnum):
    """What happened; an endpoint subscribes to some or all of these."""

    account_relink_required = "account.relink_required"
    account_expiring = "account.expiring"
    account_unrepairable = "account.unrepairable"
    account_recovered = "account.recovered"
    relink_completed = "relink.completed"
    payment_method_blocked = "payment_method.blocked"
    payment_method_replaced = "payment_method.replaced"
