"""The one write path for account and authorization state.

Every snapshot of an account, whoever read or was sent it (a refresh, a sync, an import, a
relink, a webhook), is applied here: the stored state, its history row, the marks a relink
leaves on an account linked in place of another, and the order accounts are locked in. All
of it runs inside the caller's transaction.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from relink_api.accounts import notice_repository, repository
from relink_api.accounts.models import AccountRow, AccountState, OwnerSource, Replacement, Source
from relink_api.accounts.repository import Confirmation
from relink_api.accounts.schemas import AccountStatus
from relink_api.db import Connection
from relink_api.gateway.objects import (
    KNOWN_STATUSES,
    FcAccount,
    FcAuthorization,
    StripeEvent,
    from_unix,
)
from relink_api.prompts import transitions

logger = logging.getLogger(__name__)


def read_time() -> datetime:
    """The Stripe-comparable time of a read made now.

    Stripe's event ``created`` has one-second resolution; flooring the read time means an
    event created in the same second as a read is still applied after it.
    """
    return datetime.fromtimestamp(math.floor(time.time()), tz=UTC)


class ConflictingSnapshot(Exception):
    """A snapshot as old as the stored state that disagrees with it: only a fresh read from
    Stripe can say which is right."""


class OwnerChangeUnconfirmed(ConflictingSnapshot):
    """A notification (not a read) that would give a stored account another owner: a
    signature proves Stripe sent it, not that its account holder is still current (a
    replayed or reordered delivery), so only Stripe's copy may move an account."""


# What a snapshot may do to a stored account's owner: ``apply`` Stripe's account holder (a
# read from Stripe), ``confirm`` it first (raise ``OwnerChangeUnconfirmed``: a webhook's
# payload), or ``keep`` the stored owner (a payload Stripe can no longer confirm).
OwnerChange = Literal["apply", "confirm", "keep"]


@dataclass(frozen=True, slots=True)
class Read:
    """A read from Stripe made now: current whatever is stored, so it confirms the account
    and its account holder names the owner. ``owner_if_new`` owns an account Stripe holds
    without an account holder, if it is not stored yet."""

    source: Literal[Source.refresh, Source.sync, Source.import_]
    owner_if_new: str | None = None


@dataclass(frozen=True, slots=True)
class RelinkRead:
    """A read made to complete ``customer_id``'s relink session ``session_id``.
    ``replaces_account_id``: the account was linked in place of that one, so it needs a new
    payment method, set up through this session."""

    session_id: str
    customer_id: str
    replaces_account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """What webhook event ``event_id`` says. ``ordered``: the event's own payload, not
    applied over newer stored state, and conflicting with stored state of the same second
    (``ConflictingSnapshot``); a re-read the event prompted is not ordered, and an outage it
    reports began at ``outage_started_at``, the event's time. Never confirms the account:
    only a read does."""

    event_id: str
    ordered: bool
    owner_change: OwnerChange = "apply"
    outage_started_at: datetime | None = None


Origin = Read | RelinkRead | Notice


@dataclass(frozen=True, slots=True)
class Observation:
    """What Stripe said of one account (``raw``: as Stripe sent it), the Stripe time it
    describes, and who reported it, which decides how it is applied."""

    account: FcAccount
    raw: dict[str, Any]
    as_of: datetime
    origin: Origin

    @classmethod
    def read_now(cls, fetched: tuple[FcAccount, dict[str, Any]], origin: Origin) -> Observation:
        """An account just read from Stripe."""
        account, raw = fetched
        return cls(account, raw, read_time(), origin)


@dataclass(frozen=True, slots=True)
class AppliedSnapshot:
    before: AccountRow | None
    after: AccountRow
    stale: bool = False

    @property
    def changed(self) -> bool:
        before = self.before
        return before is None or (
            before.status,
            before.action,
            before.cause,
            before.link_health,
        ) != (
            self.after.status,
            self.after.action,
            self.after.cause,
            self.after.link_health,
        )


def _source(origin: Origin) -> Source:
    match origin:
        case Read(source=source):
            return source
        case RelinkRead():
            return Source.relink
        case Notice():
            return Source.webhook


def _owner_if_new(origin: Origin) -> str | None:
    match origin:
        case Read(owner_if_new=owner):
            return owner
        case RelinkRead(customer_id=customer_id):
            return customer_id
        case Notice():
            return None


def _replacement(origin: Origin, customer_id: str | None) -> Replacement | None:
    """The marks an account gets, if the relink that linked it in place of another is its
    owner's (an account holder naming another customer keeps the account unmarked)."""
    if (
        isinstance(origin, RelinkRead)
        and origin.replaces_account_id is not None
        and customer_id == origin.customer_id
    ):
        return Replacement(origin.replaces_account_id, origin.session_id)
    return None


def _moves_owner(stored: AccountRow, account: FcAccount) -> bool:
    """Whether applying ``account`` would give the stored account another owner."""
    if stored.customer_id is None:
        return account.customer is not None
    return (
        stored.owner_source is OwnerSource.account_holder
        and account.customer is not None
        and account.customer != stored.customer_id
    )


def _new_owner(stored: AccountRow, account: FcAccount, origin: Origin) -> str | None:
    owner_change = origin.owner_change if isinstance(origin, Notice) else "apply"
    if owner_change == "confirm" and _moves_owner(stored, account):
        raise OwnerChangeUnconfirmed(account.id)
    customer = stored.customer_id
    if owner_change == "apply":
        if stored.owner_source is OwnerSource.account_holder and account.customer is not None:
            customer = account.customer
        elif customer is None:
            customer = account.customer or _owner_if_new(origin)
    return customer


def _reporter(origin: Origin) -> str:
    match origin:
        case Read(source=source):
            return f"{source.value} read"
        case RelinkRead(session_id=session_id):
            return f"relink session {session_id}"
        case Notice(event_id=event_id):
            return f"event {event_id}"


def _confirmation(account: FcAccount, origin: Origin) -> Confirmation:
    """What the snapshot does to the account's last confirmation: a read confirms it, a
    notice leaves it; a status this code does not know makes the account due for a re-read
    by the next sync, whoever reported it, until Stripe reports a status it knows."""
    if account.status not in KNOWN_STATUSES:
        # An alert for a person: the account is stored and shown as `unknown`, but what the
        # new status means for its link needs a relink-api that knows it.
        logger.warning(
            "account %s: Stripe reports status %r, unknown to this version of relink-api "
            "(%s); stored as sent, shown as unknown, due for a re-read",
            account.id,
            account.status,
            _reporter(origin),
        )
        return "due"
    return "unchanged" if isinstance(origin, Notice) else "confirmed"


def _outage_start(observation: Observation) -> datetime:
    origin = observation.origin
    started = origin.outage_started_at if isinstance(origin, Notice) else None
    return min(started or observation.as_of, observation.as_of)


async def apply(conn: Connection, observation: Observation) -> AppliedSnapshot:
    """Store what Stripe says of an account and write a history row if its state moved.

    The owner is Stripe's ``account_holder.customer``; an account Stripe holds without one
    keeps the owner an operator (or a relink) gave it. See ``Read``, ``RelinkRead`` and
    ``Notice`` for what each origin may change.
    """
    account, origin = observation.account, observation.origin
    state = AccountState.reported(account, observation.raw)
    before = await repository.get(conn, account_id=account.id, for_update=True)
    if before is None:
        customer = account.customer or _owner_if_new(origin)
        # A holder-less account is owned by whoever the caller names (the customer whose
        # relink linked it); with nobody named it waits for an operator to assign it.
        named = account.customer is None and customer is not None
        inserted = await repository.insert(
            conn,
            account_id=account.id,
            customer_id=customer,
            owner_source=OwnerSource.relink if named else OwnerSource.account_holder,
            state=state,
            state_as_of=observation.as_of,
            inactive_since=(
                _outage_start(observation) if state.status == AccountStatus.inactive else None
            ),
            replacement=_replacement(origin, customer),
            confirmation=_confirmation(account, origin),
        )
        if inserted is not None:
            return await _recorded(conn, origin, AppliedSnapshot(before=None, after=inserted))
        # Inserted by a concurrent transaction since our read: lock it and update instead.
        before = await repository.get(conn, account_id=account.id, for_update=True)
        assert before is not None
    if isinstance(origin, Notice) and origin.ordered:
        if observation.as_of < before.state_as_of:
            return AppliedSnapshot(before=before, after=before, stale=True)
        if observation.as_of == before.state_as_of and (before.status, before.action) != (
            state.status,
            state.action,
        ):
            raise ConflictingSnapshot(account.id)
    customer = _new_owner(before, account, origin)
    inactive_since = None
    if state.status == AccountStatus.inactive:
        # The first deactivation time survives redelivery and later events of the outage.
        if before.status == AccountStatus.inactive:
            inactive_since = before.inactive_since
        inactive_since = inactive_since or _outage_start(observation)
    after = await repository.update_state(
        conn,
        account_id=account.id,
        customer_id=customer,
        state=state,
        state_as_of=observation.as_of,
        inactive_since=inactive_since,
        replacement=_replacement(origin, customer),
        confirmation=_confirmation(account, origin),
    )
    return await _recorded(conn, origin, AppliedSnapshot(before=before, after=after))


async def apply_all(
    conn: Connection, observations: Iterable[Observation]
) -> dict[str, AppliedSnapshot]:
    """Apply several accounts' snapshots in one transaction, by account id."""
    applied: dict[str, AppliedSnapshot] = {}
    # Every writer of several accounts locks them in id order: no two can deadlock.
    for observation in sorted(observations, key=lambda observation: observation.account.id):
        applied[observation.account.id] = await apply(conn, observation)
    return applied


def at_once_event(
    observation: Observation, event: StripeEvent, payload: dict[str, Any]
) -> notice_repository.AccountEvent | None:
    """What ``apply_at_once`` or a batch (``at_once_batch``) sends for ``event`` when ``apply``
    would do nothing SQL cannot (migration 0015 says which); ``None``: ``apply`` it."""
    account = observation.account
    if observation.origin != Notice(event.id, ordered=True, owner_change="confirm") or (
        observation.as_of != event.created_at or account.status not in KNOWN_STATUSES
    ):
        return None  # an unknown status is logged, and made due, by apply
    return notice_repository.account_event(event, payload, account, observation.raw)


async def apply_at_once(
    conn: Connection, observation: Observation, event: StripeEvent, payload: dict[str, Any]
) -> notice_repository.Outcome | None:
    """Record ``event`` and apply its ``payload``'s snapshot in one statement, outside any
    transaction (see ``at_once_event``); ``None``: nothing was written, ``apply`` it."""
    element = at_once_event(observation, event, payload)
    return None if element is None else await notice_repository.apply_event(conn, element)


async def _recorded(conn: Connection, origin: Origin, result: AppliedSnapshot) -> AppliedSnapshot:
    if result.changed:
        await repository.insert_history(
            conn,
            before=result.before,
            after=result.after,
            source=_source(origin),
            event_id=origin.event_id if isinstance(origin, Notice) else None,
            relink_session_id=origin.session_id if isinstance(origin, RelinkRead) else None,
        )
    # Account events and link episodes (the prompts feature), in this same transaction.
    await transitions.on_applied(conn, result, origin if isinstance(origin, RelinkRead) else None)
    return result


async def assign_owner(conn: Connection, *, account_id: str, customer_id: str) -> None:
    """An operator names the owner of an account Stripe holds without an account holder."""
    await repository.assign_owner(conn, account_id=account_id, customer_id=customer_id)


@dataclass(frozen=True, slots=True)
class AuthorizationState:
    """What an authorization's status details say: the action they ask for, and when an
    active authorization is expected to stop working."""

    action: str | None
    expected_deactivation_at: datetime | None


def authorization_state(authorization: FcAuthorization) -> AuthorizationState:
    """The details of the branch matching the status (an active authorization's warning is
    never read from its ``inactive`` branch, nor the reverse)."""
    details = authorization.status_details
    if details is not None and authorization.status == "active" and details.active:
        return AuthorizationState(
            details.active.action, from_unix(details.active.expected_deactivation_date)
        )
    if details is not None and authorization.status == "inactive" and details.inactive:
        return AuthorizationState(details.inactive.action, None)
    return AuthorizationState(None, None)


async def record_authorization(
    conn: Connection,
    authorization: FcAuthorization,
    *,
    as_of: datetime,
    owner_if_unnamed: str | None = None,
    event_id: str | None = None,
) -> AuthorizationState:
    """Store what Stripe says of an authorization (as event ``event_id`` says it, or as
    read now), unless newer state is stored. Its owner is its account holder's customer,
    else ``owner_if_unnamed``. A status this code does not know is stored as sent."""
    if authorization.status not in KNOWN_STATUSES:
        # Authorizations have no sync of their own: their accounts are re-read (the event
        # handlers do), and a person hears of the new value here.
        logger.warning(
            "authorization %s: Stripe reports status %r, unknown to this version of "
            "relink-api%s; stored as sent, shown as unknown",
            authorization.id,
            authorization.status,
            f" (event {event_id})" if event_id else "",
        )
    state = authorization_state(authorization)
    await repository.upsert_authorization(
        conn,
        authorization_id=authorization.id,
        customer_id=authorization.customer or owner_if_unnamed,
        institution_id=authorization.institution,
        institution_name=authorization.institution_name,
        status=authorization.status,
        action=state.action,
        expected_deactivation_at=state.expected_deactivation_at,
        snapshot=authorization.model_dump(mode="json"),
        state_as_of=as_of,
    )
    return state
