"""Re-read accounts (and the payment methods drawing on them) from Stripe and apply what
changed (history source ``sync``), and settle relinks and payment setups that were left
unfinished."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from relink_api.accounts import service as accounts_service
from relink_api.accounts import state
from relink_api.accounts.models import Source
from relink_api.accounts.state import Observation, Read
from relink_api.db import Database
from relink_api.db.pool import DatabaseUnavailable
from relink_api.db.window import CreatedWindow
from relink_api.errors import ProblemError
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.objects import KNOWN_STATUSES
from relink_api.payments import service as payments_service
from relink_api.payments import usability
from relink_api.payments.schemas import SetupStatus
from relink_api.relink import service as relink_service

logger = logging.getLogger(__name__)

_BATCH_SIZE = 50
# Longer than one account can take (timeout times retries), so a lease never lapses mid-read.
_LEASE = timedelta(minutes=5)
_SYNC = Read(Source.sync)


# Unfinished work younger than this is probably still in the customer's hands; older than
# the horizon it is abandoned (Stripe's sessions have long expired) and not worth a read.
SETTLE_AFTER = timedelta(minutes=10)
SETTLE_HORIZON = timedelta(days=7)
_SETTLE_LIMIT = 500


@dataclass(slots=True)
class SyncSummary:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    # Why the run stopped before the end (the database went away), for a person.
    stopped: str | None = None


@dataclass(slots=True)
class SettleSummary:
    sessions: int = 0
    setups: int = 0
    # SetupIntents superseded here that are now canceled at Stripe too.
    canceled: int = 0
    failed: int = 0


async def _settle_session(db: Database, gateway: StripeGateway, stripe_session_id: str) -> bool:
    completed = await relink_service.complete_for_stripe_session(
        db, gateway, stripe_session_id=stripe_session_id
    )
    return completed is not None


async def _settle_setup(db: Database, gateway: StripeGateway, setup_intent_id: str) -> bool:
    recorded = await payments_service.refresh_setup(db, gateway, setup_intent_id=setup_intent_id)
    return recorded is not None and SetupStatus(recorded.status) is not SetupStatus.pending


@dataclass(frozen=True, slots=True)
class _Unfinished:
    """One kind of work a customer can leave unfinished: which feature lists it, and how
    one is settled (whether Stripe had an outcome to record)."""

    name: str
    listed: Callable[[Database, CreatedWindow], Awaitable[list[str]]]
    settle: Callable[[Database, StripeGateway, str], Awaitable[bool]]


_SESSIONS = _Unfinished("session", relink_service.unfinished_sessions, _settle_session)
_SETUPS = _Unfinished("SetupIntent", payments_service.pending_setups, _settle_setup)
_SUPERSEDED = _Unfinished(
    "superseded SetupIntent", payments_service.superseded_setups, payments_service.cancel_at_stripe
)


async def settle_unfinished(
    db: Database,
    gateway: StripeGateway,
    *,
    customer_ids: Sequence[str] | None = None,
    settle_after: timedelta = SETTLE_AFTER,
    now: datetime | None = None,
) -> SettleSummary:
    """Record what Stripe says of relink sessions and SetupIntents that nobody finished: a
    customer who closed the hosted page before /relink/return, an app killed before it called
    `complete`, a webhook endpoint that was down. Each is read once; completing is idempotent
    and guarded in the database, so this is safe beside the server and other runs. The
    caller paces ``gateway`` (``StripeGateway.paced``) for the whole run."""
    moment = now or datetime.now(tz=UTC)
    kinds = (_SESSIONS, _SETUPS, _SUPERSEDED)
    window = CreatedWindow(
        created_before=moment - settle_after,
        created_after=moment - SETTLE_HORIZON,
        customer_ids=customer_ids,
        limit=_SETTLE_LIMIT,
    )
    found = [await kind.listed(db, window) for kind in kinds]
    settled = {kind.name: 0 for kind in kinds}
    failed = 0
    for kind, object_ids in zip(kinds, found, strict=True):
        for object_id in object_ids:
            try:
                settled[kind.name] += int(await kind.settle(db, gateway, object_id))
            except ProblemError as exc:
                failed += 1
                logger.warning("settle: %s %s failed: %s", kind.name, object_id, exc.detail)
    return SettleSummary(
        sessions=settled[_SESSIONS.name],
        setups=settled[_SETUPS.name],
        canceled=settled[_SUPERSEDED.name],
        failed=failed,
    )


def _due(
    *,
    customer_ids: Sequence[str] | None,
    stale_after: timedelta,
    healthy_stale_after: timedelta | None,
    exclude: Sequence[str] = (),
) -> accounts_service.SyncDue:
    now = datetime.now(tz=UTC)
    return accounts_service.SyncDue(
        attention_before=now - stale_after,
        healthy_before=now - (stale_after if healthy_stale_after is None else healthy_stale_after),
        customer_ids=customer_ids,
        exclude=exclude,
    )


async def count_due(
    db: Database,
    *,
    customer_ids: Sequence[str] | None,
    stale_after: timedelta,
    healthy_stale_after: timedelta | None = None,
) -> int:
    """How many accounts a run with these options would check now."""
    return await accounts_service.count_due_for_sync(
        db,
        _due(
            customer_ids=customer_ids,
            stale_after=stale_after,
            healthy_stale_after=healthy_stale_after,
        ),
    )


async def sync_accounts(
    db: Database,
    gateway: StripeGateway,
    *,
    customer_ids: Sequence[str] | None = None,
    stale_after: timedelta,
    healthy_stale_after: timedelta | None = None,
    concurrency: int,
    on_progress: Callable[[int], None] | None = None,
) -> SyncSummary:
    """Re-read every due account once: those of ``customer_ids`` (or all) needing attention
    (broken, expiring, relinking) not confirmed within ``stale_after``, and any not
    confirmed within ``healthy_stale_after`` (``stale_after`` when ``None``), those needing
    attention first. Safe beside the server and other runs: each account is leased by one
    run at a time. The caller paces ``gateway`` (``StripeGateway.paced``) for the whole run.

    Losing the database ends the run early with ``stopped`` saying so; accounts it had
    leased are freed when their leases lapse."""
    summary = SyncSummary()
    due = _due(
        customer_ids=customer_ids, stale_after=stale_after, healthy_stale_after=healthy_stale_after
    )
    # Accounts this run read that are still due (a failure, a status this code does not
    # know): kept out of its later leases, so that it reads each account once. Every other
    # read confirms its account, which is then no longer due.
    kept_out: list[str] = []
    # As many waiting as are being read: the next lease is taken while the last accounts
    # of the one before are still in flight, so the pace never waits on the database.
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=concurrency)

    async def one(account_id: str) -> None:
        try:
            fetched = await gateway.retrieve_account(account_id)
            if fetched[0].status not in KNOWN_STATUSES:
                kept_out.append(account_id)
            async with db.transaction() as conn:
                applied = await state.apply(conn, Observation.read_now(fetched, _SYNC))
            summary.changed += int(applied.changed)
            # Whether its payment methods can be charged is Stripe's word on each of them,
            # not the account's: re-read those too (no call for an account with none).
            methods = await usability.refresh_payment_methods(db, gateway, account_ids=[account_id])
            summary.failed += len(methods.failed)
        except Exception as exc:
            # One account's failure (Stripe, or anything unexpected) must not end the run;
            # its lease is handed back so a later run can try again. A cancelled run leaves
            # its leases to lapse (after _LEASE).
            summary.failed += 1
            kept_out.append(account_id)
            if isinstance(exc, ProblemError):
                logger.warning("sync: %s failed: %s", account_id, exc.detail)
            else:
                logger.exception("sync: %s failed", account_id)
            try:
                await accounts_service.release_sync_lease(db, account_id=account_id)
            except DatabaseUnavailable:
                # The database that failed the account cannot take the lease back either;
                # it lapses after _LEASE.
                logger.warning("sync: could not release %s: database unavailable", account_id)
        finally:
            summary.checked += 1
            if on_progress is not None:
                on_progress(1)

    async def read() -> None:
        while (account_id := await queue.get()) is not None:
            await one(account_id)

    async def lease() -> None:
        try:
            while True:
                try:
                    batch = await accounts_service.lease_due_for_sync(
                        db,
                        replace(due, exclude=kept_out),
                        lease_until=datetime.now(tz=UTC) + _LEASE,
                        limit=_BATCH_SIZE,
                    )
                except DatabaseUnavailable as exc:
                    summary.stopped = exc.detail
                    return
                if not batch:
                    return
                for account_id in batch:
                    await queue.put(account_id)
        finally:
            for _ in range(concurrency):
                await queue.put(None)

    await asyncio.gather(lease(), *(read() for _ in range(concurrency)))
    return summary
