"""Account state: what Stripe says, what we store, and who may see it."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from relink_api.accounts import repository
from relink_api.accounts.repository import AccountRow, AccountState
from relink_api.accounts.schemas import (
    AccountList,
    AccountRead,
    AccountStatus,
    AuthorizationRead,
    LinkHealth,
)
from relink_api.auth import Principal
from relink_api.db import Connection, Database
from relink_api.errors import Conflict, NotFound
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.objects import FcAccount, from_unix
from relink_api.pagination import fetch_page


def read_time() -> datetime:
    """The Stripe-comparable time of a read made now.

    Stripe's event ``created`` has one-second resolution; flooring the read time means an
    event created in the same second as a read is still applied after it.
    """
    return datetime.fromtimestamp(math.floor(time.time()), tz=UTC)


def moves_owner(stored: AccountRow, account: FcAccount) -> bool:
    """Whether applying ``account`` would give the stored account another owner."""
    if stored.customer_id is None:
        return account.customer is not None
    return (
        stored.owner_source == "account_holder"
        and account.customer is not None
        and account.customer != stored.customer_id
    )


def state_from_snapshot(account: FcAccount, raw: dict[str, Any]) -> AccountState:
    return AccountState(
        authorization_id=account.authorization,
        institution_id=account.institution,
        institution_name=account.institution_name,
        display_name=account.display_name,
        last4=account.last4,
        category=account.category,
        subcategory=account.subcategory,
        status=account.status,
        action=account.action,
        cause=account.cause,
        expected_deactivation_at=account.expected_deactivation_at,
        account_number_expires_at=account.account_number_expires_at,
        permissions=list(account.permissions or []),
        account_holder=account.account_holder.model_dump() if account.account_holder else None,
        snapshot=raw,
    )


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


# Sources whose snapshot is a read made now, not a notification of something past.
_READ_SOURCES = frozenset({"refresh", "sync", "import", "relink"})


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


async def apply_snapshot(
    conn: Connection,
    *,
    account: FcAccount,
    raw: dict[str, Any],
    source: str,
    state_as_of: datetime,
    event_id: str | None = None,
    relink_session_id: str | None = None,
    owner_if_new: str | None = None,
    needs_payment_method: bool = False,
    replaces_account_id: str | None = None,
    ordered: bool = False,
    outage_started_at: datetime | None = None,
    owner_change: OwnerChange = "apply",
) -> AppliedSnapshot:
    """Store what Stripe says of an account and write a history row if its state moved.

    Runs inside the caller's transaction. The owner is Stripe's ``account_holder.customer``;
    an account Stripe holds without one keeps the owner an operator (or a relink) gave it.
    ``ordered`` (webhooks): a snapshot older than the stored state is not applied (the result
    is ``stale``), and one of the same second that disagrees raises ``ConflictingSnapshot``.
    ``outage_started_at``: when a new outage began, if earlier than ``state_as_of`` (an event
    whose account had to be re-read).
    ``owner_change``: whether the snapshot's account holder may move a stored account to
    another customer (see ``OwnerChange``).
    """
    state = state_from_snapshot(account, raw)
    confirmed = source in _READ_SOURCES
    outage_start = min(outage_started_at or state_as_of, state_as_of)
    before = await repository.get(conn, account_id=account.id, for_update=True)
    if before is None:
        customer = account.customer or owner_if_new
        # A holder-less account is owned by whoever the caller names (the customer whose
        # relink linked it); with nobody named it waits for an operator to assign it.
        owner_source = "relink" if account.customer is None and owner_if_new else "account_holder"
        inserted = await repository.insert(
            conn,
            account_id=account.id,
            customer_id=customer,
            owner_source=owner_source,
            state=state,
            state_as_of=state_as_of,
            inactive_since=outage_start if account.status == "inactive" else None,
            needs_payment_method=needs_payment_method,
            replaces_account_id=replaces_account_id,
            confirmed=confirmed,
        )
        if inserted is not None:
            result = AppliedSnapshot(before=None, after=inserted)
            await _record(conn, result, source, event_id, relink_session_id)
            return result
        # Inserted by a concurrent transaction since our read: lock it and update instead.
        before = await repository.get(conn, account_id=account.id, for_update=True)
        assert before is not None
    if ordered:
        if state_as_of < before.state_as_of:
            return AppliedSnapshot(before=before, after=before, stale=True)
        if state_as_of == before.state_as_of and (before.status, before.action) != (
            account.status,
            account.action,
        ):
            raise ConflictingSnapshot(account.id)
    if owner_change == "confirm" and moves_owner(before, account):
        raise OwnerChangeUnconfirmed(account.id)
    customer = before.customer_id
    if owner_change == "apply":
        if before.owner_source == "account_holder" and account.customer is not None:
            customer = account.customer
        elif customer is None:
            customer = account.customer or owner_if_new
    if account.status == "inactive":
        # The first deactivation time survives redelivery and later events of the outage.
        inactive_since = before.inactive_since if before.status == "inactive" else None
        inactive_since = inactive_since or outage_start
    else:
        inactive_since = None
    after = await repository.update_state(
        conn,
        account_id=account.id,
        customer_id=customer,
        state=state,
        state_as_of=state_as_of,
        inactive_since=inactive_since,
        confirmed=confirmed,
    )
    result = AppliedSnapshot(before=before, after=after)
    await _record(conn, result, source, event_id, relink_session_id)
    return result


async def _record(
    conn: Connection,
    result: AppliedSnapshot,
    source: str,
    event_id: str | None,
    relink_session_id: str | None,
) -> None:
    if result.changed:
        await repository.insert_history(
            conn,
            account_id=result.after.id,
            before=result.before,
            after=result.after,
            source=source,
            event_id=event_id,
            relink_session_id=relink_session_id,
        )


def to_read(row: AccountRow) -> AccountRead:
    return AccountRead(
        id=row.id,
        authorization_id=row.authorization_id,
        institution_id=row.institution_id,
        institution_name=row.institution_name,
        display_name=row.display_name,
        last4=row.last4,
        category=row.category,
        subcategory=row.subcategory,
        status=AccountStatus(row.status),
        action=row.action,
        cause=row.cause,
        link_health=LinkHealth(row.link_health),
        expected_deactivation_at=row.expected_deactivation_at,
        account_number_expires_at=row.account_number_expires_at,
        inactive_since=row.inactive_since,
        permissions=row.permissions,
        needs_new_payment_method=row.needs_payment_method,
        replaces_account_id=row.replaces_account_id,
        replacement_relink_session_id=row.replacement_relink_session_id,
        updated_at=row.updated_at,
    )


async def load_owned(conn: Connection, *, principal: Principal, account_id: str) -> AccountRow:
    """The caller's account, or 404 — the same answer whether it is missing or another's."""
    row = await repository.get_owned(conn, account_id=account_id, customer_id=principal.customer_id)
    if row is None:
        raise NotFound(f"No account {account_id} for this customer.")
    return row


async def payment_method_set_up(conn: Connection, *, account_id: str) -> None:
    """The account's replacement payment method exists: it no longer needs one."""
    await repository.payment_method_set_up(conn, account_id=account_id)


async def list_accounts(
    db: Database,
    *,
    principal: Principal,
    health: Sequence[LinkHealth] | None,
    cursor: str | None,
    limit: int,
) -> AccountList:
    """A page of the caller's accounts, optionally only those with the given link health."""
    async with db.connection() as conn:
        page = await fetch_page(
            lambda after_id, count: repository.list_owned(
                conn,
                customer_id=principal.customer_id,
                health=[value.value for value in health] if health else None,
                after_id=after_id,
                limit=count,
            ),
            cursor=cursor,
            limit=limit,
        )
    return AccountList(
        data=[to_read(row) for row in page.rows],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )


async def get_account(db: Database, *, principal: Principal, account_id: str) -> AccountRead:
    async with db.connection() as conn:
        return to_read(await load_owned(conn, principal=principal, account_id=account_id))


async def refresh_account(
    db: Database, gateway: StripeGateway, *, principal: Principal, account_id: str
) -> AccountRead:
    """Re-read the account from Stripe and record any transition (source ``refresh``)."""
    async with db.connection() as conn:
        await load_owned(conn, principal=principal, account_id=account_id)
    # No connection is held across the Stripe call.
    account, raw = await gateway.retrieve_account(account_id)
    async with db.transaction() as conn:
        applied = await apply_snapshot(
            conn, account=account, raw=raw, source="refresh", state_as_of=read_time()
        )
    if applied.after.customer_id != principal.customer_id:
        raise NotFound(f"No account {account_id} for this customer.")
    return to_read(applied.after)


async def get_authorization(
    db: Database, gateway: StripeGateway, *, principal: Principal, authorization_id: str
) -> AuthorizationRead:
    """The authorization as Stripe has it now, if one of the caller's accounts uses it."""
    not_found = NotFound(f"No authorization {authorization_id} for this customer.")
    async with db.connection() as conn:
        owned = await repository.customer_has_authorization(
            conn, authorization_id=authorization_id, customer_id=principal.customer_id
        )
    if not owned:
        raise not_found
    authorization = await gateway.retrieve_authorization(authorization_id)
    if authorization.customer is not None and authorization.customer != principal.customer_id:
        raise not_found
    details = authorization.status_details
    action: str | None = None
    expected: datetime | None = None
    if details is not None and authorization.status == "active" and details.active:
        action = details.active.action
        expected = from_unix(details.active.expected_deactivation_date)
    elif details is not None and authorization.status == "inactive" and details.inactive:
        action = details.inactive.action
    async with db.transaction() as conn:
        await repository.upsert_authorization(
            conn,
            authorization_id=authorization.id,
            customer_id=authorization.customer or principal.customer_id,
            institution_id=authorization.institution,
            institution_name=authorization.institution_name,
            status=authorization.status,
            action=action,
            expected_deactivation_at=expected,
            snapshot=authorization.model_dump(mode="json"),
            state_as_of=read_time(),
        )
        accounts = await repository.list_on_authorization(
            conn, authorization_id=authorization_id, customer_id=principal.customer_id
        )
    return AuthorizationRead(
        id=authorization.id,
        institution_id=authorization.institution,
        institution_name=authorization.institution_name,
        status=AccountStatus(authorization.status),
        action=action,
        expected_deactivation_at=expected,
        account_ids=[row.id for row in accounts],
    )


@dataclass(slots=True)
class ImportSummary:
    customers: int = 0
    accounts: int = 0
    changed: int = 0


async def import_customer_accounts(
    db: Database, gateway: StripeGateway, *, customer_ids: Sequence[str]
) -> ImportSummary:
    """Register every FC account Stripe holds for these customers (source ``import``)."""
    summary = ImportSummary()
    for customer_id in dict.fromkeys(customer_ids):
        summary.customers += 1
        async for account, raw in gateway.list_customer_accounts(customer_id):
            async with db.transaction() as conn:
                applied = await apply_snapshot(
                    conn,
                    account=account,
                    raw=raw,
                    source="import",
                    state_as_of=read_time(),
                    owner_if_new=customer_id,
                )
            summary.accounts += 1
            summary.changed += int(applied.changed)
    return summary


async def assign_account_owner(
    db: Database, gateway: StripeGateway, *, account_id: str, customer_id: str
) -> AccountRead:
    """Record the owner of an account Stripe holds without an account holder."""
    account, raw = await gateway.retrieve_account(account_id)
    if account.customer is not None and account.customer != customer_id:
        raise Conflict(
            f"Stripe says {account_id} belongs to {account.customer}; only accounts without "
            "an account holder can be assigned."
        )
    async with db.transaction() as conn:
        await apply_snapshot(
            conn,
            account=account,
            raw=raw,
            source="import",
            state_as_of=read_time(),
            owner_if_new=customer_id,
        )
        if account.customer is None:
            await repository.assign_owner(conn, account_id=account_id, customer_id=customer_id)
        row = await repository.get(conn, account_id=account_id)
    assert row is not None
    return to_read(row)
