"""Complete a relink: Stripe's verdict on the session, the accounts it touched read again,
and both recorded in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from relink_api.accounts import service as accounts_service
from relink_api.accounts import state
from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import AccountStatus, LinkHealth
from relink_api.accounts.state import Observation, RelinkRead
from relink_api.db import Database
from relink_api.gateway.client import StripeGateway
from relink_api.gateway.errors import StripeResourceMissing
from relink_api.gateway.fanout import gather_limited
from relink_api.gateway.objects import FcAccount, FcSession
from relink_api.metrics.families import RELINK_OUTCOMES
from relink_api.payments import usability as payment_usability
from relink_api.relink import events as relink_events
from relink_api.relink import repository
from relink_api.relink.classify import Reread, Verdict, classify, classify_accounts
from relink_api.relink.errors import RelinkSessionPending
from relink_api.relink.models import RelinkSessionRow
from relink_api.relink.schemas import (
    NextStep,
    RelinkOutcome,
    RelinkScope,
    RelinkSessionComplete,
    RelinkSessionStatus,
)

logger = logging.getLogger(__name__)

# Sibling re-reads after a relink fan out; stay well under Stripe's ~25 requests/s.
_SIBLING_READ_CONCURRENCY = 4
_NEEDED_REPAIR = frozenset({LinkHealth.relink_required, LinkHealth.expiring})

Fetched = tuple[FcAccount, dict[str, Any]]


async def complete(
    db: Database,
    gateway: StripeGateway,
    row: RelinkSessionRow,
    *,
    hint: RelinkSessionComplete | None,
) -> RelinkSessionRow:
    """Record what the customer did, as Stripe says it; a completed session is returned
    as it is."""
    if row.status is RelinkSessionStatus.completed:
        return row
    # Whatever the browser posted, the verdict comes from Stripe's copy, read server-side.
    stripe_session = await gateway.retrieve_session(row.stripe_session_id)
    decided, siblings = await _verdict(db, row, stripe_session)
    fetched: dict[str, Fetched] = {}
    if isinstance(decided, Reread):
        verdict, siblings, fetched = await _verdict_from_accounts(db, gateway, row, decided)
    else:
        verdict = decided
    _log_disagreement(row, hint, verdict)
    if verdict.outcome in (RelinkOutcome.relinked, RelinkOutcome.new_account):
        fetched = await _read_accounts(gateway, row, stripe_session, verdict, siblings, fetched)
    completed = await _record(db, row, stripe_session, verdict, fetched)
    if completed.reactivated_account_ids:
        # A relink that refreshed an account's tokenized numbers makes Stripe unblock its
        # payment method: read it now rather than leave it blocked until Stripe's event.
        await payment_usability.refresh_payment_methods(
            db, gateway, account_ids=completed.reactivated_account_ids
        )
    logger.info(
        "relink session %s completed: %s%s",
        completed.id,
        completed.outcome.value if completed.outcome else None,
        f" ({completed.failure_reason.value})" if completed.failure_reason else "",
    )
    return completed


async def _verdict(
    db: Database, row: RelinkSessionRow, stripe_session: FcSession
) -> tuple[Verdict | Reread, list[AccountRow]]:
    """Stripe's verdict on the session (or what must be read to reach one), and the
    customer's accounts on its authorization; ``RelinkSessionPending`` while Stripe has
    none."""
    linked_ids = [account.id for account in stripe_session.accounts.data]
    if stripe_session.relink_result and stripe_session.relink_result.account:
        linked_ids.append(stripe_session.relink_result.account)
    async with db.connection() as conn:
        # "Known" means known before the session began: Stripe's `account.created` webhook
        # may already have stored an account the customer has only just linked.
        known = await accounts_service.stored_before(
            conn, customer_id=row.customer_id, account_ids=linked_ids, moment=row.created_at
        )
        siblings = await accounts_service.on_authorization(
            conn, authorization_id=row.authorization_id, customer_id=row.customer_id
        )
    verdict = classify(
        stripe_session, scope=row.scope, asked_account_id=row.account_id, known_account_ids=known
    )
    if verdict is None:
        raise RelinkSessionPending(
            "Stripe still reports this session as pending; complete it after the customer "
            "finishes the flow."
        )
    named = stripe_session.relink_result.account if stripe_session.relink_result else None
    if row.scope is RelinkScope.account and named and named != row.account_id:
        logger.warning(
            "relink session %s: Stripe reports %s relinked, not %s as asked; recorded as "
            "failed (no_account)",
            row.id,
            named,
            row.account_id,
        )
    return verdict, siblings


async def _verdict_from_accounts(
    db: Database, gateway: StripeGateway, row: RelinkSessionRow, reread: Reread
) -> tuple[Verdict, list[AccountRow], dict[str, Fetched]]:
    """The verdict from the accounts the customer holds on the authorization Stripe says
    was repaired, read from Stripe now; with those accounts, and what was read."""
    async with db.connection() as conn:
        on_it = await accounts_service.on_authorization(
            conn, authorization_id=reread.authorization_id, customer_id=row.customer_id
        )
        known = await accounts_service.stored_before(
            conn,
            customer_id=row.customer_id,
            account_ids=[account.id for account in on_it],
            moment=row.created_at,
        )
    to_read = [account.id for account in on_it if account.status != AccountStatus.disconnected]
    reads = await gather_limited(
        to_read,
        lambda account_id: _read_or_skip(gateway, row, account_id),
        limit=_SIBLING_READ_CONCURRENCY,
    )
    fetched = {read[0].id: read for read in reads if read is not None}
    verdict = classify_accounts(
        [account for account, _raw in fetched.values()],
        scope=row.scope,
        asked_account_id=row.account_id,
        health_at_start=row.accounts_at_start,
        known_account_ids=known,
    )
    logger.info(
        "relink session %s: Stripe named no account; %d on %s re-read, verdict %s",
        row.id,
        len(fetched),
        reread.authorization_id,
        verdict.outcome.value,
    )
    return verdict, on_it, fetched


async def _read_or_skip(
    gateway: StripeGateway, row: RelinkSessionRow, account_id: str
) -> Fetched | None:
    """The account as Stripe has it now; ``None`` (and a warning) if Stripe no longer knows
    it, which must not block the customer's outcome."""
    try:
        return await gateway.retrieve_account(account_id)
    except StripeResourceMissing:
        logger.warning("relink %s: %s is gone from Stripe", row.id, account_id)
        return None


async def _read_accounts(
    gateway: StripeGateway,
    row: RelinkSessionRow,
    stripe_session: FcSession,
    verdict: Verdict,
    siblings: Sequence[AccountRow],
    already: dict[str, Fetched],
) -> dict[str, Fetched]:
    """Every account the relink may have changed, as Stripe has it now: those the session
    returned (or ``already`` read), and, since a repaired authorization can reactivate
    every account on it, the known ones it did not return, so the outcome can list them."""
    fetched = {
        account.id: (account, account.model_dump(mode="json"))
        for account in stripe_session.accounts.data
    }
    fetched.update(already)
    to_read = [account_id for account_id in verdict.linked_account_ids if account_id not in fetched]
    to_read += [
        sibling.id
        for sibling in siblings
        if sibling.id not in fetched
        and sibling.id not in to_read
        and sibling.status != AccountStatus.disconnected
    ]
    linked = set(verdict.linked_account_ids)

    async def read(account_id: str) -> Fetched | None:
        if account_id in linked:
            return await gateway.retrieve_account(account_id)
        return await _read_or_skip(gateway, row, account_id)

    for read_now in await gather_limited(to_read, read, limit=_SIBLING_READ_CONCURRENCY):
        if read_now is not None:
            fetched[read_now[0].id] = read_now
    return fetched


async def _record(
    db: Database,
    row: RelinkSessionRow,
    stripe_session: FcSession,
    verdict: Verdict,
    fetched: dict[str, Fetched],
) -> RelinkSessionRow:
    """Apply the accounts read and record the outcome, in one transaction; a session a
    concurrent call completed first is returned as that call left it."""
    stand_ins = _stand_ins(row, verdict)
    replacements = frozenset(verdict.new_account_ids) | stand_ins
    as_of = state.read_time()
    # Marks also an account stored earlier (by its `account.created` webhook, or a known
    # sibling standing in for an unrepairable account).
    observations = [
        Observation(
            account,
            raw,
            as_of,
            RelinkRead(
                row.id,
                row.customer_id,
                replaces_account_id=row.account_id if account.id in replacements else None,
            ),
        )
        for account, raw in fetched.values()
    ]
    async with db.transaction() as conn:
        locked = await repository.get_owned(
            conn, session_id=row.id, customer_id=row.customer_id, for_update=True
        )
        assert locked is not None
        if locked.status is RelinkSessionStatus.completed:
            return locked
        applied = await state.apply_all(conn, observations)
        health_now = {
            account_id: result.after.link_health for account_id, result in applied.items()
        }
        completed = await repository.complete(
            conn,
            session_id=row.id,
            outcome=verdict.outcome,
            failure_reason=verdict.failure_reason,
            next_step=NextStep.set_up_payment_method if stand_ins else verdict.next_step,
            linked_account_ids=verdict.linked_account_ids,
            reactivated_account_ids=_reactivated(row, health_now),
            stripe_status=stripe_session.status,
        )
        await relink_events.announce_completed(conn, completed)
    # Committed: counted once, by the call that recorded it (never on a re-read).
    RELINK_OUTCOMES.labels(completed.scope.value, verdict.outcome.value).inc()
    return completed


def _reactivated(row: RelinkSessionRow, health_now: dict[str, LinkHealth]) -> list[str]:
    """Accounts that needed repair when the session began and are healthy now: judged
    against the session's start, since webhooks may have reactivated some already."""
    return sorted(
        account_id
        for account_id, health in row.accounts_at_start.items()
        if health in _NEEDED_REPAIR and health_now.get(account_id) is LinkHealth.ok
    )


def _stand_ins(row: RelinkSessionRow, verdict: Verdict) -> frozenset[str]:
    """Known accounts linked in place of an unrepairable one (closed, say): like new
    accounts, they need a payment method, because the old one's cannot be repaired."""
    if (
        verdict.outcome is RelinkOutcome.relinked
        and row.accounts_at_start.get(row.account_id) is LinkHealth.unrepairable
    ):
        return frozenset(
            account_id for account_id in verdict.linked_account_ids if account_id != row.account_id
        )
    return frozenset()


def _log_disagreement(
    row: RelinkSessionRow, hint: RelinkSessionComplete | None, verdict: Verdict
) -> None:
    if hint is None or hint.financialConnectionsSession is None:
        return
    claimed = hint.financialConnectionsSession.get("relink_result") or {}
    claimed_reason = claimed.get("failure_reason") if isinstance(claimed, dict) else None
    actual_reason = verdict.failure_reason.value if verdict.failure_reason else None
    if claimed_reason != actual_reason:
        logger.warning(
            "relink session %s: the client reported failure_reason=%r, Stripe says %r; "
            "Stripe's answer is recorded",
            row.id,
            claimed_reason,
            actual_reason,
        )
