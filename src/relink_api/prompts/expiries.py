"""Links that time alone makes expiring: a tokenized account number entering its warning
window changes the link health with no snapshot from Stripe, so no transition announces it.
The reminder loop looks for them each round and announces each expiry once, as a
transition would: ``account.expiring`` and an expiring episode, whose reminders then count
down to the number's expiry."""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg

from relink_api.accounts import service as accounts_service
from relink_api.accounts.models import AccountRow
from relink_api.accounts.schemas import LinkHealth
from relink_api.db import Database
from relink_api.outbound import outbox
from relink_api.outbound.event_types import OutboundEventType
from relink_api.prompts import repository
from relink_api.prompts.payloads import account_event

logger = logging.getLogger(__name__)

_PAGE = 200


async def announce_expiring(db: Database, *, now: datetime) -> int:
    """Announce every expiry that time made due by ``now`` and nobody announced; how many."""
    announced = 0
    after_id: str | None = None
    while True:
        page = await accounts_service.expiring_by_number(db, at=now, after_id=after_id, limit=_PAGE)
        if not page:
            return announced
        after_id = page[-1].id
        expiring = [(row.id, _expected(row)) for row in page]
        async with db.connection() as conn:
            fresh = await repository.unannounced_expiries(conn, expiring=expiring)
        for row in page:
            if row.id in fresh and await _announce(db, row, now=now):
                announced += 1
        if len(page) < _PAGE:
            return announced


def _expected(row: AccountRow) -> datetime:
    assert row.account_number_expires_at is not None  # expiring_by_number selects these
    return row.account_number_expires_at


async def _announce(db: Database, row: AccountRow, *, now: datetime) -> bool:
    """Emit ``account.expiring`` and open the episode in one transaction, under the
    account's row lock; ``False`` if another loop (or a snapshot) got there first."""
    expected_at = _expected(row)
    try:
        async with db.transaction() as conn:
            await accounts_service.lock(conn, account_id=row.id)
            # Re-checked under the lock: the candidates were read before it.
            unannounced = await repository.unannounced_expiries(
                conn, expiring=[(row.id, expected_at)]
            )
            if not unannounced:
                return False
            event_id = await outbox.emit(
                conn,
                OutboundEventType.account_expiring,
                account_event(OutboundEventType.account_expiring, row, previous=LinkHealth.ok),
                at=now,
                account_id=row.id,
                customer_id=row.customer_id,
            )
            await repository.expiring(
                conn,
                repository.Transition(row.id, row.customer_id, row.cause, now, event_id),
                expected_at=expected_at,
            )
    except asyncpg.UniqueViolationError:
        # An open episode appeared meanwhile (its transaction held no lock we took).
        return False
    logger.info(
        "account %s: expiring (tokenized account number expires %s); announced",
        row.id,
        expected_at.isoformat(),
    )
    return True
