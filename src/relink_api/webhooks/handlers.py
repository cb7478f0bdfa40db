"""What each event type means for stored state.

Planning (which may read from Stripe) happens before the event's transaction, so no
database connection waits on the network; applying happens inside it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from relink_api.accounts import repository as accounts_repository
from relink_api.accounts.service import OwnerChange, read_time
from relink_api.db import Database
from relink_api.errors import BadRequest
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import StripeResourceMissing
from relink_api.gateway.fanout import gather_limited
from relink_api.gateway.objects import (
    AuthorizationStatusDetails,
    FcAccount,
    FcAuthorization,
    SetupIntent,
    StripeEvent,
    from_unix,
)
from relink_api.payments import service as payments_service
from relink_api.relink import service as relink_service

logger = logging.getLogger(__name__)

ACCOUNT_EVENT_TYPES = frozenset(
    {
        "financial_connections.account.created",
        "financial_connections.account.deactivated",
        "financial_connections.account.reactivated",
        "financial_connections.account.disconnected",
        "financial_connections.account.upcoming_deactivation",
        "financial_connections.account.expected_deactivation_date_updated",
        "financial_connections.account.account_numbers_updated",
        "financial_connections.account.upcoming_account_number_expiry",
    }
)
AUTHORIZATION_EVENT_TYPES = frozenset(
    {
        "financial_connections.authorization.upcoming_deactivation",
        "financial_connections.authorization.expected_deactivation_date_updated",
    }
)
SETUP_INTENT_EVENT_TYPES = frozenset(
    {
        "setup_intent.succeeded",
        "setup_intent.setup_failed",
        "setup_intent.canceled",
        "setup_intent.requires_action",
    }
)
SESSION_EVENT_TYPE = "financial_connections.session.updated"
_REREAD_CONCURRENCY = 4


class MalformedEvent(
    BadRequest,
    slug="webhook-event-malformed",
    title="The event is not a Stripe event relink-api can read",
):
    """A correctly signed body that is not a Stripe event, or lacks what its type needs."""


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    account: FcAccount
    raw: dict[str, Any]
    state_as_of: datetime
    # A payload is ordered against stored state; a fresh read from Stripe is current.
    ordered: bool
    # For a re-read: when the event that prompted it happened (an outage starts then).
    event_created: datetime | None = None
    # A read from Stripe may move the account to another customer; the event's own
    # payload must have that confirmed by a read first.
    owner_change: OwnerChange = "apply"


@dataclass(frozen=True, slots=True)
class AuthorizationUpdate:
    authorization: FcAuthorization
    action: str | None
    expected_deactivation_at: datetime | None
    state_as_of: datetime


@dataclass(slots=True)
class Plan:
    """What an event will change, ready to apply inside one transaction."""

    handled: bool
    accounts: list[AccountUpdate] = field(default_factory=list)
    authorization: AuthorizationUpdate | None = None
    setup_intent: SetupIntent | None = None


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


async def plan_account_event(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
    raw = event.data.object
    try:
        account = FcAccount.model_validate(raw)
    except ValidationError as exc:
        raise MalformedEvent(f"{event.type} must carry a financial_connections.account.") from exc
    if _lacks_preview_fields(raw):
        fresh = await fresh_account(gateway, account.id)
        if fresh is not None:
            update = AccountUpdate(
                fresh[0], fresh[1], read_time(), ordered=False, event_created=event.created_at
            )
            return Plan(True, [update])
        logger.warning(
            "event %s: %s is gone from Stripe; applying the payload", event.id, account.id
        )
        update = AccountUpdate(account, raw, event.created_at, ordered=True, owner_change="keep")
        return Plan(True, [update])
    # Applied as it is, unless it would move the account to another customer: applying
    # then raises OwnerChangeUnconfirmed, and the service re-reads the account.
    return Plan(
        True, [AccountUpdate(account, raw, event.created_at, ordered=True, owner_change="confirm")]
    )


async def plan_authorization_event(
    event: StripeEvent, db: Database, gateway: StripeGateway
) -> Plan:
    raw = event.data.object
    try:
        authorization = FcAuthorization.model_validate(raw)
    except ValidationError as exc:
        raise MalformedEvent(
            f"{event.type} must carry a financial_connections.authorization."
        ) from exc
    details = authorization.status_details or AuthorizationStatusDetails()
    active = details.active if authorization.status == "active" else None
    inactive = details.inactive if authorization.status == "inactive" else None
    update = AuthorizationUpdate(
        authorization=authorization,
        action=(active.action if active else None) or (inactive.action if inactive else None),
        expected_deactivation_at=from_unix(active.expected_deactivation_date) if active else None,
        state_as_of=event.created_at,
    )
    # The payload says nothing of the accounts on the authorization: re-read the ones we
    # hold, so each carries Stripe's own expected deactivation date.
    async with db.connection() as conn:
        account_ids = await accounts_repository.ids_on_authorization(
            conn, authorization_id=authorization.id
        )
    reads = await gather_limited(
        account_ids,
        lambda account_id: fresh_account(gateway, account_id),
        limit=_REREAD_CONCURRENCY,
    )
    now = read_time()
    accounts = [
        AccountUpdate(account, raw_account, now, ordered=False)
        for read in reads
        if read is not None
        for account, raw_account in [read]
    ]
    return Plan(True, accounts, update)


async def plan_setup_intent_event(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
    try:
        payload = SetupIntent.model_validate(event.data.object)
    except ValidationError as exc:
        raise MalformedEvent(f"{event.type} must carry a setup_intent.") from exc
    if not await payments_service.is_ours(db, payload.id):
        return Plan(False)
    # Events arrive in any order; Stripe's current copy (payment method expanded) is the
    # same thing the page's `complete` call records, so both paths agree.
    try:
        fresh = await gateway.retrieve_setup_intent(payload.id)
    except StripeResourceMissing:
        logger.warning(
            "event %s: %s is gone from Stripe; applying the payload", event.id, payload.id
        )
        fresh = payload
    return Plan(True, setup_intent=fresh)


async def plan_session_event(event: StripeEvent, db: Database, gateway: StripeGateway) -> Plan:
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


Planner = Callable[[StripeEvent, Database, StripeGateway], Awaitable[Plan]]


def planner_for(event_type: str) -> Planner | None:
    if event_type in ACCOUNT_EVENT_TYPES:
        return plan_account_event
    if event_type in AUTHORIZATION_EVENT_TYPES:
        return plan_authorization_event
    if event_type in SETUP_INTENT_EVENT_TYPES:
        return plan_setup_intent_event
    if event_type == SESSION_EVENT_TYPE:
        return plan_session_event
    return None
