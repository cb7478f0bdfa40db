"""Turn an account linked in place of another into an ACH payment method.

When a relink links a *different* account, Stripe does not move the payment methods made
from the old one (docs/stripe.md §6): the customer sets up a new one, through a
SetupIntent we create (``payments.setup``) and they confirm with the mandate. This module
holds what the rest of relink-api relies on: which account a completed relink may set one
up from, Stripe's copy of a SetupIntent recorded, whether our read or its webhook comes
first, and a SetupIntent superseded here canceled at Stripe too.
"""

from __future__ import annotations

import logging

from relink_api.accounts import service as accounts_service
from relink_api.db import Connection, Database
from relink_api.db.window import CreatedWindow
from relink_api.errors import ProblemError, ValidationFailed
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import StripeInvalidRequest
from relink_api.gateway.objects import PaymentMethod, SetupIntent
from relink_api.payments import repository, usability
from relink_api.payments.errors import PaymentMethodNotNeeded
from relink_api.payments.repository import SetupIntentRow
from relink_api.payments.schemas import SetupStatus
from relink_api.relink.errors import RelinkSessionPending
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import NextStep, RelinkOutcome, RelinkSessionStatus

logger = logging.getLogger(__name__)

_TERMINAL = frozenset({SetupStatus.succeeded, SetupStatus.canceled})
_REPLACING = frozenset({RelinkOutcome.new_account, RelinkOutcome.relinked})
# The statuses Stripe lets a SetupIntent be canceled from (docs/stripe.md §6).
_CANCELABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


def setup_status(setup_intent: SetupIntent) -> SetupStatus:
    """Stripe's status in our four words; a failed attempt returns a SetupIntent to
    ``requires_payment_method`` with ``last_setup_error`` set."""
    if setup_intent.status == "succeeded":
        return SetupStatus.succeeded
    if setup_intent.status == "canceled":
        return SetupStatus.canceled
    if setup_intent.status == "requires_payment_method" and setup_intent.last_setup_error:
        return SetupStatus.failed
    return SetupStatus.pending


def _candidates(row: RelinkSessionRow) -> list[str]:
    """Accounts this relink linked in place of the one it was started for."""
    if row.outcome not in _REPLACING or row.next_step != NextStep.set_up_payment_method:
        return []
    return [account_id for account_id in row.linked_account_ids if account_id != row.account_id]


def eligible_account(row: RelinkSessionRow, requested: str | None) -> str:
    """The account a completed relink may set a payment method up from: ``requested``, or
    the only one it linked in place of another."""
    if row.status != RelinkSessionStatus.completed:
        raise RelinkSessionPending(
            "Complete the relink session first: only its verified outcome can say whether a "
            "new payment method is needed."
        )
    candidates = _candidates(row)
    if not candidates:
        raise PaymentMethodNotNeeded(
            f"Relink session {row.id} ended {row.outcome.value if row.outcome else None!r}"
            + (f" ({row.failure_reason})" if row.failure_reason else "")
            + ": no account was linked in place of another, so there is no new payment "
            "method to set up. Payment methods made from a relinked account keep working.",
            extensions={"outcome": row.outcome},
        )
    if requested is None:
        if len(candidates) > 1:
            raise ValidationFailed(
                "This relink linked several accounts; name one in account_id.",
                extensions={"errors": [{"loc": ["body", "account_id"], "msg": "required"}]},
            )
        return candidates[0]
    if requested not in candidates:
        raise ValidationFailed(
            f"account_id must be one of the accounts this relink linked: {', '.join(candidates)}.",
            extensions={"errors": [{"loc": ["body", "account_id"], "msg": "not linked here"}]},
        )
    return requested


async def record_setup_intent(conn: Connection, setup_intent: SetupIntent) -> SetupIntentRow | None:
    """Record Stripe's copy of one of our SetupIntents, inside the caller's transaction.

    ``None`` for a SetupIntent relink-api did not create. Idempotent, and order-proof:
    a terminal status (succeeded, canceled) is never undone by an older read."""
    row = await repository.get_setup_intent(conn, setup_intent_id=setup_intent.id, for_update=True)
    if row is None:
        return None
    status = setup_status(setup_intent)
    # Canceled here when another of the session's SetupIntents succeeded, and confirmed at
    # Stripe before our cancel reached it: it made a payment method, and losing that would
    # be worse than holding two.
    superseded_then_succeeded = _superseded(row) and status is SetupStatus.succeeded
    if row.status in _TERMINAL and status is not row.status and not superseded_then_succeeded:
        status, stripe_status = row.status, row.stripe_status
    else:
        stripe_status = setup_intent.status
    if status is not row.status and status in (SetupStatus.pending, SetupStatus.succeeded):
        # An earlier SetupIntent of the session moving again (a sheet that retried with its
        # old secret) while a newer one is pending: a success wins and the newer one is no
        # longer needed; a mere return to pending keeps what we had.
        other = await repository.other_pending(
            conn, relink_session_id=row.relink_session_id, except_id=row.id
        )
        if other is not None and status is SetupStatus.succeeded:
            await repository.set_status(conn, setup_intent_id=other, status=SetupStatus.canceled)
            logger.warning("SetupIntent %s succeeded late; %s is not needed", row.id, other)
        elif other is not None:
            status, stripe_status = row.status, row.stripe_status
    failure = setup_intent.last_setup_error if status is SetupStatus.failed else None
    updated = await repository.update_setup_intent(
        conn,
        setup_intent_id=row.id,
        status=status,
        stripe_status=stripe_status,
        payment_method_id=setup_intent.payment_method_id or row.payment_method_id,
        failure_code=failure.code if failure else None,
        failure_message=failure.message if failure else None,
    )
    method = setup_intent.payment_method
    if status is SetupStatus.succeeded and isinstance(method, PaymentMethod):
        await usability.record_set_up(
            conn, method, setup=updated, saved_to_customer=setup_intent.customer is not None
        )
        await accounts_service.payment_method_set_up(conn, account_id=row.account_id)
    if updated.status is not row.status:
        logger.info("SetupIntent %s: %s → %s", row.id, row.status, updated.status)
    return updated


def _superseded(row: SetupIntentRow) -> bool:
    """Canceled here while Stripe's last word was an open status."""
    return row.status is SetupStatus.canceled and row.stripe_status != "canceled"


async def settle_setup_intent(
    db: Database, gateway: StripeGateway, setup_intent: SetupIntent
) -> SetupIntentRow | None:
    """Record Stripe's copy of one of our SetupIntents in its own transaction, then cancel
    at Stripe any of the session's SetupIntents it superseded here."""
    async with db.transaction() as conn:
        recorded = await record_setup_intent(conn, setup_intent)
    if recorded is not None:
        await cancel_superseded(db, gateway, relink_session_id=recorded.relink_session_id)
    return recorded


async def refresh_setup(
    db: Database, gateway: StripeGateway, *, setup_intent_id: str
) -> SetupIntentRow | None:
    """Read one of our SetupIntents from Stripe and record it (the reconciliation sweep)."""
    setup_intent = await gateway.retrieve_setup_intent(setup_intent_id)
    return await settle_setup_intent(db, gateway, setup_intent)


async def cancel_superseded(
    db: Database, gateway: StripeGateway, *, relink_session_id: str
) -> None:
    """Cancel at Stripe the session's SetupIntents superseded here, so nobody confirms one
    later. It runs after the commit that superseded them, so a failure loses nothing: each
    stays marked (canceled here, open at Stripe) and the reconciliation sweep tries again."""
    async with db.connection() as conn:
        superseded = await repository.superseded_of_session(
            conn, relink_session_id=relink_session_id
        )
    for setup_intent_id in superseded:
        try:
            await cancel_at_stripe(db, gateway, setup_intent_id)
        except ProblemError as exc:
            logger.warning(
                "SetupIntent %s is still open at Stripe; the sweep retries: %s",
                setup_intent_id,
                exc.detail,
            )


async def cancel_at_stripe(db: Database, gateway: StripeGateway, setup_intent_id: str) -> bool:
    """Cancel one SetupIntent superseded here, unless Stripe's copy says it can no longer
    be: one that succeeded is recorded instead (its payment method is real), one still
    processing is left for a later try. Whether Stripe now holds it canceled."""
    current = await gateway.retrieve_setup_intent(setup_intent_id)
    if current.status in _CANCELABLE:
        try:
            current = await gateway.cancel_setup_intent(setup_intent_id)
        except StripeInvalidRequest:
            # Confirmed between our read and the cancel: Stripe refuses; keep its copy.
            current = await gateway.retrieve_setup_intent(setup_intent_id)
    async with db.transaction() as conn:
        await record_setup_intent(conn, current)
    if current.status == "canceled":
        logger.info("SetupIntent %s superseded here: canceled at Stripe", setup_intent_id)
    return current.status == "canceled"


async def is_ours(db: Database, setup_intent_id: str) -> bool:
    async with db.connection() as conn:
        return await repository.get_setup_intent(conn, setup_intent_id=setup_intent_id) is not None


async def pending_setups(db: Database, window: CreatedWindow) -> list[str]:
    """SetupIntents still pending that were created in the window, oldest first."""
    async with db.connection() as conn:
        return await repository.list_pending(conn, window)


async def superseded_setups(db: Database, window: CreatedWindow) -> list[str]:
    """SetupIntents superseded here that Stripe may still hold open, created in the window."""
    async with db.connection() as conn:
        return await repository.list_superseded(conn, window)
