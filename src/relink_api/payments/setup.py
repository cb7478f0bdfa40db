"""Start setting up a payment method: the SetupIntent the customer confirms with the mandate.

The client secret is never stored: a repeat (a second click, a retried request, a replayed
Idempotency-Key) re-reads it from Stripe's copy of the SetupIntent already waiting.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from relink_api.accounts import service as accounts_service
from relink_api.auth import Principal
from relink_api.db import Database
from relink_api.errors import Conflict, NotFound, ProblemError
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.objects import AccountHolder
from relink_api.gateway.requests import SetupIntentRequest
from relink_api.idempotency import service as idempotency
from relink_api.idempotency.service import Claim, IdempotencyKey, Idempotent
from relink_api.payments import repository
from relink_api.payments.errors import PaymentMethodAlreadySetUp
from relink_api.payments.repository import SetupIntentRow
from relink_api.payments.schemas import (
    PaymentMethodSetupCreate,
    PaymentMethodSetupCreated,
    SetupStatus,
)
from relink_api.payments.service import eligible_account, settle_setup_intent, setup_status
from relink_api.relink import service as relink_service
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
_LIVE = frozenset({SetupStatus.pending, SetupStatus.succeeded})


def mandate_text(settings: Settings) -> str:
    """The ACH mandate the customer accepts, naming the business (RELINK_BUSINESS_NAME).

    Without a name there is no mandate to show: a 500 that names the setting, before
    anything is asked of Stripe."""
    if settings.business_name is None:
        raise ProblemError(
            "Payment setup needs RELINK_BUSINESS_NAME: the ACH mandate the customer accepts "
            "names the business that debits the account."
        )
    return _MANDATE.format(business=settings.business_name)


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
    mandate_text(settings)  # refuses before any SetupIntent exists when it cannot be shown
    setup = _Setup(db, gateway, settings, principal)
    return await idempotency.create_once(
        db,
        idempotency_key,
        scope=idempotency.customer_scope(principal.customer_id),
        body=request,
        create=lambda claim: setup.start(session_id, request, claim),
        ids=lambda created: {"setup_intent_id": created.setup_intent_id},
        rebuild=lambda ids: setup.again(ids["setup_intent_id"]),
    )


@dataclass(frozen=True, slots=True)
class _Setup:
    """One customer's request to set up a payment method, and what it is answered with."""

    db: Database
    gateway: StripeGateway
    settings: Settings
    principal: Principal

    async def start(
        self, session_id: str, request: PaymentMethodSetupCreate, claim: Claim | None
    ) -> PaymentMethodSetupCreated:
        customer_id = self.principal.customer_id
        async with self.db.connection() as conn:
            row = await relink_service.load_owned(
                conn, customer_id=customer_id, session_id=session_id
            )
            account_id = eligible_account(row, request.account_id)
            live = await repository.latest_for_session(
                conn, relink_session_id=row.id, customer_id=customer_id
            )
            account = await accounts_service.load_owned(
                conn, principal=self.principal, account_id=account_id
            )
        if live is not None and live.status in _LIVE:
            resumed = await self._resume(live, account_id=account_id)
            if resumed is not None:
                return resumed

        holder = (
            AccountHolder.model_validate(account.account_holder) if account.account_holder else None
        )
        stripe_customer = holder.customer if holder else None
        replaces = await self._replaced_payment_method(
            stripe_customer=stripe_customer, old_account_id=row.account_id
        )
        metadata = {"relink_session": row.id, "replaces_account": row.account_id}
        if replaces is not None:
            metadata["replaces_payment_method"] = replaces
        setup_intent = await self.gateway.create_setup_intent(
            SetupIntentRequest(
                customer_id=stripe_customer,
                financial_connections_account=account_id,
                billing_name=request.billing_name.strip(),
                metadata=metadata,
                # Fresh per call, so the SDK's own retries reuse it and a second click does
                # not; derived from the client's Idempotency-Key, so a retried request does too.
                idempotency_key=f"relink-setup-{row.id}-"
                + (claim.derive("setup-intent") if claim else secrets.token_hex(8)),
            )
        )
        if not setup_intent.client_secret:
            raise RuntimeError("Stripe returned a SetupIntent without a client_secret")
        async with self.db.transaction() as conn:
            inserted = await repository.insert_setup_intent(
                conn,
                setup_intent_id=setup_intent.id,
                relink_session_id=row.id,
                customer_id=customer_id,
                account_id=account_id,
                replaces_payment_method_id=replaces,
                status=setup_status(setup_intent),
                stripe_status=setup_intent.status,
            )
        if inserted is None:
            # A concurrent request won: hand back its SetupIntent. Ours was never recorded
            # nor its secret handed out, so nobody can confirm it: cancel it at Stripe
            # rather than leave it open.
            await self._cancel_unused(row.id, setup_intent.id)
            async with self.db.connection() as conn:
                winner = await repository.latest_for_session(
                    conn, relink_session_id=row.id, customer_id=customer_id
                )
            assert winner is not None
            resumed = await self._resume(winner, account_id=account_id)
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
        return self._created(inserted, setup_intent.client_secret)

    async def _cancel_unused(self, session_id: str, setup_intent_id: str) -> None:
        try:
            await self.gateway.cancel_setup_intent(setup_intent_id)
        except ProblemError as exc:
            logger.warning(
                "relink %s: SetupIntent %s lost a race, is unused and still open at Stripe: %s",
                session_id,
                setup_intent_id,
                exc.detail,
            )
            return
        logger.warning(
            "relink %s: SetupIntent %s lost a race; canceled at Stripe", session_id, setup_intent_id
        )

    async def again(self, setup_intent_id: str) -> PaymentMethodSetupCreated:
        """The response to the request that created ``setup_intent_id``, rebuilt."""
        async with self.db.connection() as conn:
            row = await repository.get_setup_intent(conn, setup_intent_id=setup_intent_id)
        if row is None or row.customer_id != self.principal.customer_id:
            raise NotFound(f"No SetupIntent {setup_intent_id} for this customer.")
        setup_intent = await self.gateway.retrieve_setup_intent(row.id)
        if not setup_intent.client_secret:
            raise RuntimeError("Stripe returned a SetupIntent without a client_secret")
        return self._created(row, setup_intent.client_secret)

    async def _replaced_payment_method(
        self, *, stripe_customer: str | None, old_account_id: str
    ) -> str | None:
        """The newest payment method made from the old account: Stripe's list for the
        customer (which includes the ones the business made itself), else our own records."""
        if stripe_customer is not None:
            from_old = [
                method
                for method in await self.gateway.list_bank_payment_methods(stripe_customer)
                if method.financial_connections_account == old_account_id
            ]
            if from_old:
                return max(from_old, key=lambda method: (method.created or 0, method.id)).id
        async with self.db.connection() as conn:
            return await repository.newest_from_account(
                conn, customer_id=self.principal.customer_id, account_id=old_account_id
            )

    async def _resume(
        self, live: SetupIntentRow, *, account_id: str
    ) -> PaymentMethodSetupCreated | None:
        """The waiting SetupIntent again (its secret re-read from Stripe, never stored);
        ``None`` if it has since failed and a new one should be made."""
        if live.account_id != account_id:
            raise Conflict(
                f"A payment method for account {live.account_id} is being set up for this relink."
            )
        if live.status is SetupStatus.succeeded:
            raise _already(live)
        setup_intent = await self.gateway.retrieve_setup_intent(live.id)
        recorded = await settle_setup_intent(self.db, self.gateway, setup_intent)
        assert recorded is not None
        if recorded.status is SetupStatus.succeeded:
            raise _already(recorded)
        if recorded.status is not SetupStatus.pending or not setup_intent.client_secret:
            return None
        return self._created(recorded, setup_intent.client_secret)

    def _created(self, row: SetupIntentRow, client_secret: str) -> PaymentMethodSetupCreated:
        return PaymentMethodSetupCreated(
            setup_intent_id=row.id,
            client_secret=client_secret,
            publishable_key=self.settings.stripe_publishable_key,
            relink_session_id=row.relink_session_id,
            account_id=row.account_id,
            replaces_payment_method_id=row.replaces_payment_method_id,
            status=row.status,
            mandate_text=mandate_text(self.settings),
        )


def _already(row: SetupIntentRow) -> PaymentMethodAlreadySetUp:
    return PaymentMethodAlreadySetUp(
        f"Payment method {row.payment_method_id} was already set up for this relink.",
        extensions={"payment_method_id": row.payment_method_id, "setup_intent_id": row.id},
    )
