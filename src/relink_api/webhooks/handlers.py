"""What each event type means, one handler per kind of event, each calling the service of
the feature the event is about.

A handler plans (and may read from Stripe) before the event's transaction, so no database
connection waits on the network; its plan is applied inside that transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from pydantic import ValidationError

from relink_api.accounts import service as accounts_service
from relink_api.accounts import state
from relink_api.accounts.state import Notice, Observation
from relink_api.db import Connection, Database
from relink_api.errors import BadRequest
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import StripeResourceMissing
from relink_api.gateway.fanout import gather_limited
from relink_api.gateway.objects import (
    FcAccount,
    FcAuthorization,
    PaymentMethod,
    SetupIntent,
    StripeEvent,
)
from relink_api.payments import service as payments_service
from relink_api.payments import usability
from relink_api.relink import service as relink_service

logger = logging.getLogger(__name__)

_REREAD_CONCURRENCY = 4


class MalformedEvent(
    BadRequest,
    slug="webhook-event-malformed",
    title="The event is not a Stripe event relink-api can read",
):
    """A correctly signed body that is not a Stripe event, or lacks what its type needs."""


@dataclass(slots=True)
class Plan:
    """What an event will change, ready to apply inside one transaction."""

    handled: bool
    accounts: list[Observation] = field(default_factory=list)
    # An authorization's own state, the Stripe time it describes and the event saying so.
    authorization: tuple[FcAuthorization, datetime, str] | None = None
    payment_method: PaymentMethod | None = None

    async def apply(self, conn: Connection) -> bool:
        """Apply the plan; whether every account snapshot in it was stale."""
        applied = await state.apply_all(conn, self.accounts)
        if self.payment_method is not None:
            await usability.record_payment_method(conn, self.payment_method)
        if self.authorization is not None:
            authorization, as_of, event_id = self.authorization
            await state.record_authorization(conn, authorization, as_of=as_of, event_id=event_id)
        return bool(applied) and all(result.stale for result in applied.values())


def _lacks_preview_fields(raw: dict[str, Any]) -> bool:
    # Webhook endpoints render payloads at their own API version; a non-preview one has no
    # status_details or authorization, and the payload cannot settle the state.
    return "status_details" not in raw or "authorization" not in raw


async def fresh_account(
    gateway: StripeGateway, account_id: str
) -> tuple[FcAccount, dict[str, Any]] | None:
    """The account as Stripe has it now; ``None`` when Stripe no longer knows it."""
    try:
        return await gateway.retrieve_account(account_id)
    except StripeResourceMissing:
        return None


def reread(fetched: tuple[FcAccount, dict[str, Any]], event: StripeEvent) -> Observation:
    """An account the event made us read from Stripe: current, not ordered against stored
    state, and an outage it reports began when the event happened."""
    notice = Notice(event.id, ordered=False, outage_started_at=event.created_at)
    return Observation.read_now(fetched, notice)


def _fc_account(event: StripeEvent) -> FcAccount:
    try:
        return FcAccount.model_validate(event.data.object)
    except ValidationError as exc:
        raise MalformedEvent(f"{event.type} must carry a financial_connections.account.") from exc


def _payload_plan(event: StripeEvent, account: FcAccount) -> Plan | None:
    """The account event's plan when its payload can settle the state; ``None`` when
    Stripe must be read first."""
    raw = event.data.object
    if _lacks_preview_fields(raw):
        return None
    # Applied as it is, unless it would move the account to another customer: applying
    # then raises OwnerChangeUnconfirmed, and the service re-reads the account.
    notice = Notice(event.id, ordered=True, owner_change="confirm")
    return Plan(True, [Observation(account, raw, event.created_at, notice)])


async def account_changed(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
    account = _fc_account(event)
    plan = _payload_plan(event, account)
    if plan is not None:
        return plan
    fresh = await fresh_account(gateway, account.id)
    if fresh is not None:
        return Plan(True, [reread(fresh, event)])
    logger.warning("event %s: %s is gone from Stripe; applying the payload", event.id, account.id)
    notice = Notice(event.id, ordered=True, owner_change="keep")
    return Plan(True, [Observation(account, event.data.object, event.created_at, notice)])


async def authorization_changed(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
    try:
        authorization = FcAuthorization.model_validate(event.data.object)
    except ValidationError as exc:
        raise MalformedEvent(
            f"{event.type} must carry a financial_connections.authorization."
        ) from exc
    # The payload says nothing of the accounts on the authorization: re-read the ones we
    # hold, so each carries Stripe's own expected deactivation date.
    account_ids = await accounts_service.ids_on_authorization(db, authorization_id=authorization.id)
    reads = await gather_limited(
        account_ids,
        lambda account_id: fresh_account(gateway, account_id),
        limit=_REREAD_CONCURRENCY,
    )
    as_of = state.read_time()
    accounts = [
        Observation(account, raw, as_of, Notice(event.id, ordered=False))
        for read in reads
        if read is not None
        for account, raw in [read]
    ]
    return Plan(True, accounts, (authorization, event.created_at, event.id))


_Made = TypeVar("_Made", SetupIntent, PaymentMethod)


async def _ours_now(
    event: StripeEvent,
    model: type[_Made],
    is_ours: Callable[[str], Awaitable[bool]],
    retrieve: Callable[[str], Awaitable[_Made]],
) -> _Made | None:
    """The event's object as Stripe has it now; ``None`` for one relink-api did not make.

    Events arrive in any order, so Stripe's current copy is the truth; the payload stands
    in only when Stripe no longer knows the object."""
    try:
        payload = model.model_validate(event.data.object)
    except ValidationError as exc:
        raise MalformedEvent(f"{event.type} must carry a {model.__name__}.") from exc
    if not await is_ours(payload.id):
        return None
    try:
        return await retrieve(payload.id)
    except StripeResourceMissing:
        logger.warning(
            "event %s: %s is gone from Stripe; applying the payload", event.id, payload.id
        )
        return payload


async def setup_intent_changed(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
    # Stripe's current copy (payment method expanded) is the same thing the page's
    # `complete` call records, so both paths agree.
    ours = partial(payments_service.is_ours, db)
    fresh = await _ours_now(event, SetupIntent, ours, gateway.retrieve_setup_intent)
    if fresh is None:
        return Plan(False)
    # Recorded (and what it superseded canceled at Stripe, after that commit) before the
    # event is: idempotent, and a failure answers 5xx so Stripe delivers the event again.
    await payments_service.settle_setup_intent(db, gateway, fresh)
    return Plan(True)


async def payment_method_changed(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
    # Blocked, unblocked or detached: whether it can be charged is on Stripe's copy
    # (detachment is final, so no re-read undoes it).
    held = partial(usability.holds, db)
    fresh = await _ours_now(event, PaymentMethod, held, gateway.retrieve_payment_method)
    return Plan(False) if fresh is None else Plan(True, payment_method=fresh)


async def session_updated(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
    session_id = event.data.object.get("id")
    if not isinstance(session_id, str) or not session_id:
        raise MalformedEvent(f"{event.type} must carry a financial_connections.session.")
    # Completing is idempotent and commits on its own; doing it before the event is
    # recorded means a failure answers 5xx and Stripe delivers the event again. It is what
    # records a hosted or emailed relink whose customer never came back to /relink/return.
    completed = await relink_service.complete_for_stripe_session(
        db, gateway, stripe_session_id=session_id
    )
    return Plan(completed is not None)


Handler = Callable[[StripeEvent, Database, StripeGateway], Awaitable[Plan]]

HANDLERS: dict[str, Handler] = {
    "financial_connections.account.created": account_changed,
    "financial_connections.account.deactivated": account_changed,
    "financial_connections.account.reactivated": account_changed,
    "financial_connections.account.disconnected": account_changed,
    "financial_connections.account.upcoming_deactivation": account_changed,
    "financial_connections.account.expected_deactivation_date_updated": account_changed,
    "financial_connections.account.account_numbers_updated": account_changed,
    "financial_connections.account.upcoming_account_number_expiry": account_changed,
    "financial_connections.authorization.upcoming_deactivation": authorization_changed,
    "financial_connections.authorization.expected_deactivation_date_updated": (
        authorization_changed
    ),
    "setup_intent.succeeded": setup_intent_changed,
    "setup_intent.setup_failed": setup_intent_changed,
    "setup_intent.canceled": setup_intent_changed,
    "setup_intent.requires_action": setup_intent_changed,
    "financial_connections.session.updated": session_updated,
    "payment_method.updated": payment_method_changed,
    "payment_method.automatically_updated": payment_method_changed,
    "payment_method.detached": payment_method_changed,
}


def planned(event: StripeEvent) -> Plan | None:
    """The plan of an event that needs no read (of Stripe or the database) to make: a type
    relink-api does not act on, or an account event whose payload settles the state.
    ``None``: its handler in ``HANDLERS`` must make it."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        return Plan(handled=False)
    if handler is account_changed:
        return _payload_plan(event, _fc_account(event))
    return None
