"""SQL for sync leases on accounts: a run of `sync` leases the accounts it re-reads, so runs
never share one. Private to accounts; reconcile reaches it through the accounts service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from relink_api.db import Connection

_DUE = """
    status <> 'disconnected'
    AND ($1::text[] IS NULL OR customer_id = ANY($1))
    AND (confirmed_at IS NULL OR confirmed_at < $2)
    AND (sync_lease_until IS NULL OR sync_lease_until < now())
"""


async def count_due(
    conn: Connection, *, customer_ids: Sequence[str] | None, confirmed_before: datetime
) -> int:
    count = await conn.fetchval(
        f"SELECT count(*) FROM accounts WHERE {_DUE}",
        list(customer_ids) if customer_ids is not None else None,
        confirmed_before,
    )
    return int(count or 0)


async def claim_due(
    conn: Connection,
    *,
    customer_ids: Sequence[str] | None,
    confirmed_before: datetime,
    lease_until: datetime,
    exclude: Sequence[str],
    limit: int,
) -> list[str]:
    """Lease up to ``limit`` due accounts; rows another run is claiming are skipped."""
    records = await conn.fetch(
        f"""
        UPDATE accounts SET sync_lease_until = $3
        WHERE id IN (
            SELECT id FROM accounts
            WHERE {_DUE} AND NOT (id = ANY($4::text[]))
            ORDER BY confirmed_at NULLS FIRST, id
            LIMIT $5
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id
        """,
        list(customer_ids) if customer_ids is not None else None,
        confirmed_before,
        lease_until,
        list(exclude),
        limit,
    )
    return sorted(record["id"] for record in records)


async def release(conn: Connection, *, account_id: str) -> None:
    await conn.execute("UPDATE accounts SET sync_lease_until = NULL WHERE id = $1", account_id)
