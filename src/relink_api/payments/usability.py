"""Whether a payment method can be charged: Stripe's PaymentMethod, kept current.

Stripe alone says so (docs/stripe.md §6): a PaymentMethod is blocked
(``us_bank_account.status_details.blocked``, which tokenized account numbers trigger when
they are deactivated, and ACH returns such as R02 do) or detached from its customer
(permanent). A broken Financial Connections link does not stop it, so the link health of
the account is reported beside usability, never folded into it. Stripe's copy arrives with
a SetupIntent's success, the ``payment_method.*`` webhooks, the sync, and
``refresh_payment_methods`` after a relink.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from relink_api.db import Connection, Database
from relink_api.errors import ProblemError
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.objects import PaymentMethod
from relink_api.outbound.event_types import OutboundEventType
from relink_api.payments import events, repository
from relink_api.payments.repository import SetupIntentRow, StripeCopy

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Refreshed:
    """Payment methods re-read from Stripe, and those Stripe could not be asked about."""

    payment_method_ids: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _copy(method: PaymentMethod, *, was_saved: bool = False) -> StripeCopy:
    bank = method.us_bank_account
    blocked = method.blocked
    return StripeCopy(
        bank_name=bank.bank_name if bank else None,
        last4=bank.last4 if bank else None,
        account_type=bank.account_type if bank else None,
        blocked=blocked is not None,
        blocked_reason=blocked.reason if blocked else None,
        blocked_network_code=blocked.network_code if blocked else None,
        saved=method.saved,
        snapshot=method.model_dump(mode="json"),
        was_saved=was_saved,
    )


async def record_set_up(
    conn: Connection, method: PaymentMethod, *, setup: SetupIntentRow, saved_to_customer: bool
) -> None:
    """Record the payment method one of our SetupIntents made, inside the caller's
    transaction. ``saved_to_customer``: the SetupIntent named a customer, so a copy without
    one means it was detached already."""
    copy = _copy(method, was_saved=saved_to_customer)
    inserted = await repository.insert_payment_method(
        conn, payment_method_id=method.id, setup=setup, copy=copy
    )
    was_blocked = await repository.record_stripe_copy(conn, payment_method_id=method.id, copy=copy)
    if inserted:
        await events.announce(conn, OutboundEventType.payment_method_replaced, method.id)
    await _announce_if_blocked(conn, method, was_blocked=was_blocked)


async def record_payment_method(conn: Connection, method: PaymentMethod) -> bool:
    """Record Stripe's copy of a payment method we hold, inside the caller's transaction;
    ``False`` for one relink-api did not set up (nothing is written)."""
    was_blocked = await repository.record_stripe_copy(
        conn, payment_method_id=method.id, copy=_copy(method)
    )
    if was_blocked is None:
        return False
    logger.info(
        "payment method %s: %s",
        method.id,
        f"blocked ({method.blocked.reason})" if method.blocked else "not blocked",
    )
    await _announce_if_blocked(conn, method, was_blocked=was_blocked)
    return True


async def _announce_if_blocked(
    conn: Connection, method: PaymentMethod, *, was_blocked: bool | None
) -> None:
    # Once per block: a re-read of a method still blocked says nothing new.
    if method.blocked is not None and was_blocked is False:
        await events.announce(conn, OutboundEventType.payment_method_blocked, method.id)


async def holds(db: Database, payment_method_id: str) -> bool:
    """Whether relink-api set this payment method up."""
    async with db.connection() as conn:
        return await repository.is_held(conn, payment_method_id=payment_method_id)


async def refresh_payment_methods(
    db: Database, gateway: StripeGateway, *, account_ids: Sequence[str]
) -> Refreshed:
    """Re-read from Stripe every payment method we hold that draws on these FC accounts, and
    record it: after a relink refreshed an account's tokenized numbers, its blocked payment
    method is usable again with no new SetupIntent. Detached ones are skipped (that is
    final). One that Stripe cannot be asked about is logged and listed in ``failed``; the
    others are still read."""
    async with db.connection() as conn:
        method_ids = await repository.ids_on_accounts(conn, account_ids=account_ids)
    refreshed = Refreshed()
    for method_id in method_ids:
        try:
            method = await gateway.retrieve_payment_method(method_id)
        except ProblemError as exc:
            logger.warning("payment method %s could not be re-read: %s", method_id, exc.detail)
            refreshed.failed.append(method_id)
            continue
        async with db.transaction() as conn:
            await record_payment_method(conn, method)
        refreshed.payment_method_ids.append(method_id)
    return refreshed
