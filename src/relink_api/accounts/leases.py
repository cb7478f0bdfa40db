"""SQL for sync leases on accounts: a run of `sync` leases the accounts it re-reads, so runs
never share one. Private to accounts; reconcile reaches it through the accounts service.

Which accounts are due, and in what order (migration 0014 indexes each class in its order):

1. attention: inactive, a status this code does not know, or Stripe's warning of a
   deactivation (``action = 'relink_required'`` on an active account);
2. tokenized account numbers expiring within 30 days, soonest first;
3. accounts with a relink in progress (a session still open, from the last 7 days);

each of these once not confirmed since ``attention_before``; then

4. every account not confirmed since ``healthy_before`` (a slower cycle: webhooks are
   trusted in between).

Within a class the oldest confirmation goes first; an account never confirmed by a read
(stored from a webhook) is due at once in every class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relink_api.db import Connection

# The expression migration 0014 indexes: never confirmed sorts (and is due) first.
_AGE = "COALESCE(confirmed_at, '-infinity'::timestamptz)"
# Free to lease: $1 the accounts the run keeps out, $2 the customers (NULL for all).
_FREE = """
    (sync_lease_until IS NULL OR sync_lease_until < now())
    AND NOT (id = ANY($1::text[]))
    AND ($2::text[] IS NULL OR customer_id = ANY($2))
"""
# The same window link health calls expiring (relink_link_health, migration 0009).
_EXPIRING = "account_number_expires_at <= now() + interval '30 days'"
# As long as unfinished relinks are settled (reconcile's SETTLE_HORIZON).
_RELINKING = """
    id IN (SELECT account_id FROM relink_sessions
           WHERE status = 'open' AND created_at > now() - interval '7 days')
"""
# The class predicates, each matching its index's WHERE clause (migration 0014).
_ATTENTION = "status <> 'disconnected' AND (status <> 'active' OR action = 'relink_required')"
_NUMBERS = f"status = 'active' AND account_number_expires_at IS NOT NULL AND {_EXPIRING}"
_CONNECTED = "status <> 'disconnected'"

# Each class, leased in this order, due before $3: ``attention_before`` for the first three,
# ``healthy_before`` for the last. (FOR UPDATE is not allowed in a UNION, so each class is
# leased by a statement of its own.)
_CLASSES = (
    (f"{_ATTENTION} AND {_AGE} < $3 ORDER BY {_AGE}, id", False),
    (f"{_NUMBERS} AND {_AGE} < $3 ORDER BY account_number_expires_at, id", False),
    (f"{_CONNECTED} AND {_RELINKING} AND {_AGE} < $3 ORDER BY {_AGE}, id", False),
    (f"{_CONNECTED} AND {_AGE} < $3 ORDER BY {_AGE}, id", True),
)
_ANY_DUE = f"""
    {_CONNECTED} AND {_FREE}
    AND ({_AGE} < $4
         OR ({_AGE} < $3 AND ({_ATTENTION} OR ({_NUMBERS}) OR {_RELINKING})))
"""


@dataclass(frozen=True, slots=True)
class Due:
    """Which accounts a run re-reads: of ``customer_ids`` (or all), those needing attention
    not confirmed since ``attention_before``, any not confirmed since ``healthy_before``,
    none of ``exclude``."""

    attention_before: datetime
    healthy_before: datetime
    customer_ids: Sequence[str] | None = None
    exclude: Sequence[str] = ()

    def args(self) -> tuple[Any, ...]:
        """$1 to $4 of ``_ANY_DUE``: the excluded, the customers and the two cutoffs."""
        customers = list(self.customer_ids) if self.customer_ids is not None else None
        return (list(self.exclude), customers, self.attention_before, self.healthy_before)


async def count_due(conn: Connection, due: Due) -> int:
    count = await conn.fetchval(f"SELECT count(*) FROM accounts WHERE {_ANY_DUE}", *due.args())
    return int(count or 0)


async def claim_due(conn: Connection, due: Due, *, lease_until: datetime, limit: int) -> list[str]:
    """Lease up to ``limit`` due accounts, those needing attention first; rows another run
    is claiming are skipped. Inside the caller's transaction."""
    claimed: list[str] = []
    exclude, customers, attention_before, healthy_before = due.args()
    for where, healthy in _CLASSES:
        if len(claimed) >= limit:
            break
        # An account leased by an earlier class is no longer free for a later one.
        records = await conn.fetch(
            f"""
            UPDATE accounts SET sync_lease_until = $5
            WHERE id IN (SELECT id FROM accounts WHERE {_FREE} AND {where}
                         LIMIT $4 FOR UPDATE SKIP LOCKED)
            RETURNING id
            """,
            exclude,
            customers,
            healthy_before if healthy else attention_before,
            limit - len(claimed),
            lease_until,
        )
        claimed += sorted(record["id"] for record in records)
    return claimed


async def release(conn: Connection, *, account_id: str) -> None:
    await conn.execute("UPDATE accounts SET sync_lease_until = NULL WHERE id = $1", account_id)
