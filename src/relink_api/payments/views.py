"""How a stored payment method reads in the API (and in the events that carry one)."""

from __future__ import annotations

from relink_api.payments.repository import PaymentMethodRow
from relink_api.payments.schemas import PaymentMethodBlock, PaymentMethodRead, UnusableReason


def _unusable_reason(row: PaymentMethodRow) -> UnusableReason | None:
    # Detached is final; a block may lift (a relink refreshing a tokenized number).
    if row.detached_at is not None:
        return UnusableReason.detached
    if row.blocked:
        return UnusableReason.blocked
    return None


def to_read(row: PaymentMethodRow) -> PaymentMethodRead:
    """The API's view of a stored payment method."""
    reason = _unusable_reason(row)
    return PaymentMethodRead(
        id=row.id,
        account_id=row.account_id,
        bank_name=row.bank_name,
        last4=row.last4,
        account_type=row.account_type,
        usable=reason is None,
        unusable_reason=reason,
        blocked=(
            PaymentMethodBlock(reason=row.blocked_reason, network_code=row.blocked_network_code)
            if row.blocked
            else None
        ),
        detached_at=row.detached_at,
        link_health=row.link_health,
        replaces_payment_method_id=row.replaces_payment_method_id,
        relink_session_id=row.relink_session_id,
        setup_intent_id=row.setup_intent_id,
        created_at=row.created_at,
    )
