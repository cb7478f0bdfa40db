"""Accounts as their owners (and operators) see them, and the reads and imports that
bring Stripe's word in. Every write of account state goes through ``accounts.state``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from relink_api.accounts import counts, leases, listing, repository, state
from relink_api.accounts.listing import ListedAccount
from relink_api.accounts.models import AccountCounts, AccountFilter, AccountRow, Source
from relink_api.accounts.schemas import (
    AccountRead,
    AccountStatus,
    AuthorizationRead,
    LinkHealth,
)
from relink_api.accounts.state import Observation, Read
from relink_api.accounts.views import Shown, page_json, shown_as, to_read
from relink_api.auth import Principal
from relink_api.db import Connection, Database
from relink_api.errors import Conflict, NotFound
from relink_api.gateway.client import StripeGateway
from relink_api.pagination import Page, decode_cursor, fetch_page


async def load_owned(conn: Connection, *, principal: Principal, account_id: str) -> AccountRow:
    """The caller's account, or 404 — the same answer whether it is missing or another's."""
    row = await repository.get_owned(conn, account_id=account_id, customer_id=principal.customer_id)
    if row is None:
        raise NotFound(f"No account {account_id} for this customer.")
    return row


async def load_owned_with_siblings(
    conn: Connection, *, principal: Principal, account_id: str
) -> tuple[AccountRow, list[AccountRow]]:
    """The caller's account (or 404, as ``load_owned``) and the caller's accounts on its
    authorization (itself included; none without one), in id order: one read."""
    rows = await repository.owned_with_siblings(
        conn, account_id=account_id, customer_id=principal.customer_id
    )
    account = next((row for row in rows if row.id == account_id), None)
    if account is None:
        raise NotFound(f"No account {account_id} for this customer.")
    if account.authorization_id is None:
        return account, []
    return account, [row for row in rows if row.authorization_id == account.authorization_id]


async def find(db: Database, *, account_id: str, at: datetime | None = None) -> AccountRow | None:
    """Any customer's account (or one with no owner yet), its link health as of ``at``
    (now by default): for operators and background work."""
    async with db.connection() as conn:
        return await repository.get(conn, account_id=account_id, at=at)


async def on_authorization(
    conn: Connection, *, authorization_id: str, customer_id: str
) -> list[AccountRow]:
    """The customer's accounts on the authorization, in id order."""
    return await repository.list_on_authorization(
        conn, authorization_id=authorization_id, customer_id=customer_id
    )


async def ids_on_authorization(db: Database, *, authorization_id: str) -> list[str]:
    """Every stored account on the authorization, whoever owns it, in id order."""
    async with db.connection() as conn:
        return await repository.ids_on_authorization(conn, authorization_id=authorization_id)


async def stored_before(
    conn: Connection, *, customer_id: str, account_ids: Sequence[str], moment: datetime
) -> set[str]:
    """Which of ``account_ids`` were the customer's stored accounts before ``moment``."""
    return await repository.known_ids(
        conn, customer_id=customer_id, account_ids=account_ids, stored_before=moment
    )


async def lock(conn: Connection, *, account_id: str) -> None:
    """Hold the account's row lock until the caller's transaction ends, as every writer of
    its state does: what the caller writes about the account cannot race a snapshot."""
    await repository.get(conn, account_id=account_id, for_update=True)


async def expiring_by_number(
    db: Database, *, at: datetime, after_id: str | None, limit: int
) -> list[AccountRow]:
    """A page of the accounts that time alone made expiring at ``at`` (a tokenized account
    number within its warning window), in id order after ``after_id``."""
    async with db.connection() as conn:
        return await repository.expiring_by_number(conn, at=at, after_id=after_id, limit=limit)


async def payment_method_set_up(conn: Connection, *, account_id: str) -> None:
    """The account's replacement payment method exists: it no longer needs one."""
    await repository.payment_method_set_up(conn, account_id=account_id)


async def _listed(
    db: Database,
    *,
    model: type[AccountRead],
    matching: AccountFilter,
    cursor: str | None,
    limit: int,
) -> Page[ListedAccount]:
    async with db.connection() as conn:
        return await fetch_page(
            lambda after_id, count: listing.list_page(
                conn, model=model, matching=matching, after_id=after_id, limit=count
            ),
            cursor=cursor,
            limit=limit,
        )


async def page_of_accounts(
    db: Database,
    *,
    matching: AccountFilter,
    cursor: str | None,
    limit: int,
    model: type[Shown],
) -> Page[Shown]:
    """A page of the accounts that match, in id order, each as ``model`` shows it."""
    page = await _listed(db, model=model, matching=matching, cursor=cursor, limit=limit)
    return Page(shown_as(model, page.rows), page.has_more, page.next_cursor)


async def count_accounts(db: Database, *, at: datetime, weeks: int) -> AccountCounts:
    """Every account by link health and cause at ``at``, and the expiring ones by the week
    (of ``weeks`` from the one holding ``at``) they are expected to stop working in."""
    async with db.connection() as conn:
        # One snapshot for both counts, so the weekly figures never exceed `expiring`.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return AccountCounts(
                by_health_and_cause=await counts.by_health_and_cause(conn, at=at),
                deactivations_by_week=await counts.deactivations_by_week(conn, at=at, weeks=weeks),
            )


async def count_by_health(conn: Connection, *, at: datetime) -> dict[LinkHealth, int]:
    """Every stored account counted by its link health at ``at``, every health present."""
    by_health = dict.fromkeys(LinkHealth, 0)
    for row in await counts.by_health_and_cause(conn, at=at):
        by_health[row.health] += row.count
    return by_health


async def list_accounts(
    db: Database,
    *,
    principal: Principal,
    health: Sequence[LinkHealth] | None,
    cursor: str | None,
    limit: int,
) -> bytes:
    """A page of the caller's accounts, optionally only those with the given link health,
    as the JSON of an ``AccountList`` (the hottest read: no model is built on the way)."""
    matching = AccountFilter(customer_id=principal.customer_id, health=tuple(health or ()))
    after_id = decode_cursor(cursor)
    async with db.connection() as conn:
        page = await listing.page_text(
            conn, model=AccountRead, matching=matching, after_id=after_id, limit=limit
        )
    return page_json(page)


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
    fetched = await gateway.retrieve_account(account_id)
    async with db.transaction() as conn:
        applied = await state.apply(conn, Observation.read_now(fetched, Read(Source.refresh)))
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
    async with db.transaction() as conn:
        recorded = await state.record_authorization(
            conn, authorization, as_of=state.read_time(), owner_if_unnamed=principal.customer_id
        )
        accounts = await on_authorization(
            conn, authorization_id=authorization_id, customer_id=principal.customer_id
        )
    return AuthorizationRead(
        id=authorization.id,
        institution_id=authorization.institution,
        institution_name=authorization.institution_name,
        status=AccountStatus(authorization.status),
        action=recorded.action,
        expected_deactivation_at=recorded.expected_deactivation_at,
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
        origin = Read(Source.import_, owner_if_new=customer_id)
        async for fetched in gateway.list_customer_accounts(customer_id):
            async with db.transaction() as conn:
                applied = await state.apply(conn, Observation.read_now(fetched, origin))
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
    origin = Read(Source.import_, owner_if_new=customer_id)
    async with db.transaction() as conn:
        await state.apply(conn, Observation.read_now((account, raw), origin))
        if account.customer is None:
            await state.assign_owner(conn, account_id=account_id, customer_id=customer_id)
        row = await repository.get(conn, account_id=account_id)
    assert row is not None
    return to_read(row)


SyncDue = leases.Due
"""Which accounts a sync run re-reads (the classes and their order: ``accounts.leases``)."""


async def count_due_for_sync(db: Database, due: SyncDue) -> int:
    """How many accounts are due and free of any run's lease."""
    async with db.connection() as conn:
        return await leases.count_due(conn, due)


async def lease_due_for_sync(
    db: Database, due: SyncDue, *, lease_until: datetime, limit: int
) -> list[str]:
    """Lease up to ``limit`` due accounts until ``lease_until`` (none another run holds),
    those needing attention first, in the order they are due."""
    async with db.transaction() as conn:
        return await leases.claim_due(conn, due, lease_until=lease_until, limit=limit)


async def release_sync_lease(db: Database, *, account_id: str) -> None:
    """Hand an account's lease back, so that another run may re-read it at once."""
    async with db.transaction() as conn:
        await leases.release(conn, account_id=account_id)
