"""Turn an account linked in place of another into an ACH payment method.

When a relink links a *different* account, Stripe does not move the payment methods made
from the old one (docs/stripe.md §6): the customer sets up a new one, through a
SetupIntent we create and they confirm with the mandate. What it made is recorded from
Stripe's copy of the SetupIntent, whether our read or its webhook comes first.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime

from relink_api.accounts import service as accounts_service
from relink_api.auth import Principal
from relink_api.db import Connection, Database
from relink_api.errors import Conflict, NotFound, ValidationFailed
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.objects import AccountHolder, PaymentMethod, SetupIntent
from relink_api.gateway.requests import SetupIntentRequest
from relink_api.idempotency import service as idempotency
from relink_api.idempotency.service import Claim, IdempotencyKey, Idempotent
from relink_api.pagination import fetch_page
from relink_api.payments import repository
from relink_api.payments.errors import PaymentMethodAlreadySetUp, PaymentMethodNotNeeded
from relink_api.payments.repository import PaymentMethodRow, SetupIntentRow
from relink_api.payments.schemas import (
    PaymentMethodList,
    PaymentMethodRead,
    PaymentMethodSetupCreate,
    PaymentMethodSetupCreated,
    PaymentMethodSetupRead,
    SetupFailure,
    SetupStatus,
    UnusableReason,
)
from relink_api.relink import service as relink_service
from relink_api.relink.errors import RelinkSessionPending
from relink_api.relink.models import RelinkSessionRow
from relink_api.settings import Settings

logger = logging.getLogger(__name__)

# Stripe's ACH Direct Debit mandate wording for online acceptance.
_MANDATE = (
    "By clicking Accept, you authorize {business} to debit the bank account specified above "
    "for any amount owed for charges arising from your use of {business}'s services and/or "
    "purchase of products from {business}, pursuant to {business}'s website and terms, until "
    "this authorization is revoked. You may amend or cancel this authorization at any time by "
    "providing notice to {business} with 30 (thirty) days notice. If you use {business}'s "
    "services or purchase products periodically pursuant to {business}'s terms, you authorize "
    "{business} to debit your bank account periodically. Payments that fall outside of the "
    "regular debits authorized above will only be debited after your authorization is "
    "obtained."
)
_BROKEN_HEALTH = frozenset({"relink_required", "unrepairable", "disconnected"})
_TERMINAL = frozenset({SetupStatus.succeeded, SetupStatus.canceled})


def mandate_text(settings: Settings) -> str:
    return _MANDATE.format(business=settings.business_name)


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
    if row.outcome not in ("new_account", "relinked") or row.next_step != "set_up_payment_method":
        return []
    return [account_id for account_id in row.linked_account_ids if account_id != row.account_id]


def _eligible_account(row: RelinkSessionRow, requested: str | None) -> str:
    if row.status != "completed":
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


async def _replaced_payment_method(
    db: Database,
    gateway: StripeGateway,
    *,
    customer_id: str,
    stripe_customer: str | None,
    old_account_id: str,
) -> str | None:
    """The newest payment method made from the old account: Stripe's list for the customer
    (which includes the ones the business made itself), else our own records."""
    if stripe_customer is not None:
        from_old = [
            method
            for method in await gateway.list_bank_payment_methods(stripe_customer)
            if method.financial_connections_account == old_account_id
        ]
        if from_old:
            return max(from_old, key=lambda method: (method.created or 0, method.id)).id
    async with db.connection() as conn:
        return await repository.newest_from_account(
            conn, customer_id=customer_id, account_id=old_account_id
        )


async def start_setup(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    principal: Principal,
    session_id: str,
    request: PaymentMethodSetupCreate,
    idempotency_key: IdempotencyKey | None = None,
) -> Idempotent[PaymentMethodSetupCreated]:
    """Create the SetupIntent for the account a relink linked in place of another (or hand
    back the one already waiting for the customer). A repeat of an idempotency key gets
    the first SetupIntent back, even once it has succeeded."""

    async def create(claim: Claim | None) -> tuple[PaymentMethodSetupCreated, dict[str, str]]:
        created = await _start_setup(
            db,
            gateway,
            settings,
            principal=principal,
            session_id=session_id,
            request=request,
            claim=claim,
        )
        return created, {"setup_intent_id": created.setup_intent_id}

    async def replay(resource_ids: Mapping[str, str]) -> PaymentMethodSetupCreated:
        return await _created_again(
            db,
            gateway,
            settings,
            customer_id=principal.customer_id,
            setup_intent_id=resource_ids["setup_intent_id"],
        )

    return await idempotency.run(
        db,
        idempotency_key,
        principal=idempotency.customer_scope(principal.customer_id),
        body=request,
        create=create,
        replay=replay,
        status_code=201,
    )


async def _created_again(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    customer_id: str,
    setup_intent_id: str,
) -> PaymentMethodSetupCreated:
    async with db.connection() as conn:
        row = await repository.get_setup_intent(conn, setup_intent_id=setup_intent_id)
    if row is None or row.customer_id != customer_id:
        raise NotFound(f"No SetupIntent {setup_intent_id} for this customer.")
    setup_intent = await gateway.retrieve_setup_intent(row.id)
    if not setup_intent.client_secret:
        raise RuntimeError("Stripe returned a SetupIntent without a client_secret")
    return _created(row, setup_intent.client_secret, settings)


async def _start_setup(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    *,
    principal: Principal,
    session_id: str,
    request: PaymentMethodSetupCreate,
    claim: Claim | None,
) -> PaymentMethodSetupCreated:
    async with db.connection() as conn:
        row = await relink_service.load_owned(
            conn, customer_id=principal.customer_id, session_id=session_id
        )
        account_id = _eligible_account(row, request.account_id)
        live = await repository.latest_for_session(
            conn, relink_session_id=row.id, customer_id=principal.customer_id
        )
        account = await accounts_service.load_owned(
            conn, principal=principal, account_id=account_id
        )
    if live is not None and live.status in (SetupStatus.pending, SetupStatus.succeeded):
        resumed = await _resume(db, gateway, settings, live, account_id=account_id)
        if resumed is not None:
            return resumed

    holder = (
        AccountHolder.model_validate(account.account_holder) if account.account_holder else None
    )
    stripe_customer = holder.customer if holder else None
    replaces = await _replaced_payment_method(
        db,
        gateway,
        customer_id=principal.customer_id,
        stripe_customer=stripe_customer,
        old_account_id=row.account_id,
    )
    metadata = {"relink_session": row.id, "replaces_account": row.account_id}
    if replaces is not None:
        metadata["replaces_payment_method"] = replaces
    setup_intent = await gateway.create_setup_intent(
        SetupIntentRequest(
            customer_id=stripe_customer,
            financial_connections_account=account_id,
            billing_name=request.billing_name.strip(),
            metadata=metadata,
            # Fresh per call, so the SDK's own retries reuse it and a second click does not;
            # derived from the client's Idempotency-Key, so a retried request does too.
            idempotency_key=f"relink-setup-{row.id}-"
            + (claim.derive("setup-intent") if claim else secrets.token_hex(8)),
        )
    )
    if not setup_intent.client_secret:
        raise RuntimeError("Stripe returned a SetupIntent without a client_secret")
    async with db.transaction() as conn:
        inserted = await repository.insert_setup_intent(
            conn,
            setup_intent_id=setup_intent.id,
            relink_session_id=row.id,
            customer_id=principal.customer_id,
            account_id=account_id,
            replaces_payment_method_id=replaces,
            status=setup_status(setup_intent).value,
            stripe_status=setup_intent.status,
        )
    if inserted is None:
        # A concurrent request won: hand back its SetupIntent; ours is never confirmed.
        logger.warning(
            "relink %s: SetupIntent %s lost a race and is unused", row.id, setup_intent.id
        )
        async with db.connection() as conn:
            winner = await repository.latest_for_session(
                conn, relink_session_id=row.id, customer_id=principal.customer_id
            )
        assert winner is not None
        resumed = await _resume(db, gateway, settings, winner, account_id=account_id)
        if resumed is None:
            raise Conflict("Another request is setting up this payment method; retry.")
        return resumed
    logger.info(
        "relink %s: SetupIntent %s for %s (replaces %s)",
        row.id,
        inserted.id,
        account_id,
        replaces or "nothing",
    )
    return _created(inserted, setup_intent.client_secret, settings)


async def _resume(
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    live: SetupIntentRow,
    *,
    account_id: str,
) -> PaymentMethodSetupCreated | None:
    """The waiting SetupIntent again (its secret re-read from Stripe, never stored);
    ``None`` if it has since failed and a new one should be made."""
    if live.account_id != account_id:
        raise Conflict(
            f"A payment method for account {live.account_id} is being set up for this relink."
        )
    if live.status == SetupStatus.succeeded:
        raise _already(live)
    setup_intent = await gateway.retrieve_setup_intent(live.id)
    async with db.transaction() as conn:
        recorded = await record_setup_intent(conn, setup_intent)
    assert recorded is not None
    if recorded.status == SetupStatus.succeeded:
        raise _already(recorded)
    if recorded.status != SetupStatus.pending or not setup_intent.client_secret:
        return None
    return _created(recorded, setup_intent.client_secret, settings)


def _already(row: SetupIntentRow) -> PaymentMethodAlreadySetUp:
    return PaymentMethodAlreadySetUp(
        f"Payment method {row.payment_method_id} was already set up for this relink.",
        extensions={"payment_method_id": row.payment_method_id, "setup_intent_id": row.id},
    )


def _created(
    row: SetupIntentRow, client_secret: str, settings: Settings
) -> PaymentMethodSetupCreated:
    return PaymentMethodSetupCreated(
        setup_intent_id=row.id,
        client_secret=client_secret,
        publishable_key=settings.stripe_publishable_key,
        relink_session_id=row.relink_session_id,
        account_id=row.account_id,
        replaces_payment_method_id=row.replaces_payment_method_id,
        status=SetupStatus(row.status),
        mandate_text=mandate_text(settings),
    )


async def record_setup_intent(conn: Connection, setup_intent: SetupIntent) -> SetupIntentRow | None:
    """Record Stripe's copy of one of our SetupIntents, inside the caller's transaction.

    ``None`` for a SetupIntent relink-api did not create. Idempotent, and order-proof:
    a terminal status (succeeded, canceled) is never undone by an older read."""
    row = await repository.get_setup_intent(conn, setup_intent_id=setup_intent.id, for_update=True)
    if row is None:
        return None
    status = setup_status(setup_intent)
    if SetupStatus(row.status) in _TERMINAL and status is not SetupStatus(row.status):
        status = SetupStatus(row.status)
        stripe_status = row.stripe_status
    else:
        stripe_status = setup_intent.status
    if status is not SetupStatus(row.status) and status in (
        SetupStatus.pending,
        SetupStatus.succeeded,
    ):
        # An earlier SetupIntent of the session moving again (a sheet that retried with its
        # old secret) while a newer one is pending: a success wins and the newer one is no
        # longer needed; a mere return to pending keeps what we had.
        other = await repository.other_pending(
            conn, relink_session_id=row.relink_session_id, except_id=row.id
        )
        if other is not None and status is SetupStatus.succeeded:
            await repository.set_status(conn, setup_intent_id=other, status="canceled")
            logger.warning("SetupIntent %s succeeded late; %s is not needed", row.id, other)
        elif other is not None:
            status, stripe_status = SetupStatus(row.status), row.stripe_status
    failure = setup_intent.last_setup_error if status is SetupStatus.failed else None
    updated = await repository.update_setup_intent(
        conn,
        setup_intent_id=row.id,
        status=status.value,
        stripe_status=stripe_status,
        payment_method_id=setup_intent.payment_method_id or row.payment_method_id,
        failure_code=failure.code if failure else None,
        failure_message=failure.message if failure else None,
    )
    method = setup_intent.payment_method
    if status is SetupStatus.succeeded and isinstance(method, PaymentMethod):
        bank = method.us_bank_account
        await repository.upsert_payment_method(
            conn,
            payment_method_id=method.id,
            setup=updated,
            account_id=row.account_id,
            bank_name=bank.bank_name if bank else None,
            last4=bank.last4 if bank else None,
            account_type=bank.account_type if bank else None,
            blocked_reason=method.blocked_reason,
            snapshot=method.model_dump(mode="json"),
        )
        await accounts_service.payment_method_set_up(conn, account_id=row.account_id)
    if updated.status != row.status:
        logger.info("SetupIntent %s: %s → %s", row.id, row.status, updated.status)
    return updated


async def refresh_setup(
    db: Database, gateway: StripeGateway, *, setup_intent_id: str
) -> SetupIntentRow | None:
    """Read one of our SetupIntents from Stripe and record it (the reconciliation sweep)."""
    setup_intent = await gateway.retrieve_setup_intent(setup_intent_id)
    async with db.transaction() as conn:
        return await record_setup_intent(conn, setup_intent)


async def is_ours(db: Database, setup_intent_id: str) -> bool:
    async with db.connection() as conn:
        return await repository.get_setup_intent(conn, setup_intent_id=setup_intent_id) is not None


async def complete_setup(
    db: Database, gateway: StripeGateway, *, principal: Principal, session_id: str
) -> PaymentMethodSetupRead:
    """Read the session's SetupIntent from Stripe and record what it made."""
    live = await _latest(db, principal=principal, session_id=session_id)
    recorded = await refresh_setup(db, gateway, setup_intent_id=live.id)
    assert recorded is not None
    async with db.connection() as conn:
        return await _setup_read(conn, recorded)


async def get_setup(
    db: Database, *, principal: Principal, session_id: str
) -> PaymentMethodSetupRead:
    live = await _latest(db, principal=principal, session_id=session_id)
    async with db.connection() as conn:
        return await _setup_read(conn, live)


async def _latest(db: Database, *, principal: Principal, session_id: str) -> SetupIntentRow:
    async with db.connection() as conn:
        await relink_service.load_owned(
            conn, customer_id=principal.customer_id, session_id=session_id
        )
        live = await repository.latest_for_session(
            conn, relink_session_id=session_id, customer_id=principal.customer_id
        )
    if live is None:
        raise NotFound(
            f"No payment method setup was started for relink session {session_id}; "
            "POST /v1/relink-sessions/{id}/payment-method first."
        )
    return live


async def _setup_read(conn: Connection, row: SetupIntentRow) -> PaymentMethodSetupRead:
    method = None
    if row.status == SetupStatus.succeeded and row.payment_method_id:
        found = await repository.get_payment_method(
            conn, payment_method_id=row.payment_method_id, customer_id=row.customer_id
        )
        method = to_read(found) if found else None
    return PaymentMethodSetupRead(
        setup_intent_id=row.id,
        relink_session_id=row.relink_session_id,
        account_id=row.account_id,
        replaces_payment_method_id=row.replaces_payment_method_id,
        status=SetupStatus(row.status),
        failure=(
            SetupFailure(code=row.failure_code, message=row.failure_message)
            if row.status == SetupStatus.failed
            else None
        ),
        payment_method=method,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_read(row: PaymentMethodRow) -> PaymentMethodRead:
    reason: UnusableReason | None = None
    if row.blocked_reason is not None:
        reason = UnusableReason.blocked
    elif row.account_health in _BROKEN_HEALTH:
        reason = UnusableReason(row.account_health)
    return PaymentMethodRead(
        id=row.id,
        account_id=row.account_id,
        bank_name=row.bank_name,
        last4=row.last4,
        account_type=row.account_type,
        usable=reason is None,
        unusable_reason=reason,
        replaces_payment_method_id=row.replaces_payment_method_id,
        relink_session_id=row.relink_session_id,
        setup_intent_id=row.setup_intent_id,
        created_at=row.created_at,
    )


async def list_payment_methods(
    db: Database, *, principal: Principal, cursor: str | None, limit: int
) -> PaymentMethodList:
    """A page of the payment methods relink-api set up for the caller."""
    async with db.connection() as conn:
        page = await fetch_page(
            lambda after_id, count: repository.list_payment_methods(
                conn, customer_id=principal.customer_id, after_id=after_id, limit=count
            ),
            cursor=cursor,
            limit=limit,
        )
    return PaymentMethodList(
        data=[to_read(row) for row in page.rows],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


async def pending_setups(
    db: Database,
    *,
    created_before: datetime,
    created_after: datetime,
    customer_ids: Sequence[str] | None,
    limit: int,
) -> list[str]:
    """SetupIntents still pending that were created in the window, oldest first."""
    async with db.connection() as conn:
        return await repository.list_pending(
            conn,
            created_before=created_before,
            created_after=created_after,
            customer_ids=customer_ids,
            limit=limit,
        )
